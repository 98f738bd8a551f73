"""Attestations: build one from a decided instance, and check one from the committee file alone.

    verify_attestation(result, committee)   # raises CertificateError naming the first failed check

An attestation is the outcome, the observations that justify it and a commit certificate: >= 2f+1 COMMIT signatures
by distinct current members over (domain, COMMIT, committee id, view, sequence, job id, H(outcome), signer). The
checks, in order: the committee, the job id (hash of the spec), the outcome digest, the revealed result against its
hash, the observations (signatures, distinct members, 2f+1 of them, the median or the unresolvability proof, every
knowledge proof against the revealed result), then the certificate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qcl.events import OracleJobSpec, OracleObservation, OracleResult, OracleSignature
from qcl.oracle.canonical import canonical_json, digest_of, proof_for, sha256_hex
from qcl.oracle.committee import Committee
from qcl.oracle.crypto import signed_bytes
from qcl.oracle.errors import CertificateError
from qcl.oracle.messages import Message, MsgType
from qcl.oracle.proposals import UNRESOLVABLE, Proposal, check_proposal, exact_outcome, numeric_outcome


def observation_record(msg: Message, committee: Committee) -> OracleObservation:
    body = msg.body or {}
    value = body.get("value")
    return OracleObservation(
        node_id=committee.node_id(msg.sender),
        value=float(value) if value is not None else None,
        result_digest=body.get("result_digest"),
        proof=body.get("proof"),
        signature=msg.signature,
    )


def observation_message(record: OracleObservation, result: OracleResult, committee: Committee) -> Message:
    """The OBSERVE message an observation record stands for (what its signature covers)."""
    sender = committee.index_of(record.node_id)
    if sender is None:
        raise CertificateError(
            f"observation by {record.node_id!r}, who is not a member of committee {committee.committee_id[:16]}…"
        )
    body: dict[str, Any] = (
        {"value": record.value}
        if result.kind == "numeric"
        else {"result_digest": record.result_digest, "proof": record.proof}
    )
    return Message(
        type=MsgType.OBSERVE,
        committee_id=result.committee_id,
        view=0,
        seq=result.sequence,
        job_id=result.job_id,
        digest=digest_of(body),
        sender=sender,
        body=body,
        signature=record.signature,
    )


def outcome_of(result: OracleResult) -> dict[str, Any]:
    if result.status == "unresolvable":
        return dict(UNRESOLVABLE)
    if result.kind == "exact":
        return exact_outcome(result.result_digest or "")
    if not isinstance(result.result, int | float) or isinstance(result.result, bool):
        raise CertificateError(f"a numeric result must be a number, got {type(result.result).__name__}")
    return numeric_outcome(float(result.result))


def build_attestation(
    *,
    committee: Committee,
    spec: OracleJobSpec,
    job_id: str,
    seq: int,
    view: int,
    proposal: Proposal,
    commits: Sequence[Message],
    result: Any,
) -> OracleResult:
    """The attestation of a decided job: `commits` are COMMIT messages for H(outcome) in `view`."""
    unresolvable = proposal.outcome == UNRESOLVABLE
    return OracleResult(
        job_id=job_id,
        sequence=seq,
        view=view,
        committee_id=committee.committee_id,
        kind=spec.kind,
        spec=spec,
        status="unresolvable" if unresolvable else "committed",
        result=None if unresolvable else result,
        result_digest=proposal.outcome.get("result_digest"),
        digest=proposal.digest,
        observations=[observation_record(m, committee) for m in proposal.observations],
        certificate=[
            OracleSignature(node_id=committee.node_id(c.sender), signature=c.signature)
            for c in sorted(commits, key=lambda c: c.sender)
        ],
    )


def verify_attestation(result: OracleResult, committee: Committee) -> None:
    """Raise CertificateError unless `result` is a valid attestation of this committee."""
    if result.committee_id != committee.committee_id:
        raise CertificateError(
            f"attestation names committee {result.committee_id[:16]}…, "
            f"the committee file is {committee.committee_id[:16]}…"
        )
    if result.job_id != digest_of(result.spec.model_dump(mode="json")):
        raise CertificateError("job id is not the hash of the job spec")
    if result.kind != result.spec.kind:
        raise CertificateError(f"attestation kind {result.kind} differs from the spec's {result.spec.kind}")
    outcome = outcome_of(result)
    if result.digest != digest_of(outcome):
        raise CertificateError("digest is not the hash of the outcome (result changed?)")
    result_bytes: bytes | None = None
    if result.status == "committed" and result.kind == "exact":
        result_bytes = canonical_json(result.result)
        if sha256_hex(result_bytes) != result.result_digest:
            raise CertificateError("result does not hash to result_digest (result changed?)")
    if result.status == "unresolvable" and result.result is not None:
        raise CertificateError("an unresolvable attestation carries no result")
    messages = [observation_message(o, result, committee) for o in result.observations]
    problem = check_proposal(
        Proposal(outcome, tuple(messages)),
        committee,
        kind=result.kind,
        seq=result.sequence,
        job_id=result.job_id,
        tolerance=result.spec.tolerance or 0.0,
    )
    if problem:
        raise CertificateError(f"observations: {problem}")
    if result_bytes is not None:
        for record in result.observations:
            if record.proof != proof_for(result_bytes, record.node_id):
                raise CertificateError(f"knowledge proof of {record.node_id} does not match the revealed result")
    _verify_certificate(result, committee)


def _verify_certificate(result: OracleResult, committee: Committee) -> None:
    signers: set[str] = set()
    for entry in result.certificate:
        index = committee.index_of(entry.node_id)
        if index is None:
            raise CertificateError(f"certificate signer {entry.node_id!r} is not a member of the committee")
        if entry.node_id in signers:
            raise CertificateError(f"certificate lists signer {entry.node_id} twice")
        signers.add(entry.node_id)
        vote = signed_bytes(
            MsgType.COMMIT.value, result.committee_id, result.view, result.sequence, result.job_id, result.digest, index
        )
        if not committee.verify(index, vote, entry.signature):
            raise CertificateError(
                f"signature of {entry.node_id} does not verify over COMMIT (view {result.view}, sequence "
                f"{result.sequence}, job {result.job_id[:16]}…)"
            )
    if len(signers) < committee.quorum:
        raise CertificateError(
            f"certificate has {len(signers)} distinct signatures; the committee needs {committee.quorum}"
        )

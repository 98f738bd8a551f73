"""Accountability evidence: only what signed messages prove, so anyone holding the committee file can re-check it.

    equivocation          two valid signatures by one member on conflicting messages for one slot
    deviation             a signed observation that disagrees with a certified result (beyond the tolerance)
    bad-knowledge-proof   a signed commitment to the certified result hash whose H(result ‖ id) is wrong: a copier
    downtime              no vote at all for a certified job (an absence: recorded, never signed)

A message whose signature fails proves nothing about the member it names, so it never becomes evidence against
that member (otherwise forging would be a framing attack); the transport peer it came from is noted instead.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from qcl.events import OracleResult
from qcl.oracle.attestation import verify_attestation
from qcl.oracle.canonical import canonical_json, proof_for
from qcl.oracle.committee import Committee
from qcl.oracle.errors import CertificateError, EvidenceError
from qcl.oracle.messages import Message, MsgType, parse_message, verify_message
from qcl.oracle.proposals import observation_digest, observation_value

EvidenceKind = Literal["equivocation", "deviation", "bad-knowledge-proof", "downtime"]

# A COMMIT binds its signer to one outcome for the whole job, across views (honest members lock on what they
# commit), so two COMMITs with different digests conflict even in different views. Other types conflict per view.
_ACROSS_VIEWS = frozenset({MsgType.COMMIT, MsgType.OBSERVE})


class Evidence(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: EvidenceKind
    node_id: str
    seq: int
    job_id: str
    messages: list[dict[str, Any]] = []  # the signed messages, as sent
    attestation: OracleResult | None = None  # deviation / bad proof: the certified result it contradicts

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.kind, self.node_id, self.seq)


def conflicting(a: Message, b: Message) -> bool:
    """Two messages one honest member would never both sign."""
    if a.sender != b.sender or a.type != b.type or a.seq != b.seq or a.type in (MsgType.REQUEST, MsgType.DECISION):
        return False
    if a.type not in _ACROSS_VIEWS and a.view != b.view:
        return False
    return (a.job_id, a.digest) != (b.job_id, b.digest)


def equivocation(a: Message, b: Message, committee: Committee) -> Evidence:
    return Evidence(
        kind="equivocation",
        node_id=committee.node_id(a.sender),
        seq=a.seq,
        job_id=a.job_id,
        messages=[a.model_dump(mode="json"), b.model_dump(mode="json")],
    )


def against_result(observation: Message, result: OracleResult, committee: Committee) -> Evidence | None:
    """Deviation or bad knowledge proof shown by `observation` against certified `result`, if any."""
    if result.status != "committed" or observation.type != MsgType.OBSERVE:
        return None
    kind: EvidenceKind | None = None
    if result.kind == "exact":
        node_id = committee.node_id(observation.sender)
        if observation_digest(observation) != result.result_digest:
            kind = "deviation"
        elif (observation.body or {}).get("proof") != proof_for(canonical_json(result.result), node_id):
            kind = "bad-knowledge-proof"
    else:
        value = observation_value(observation)
        if value is None or abs(value - float(result.result)) > (result.spec.tolerance or 0.0):  # type: ignore[arg-type]
            kind = "deviation"
    if kind is None:
        return None
    return Evidence(
        kind=kind,
        node_id=committee.node_id(observation.sender),
        seq=observation.seq,
        job_id=observation.job_id,
        messages=[observation.model_dump(mode="json")],
        attestation=result,
    )


def verify_evidence(evidence: Evidence, committee: Committee) -> None:
    """Raise EvidenceError unless `evidence` proves its claim against `evidence.node_id`."""
    index = committee.index_of(evidence.node_id)
    if index is None:
        raise EvidenceError(f"{evidence.node_id!r} is not a member of the committee")
    messages = [parse_message(m) for m in evidence.messages]
    if any(m is None for m in messages):
        raise EvidenceError("evidence holds a message that does not parse")
    signed = [m for m in messages if m is not None]
    for msg in signed:
        if msg.sender != index or not verify_message(msg, committee):
            raise EvidenceError(f"a message in the evidence is not validly signed by {evidence.node_id}")
    if evidence.kind == "equivocation":
        if len(signed) != 2 or not conflicting(signed[0], signed[1]):
            raise EvidenceError("equivocation needs two conflicting messages for one slot")
        return
    if evidence.attestation is None:
        raise EvidenceError(f"{evidence.kind} evidence needs the certified result it refers to")
    try:
        verify_attestation(evidence.attestation, committee)
    except CertificateError as exc:
        raise EvidenceError(f"the attestation in the evidence does not verify: {exc}") from None
    if evidence.kind == "downtime":
        present = {o.node_id for o in evidence.attestation.observations} | {
            s.node_id for s in evidence.attestation.certificate
        }
        if evidence.node_id in present or signed:
            raise EvidenceError(f"{evidence.node_id} voted on the job; that is not downtime")
        return
    if len(signed) != 1 or signed[0].job_id != evidence.attestation.job_id:
        raise EvidenceError(f"{evidence.kind} evidence needs one observation of the attested job")
    found = against_result(signed[0], evidence.attestation, committee)
    if found is None or found.kind != evidence.kind:
        raise EvidenceError(f"the observation agrees with the certified result; no {evidence.kind}")


def commit_messages(result: OracleResult, committee: Committee) -> list[Message]:
    """The COMMIT votes a certificate stands for (what each of its signatures covers)."""
    votes = []
    for entry in result.certificate:
        index = committee.index_of(entry.node_id)
        if index is not None:
            votes.append(
                Message(
                    type=MsgType.COMMIT,
                    committee_id=result.committee_id,
                    view=result.view,
                    seq=result.sequence,
                    job_id=result.job_id,
                    digest=result.digest,
                    sender=index,
                    signature=entry.signature,
                )
            )
    return votes


def conflict_evidence(a: OracleResult, b: OracleResult, committee: Committee) -> list[Evidence]:
    """Two certificates for one job with different outcomes: every member that signed both equivocated.

    With at most f faulty members this never happens; beyond that the two quorums still share f+1 members, and an
    honest member commits one outcome per job, so the shared signers are the culprits, and their votes the proof.
    """
    if a.sequence != b.sequence or a.digest == b.digest:
        return []
    votes_b = {m.sender: m for m in commit_messages(b, committee)}
    found = []
    for vote in commit_messages(a, committee):
        other = votes_b.get(vote.sender)
        if (
            other is not None
            and conflicting(vote, other)
            and verify_message(vote, committee)
            and verify_message(other, committee)
        ):
            found.append(equivocation(vote, other, committee))
    return found

"""View change (PBFT §4.4, single-shot): the checks on VIEW-CHANGE and NEW-VIEW and the new primary's choice.

    VIEW-CHANGE(v+1) = {prepared: the highest prepared certificate the member holds, observation: its own}
    NEW-VIEW(v+1)    = {view_changes: 2f+1 of them, pre_prepare: the proposal the new primary must make}

A prepared certificate is a PRE-PREPARE and 2f PREPAREs from distinct backups for one (view, digest). If any of the
2f+1 view changes carries one, the new primary must re-propose the outcome of the highest-view certificate; every
backup recomputes that from the same 2f+1 messages and rejects a NEW-VIEW that does not (catalogue case 12). Since a
committed outcome was prepared by f+1 honest members and any 2f+1 view changes include one of them, a decision
survives every view change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qcl.oracle.committee import Committee
from qcl.oracle.messages import Message, MsgType, parse_message
from qcl.oracle.proposals import Proposal, check_observation, check_proposal


@dataclass(frozen=True)
class Job:
    """What the checks need to know about the job an instance decides."""

    seq: int
    job_id: str
    kind: str
    tolerance: float


@dataclass(frozen=True)
class PreparedCert:
    view: int
    pre_prepare: Message
    proposal: Proposal
    prepares: tuple[Message, ...]

    def body(self) -> dict[str, Any]:
        return {
            "pre_prepare": self.pre_prepare.model_dump(mode="json"),
            "prepares": [p.model_dump(mode="json") for p in self.prepares],
        }


def check_pre_prepare(
    pp: Message, committee: Committee, job: Job, verify: Callable[[Message], bool], excluded: frozenset[int]
) -> Proposal | str:
    """The proposal a PRE-PREPARE carries, or why it is invalid."""
    if pp.type != MsgType.PRE_PREPARE or pp.seq != job.seq or pp.job_id != job.job_id:
        return "not a pre-prepare of this job"
    if pp.sender != committee.primary(job.seq, pp.view):
        return f"member {pp.sender} is not the primary of view {pp.view}"
    if not verify(pp):
        return "pre-prepare signature does not verify"
    proposal = Proposal.from_body(pp.body)
    if proposal is None:
        return "pre-prepare carries no readable proposal"
    if proposal.digest != pp.digest:
        return "pre-prepare digest is not the hash of its outcome"
    problem = check_proposal(
        proposal, committee, kind=job.kind, seq=job.seq, job_id=job.job_id, tolerance=job.tolerance, excluded=excluded
    )
    return problem or proposal


def check_prepared_cert(
    body: Any, committee: Committee, job: Job, verify: Callable[[Message], bool], excluded: frozenset[int]
) -> PreparedCert | str:
    if not isinstance(body, dict) or not isinstance(body.get("prepares"), list):
        return "malformed prepared certificate"
    pp = parse_message(body.get("pre_prepare"))
    if pp is None:
        return "prepared certificate without a readable pre-prepare"
    proposal = check_pre_prepare(pp, committee, job, verify, excluded)
    if isinstance(proposal, str):
        return proposal
    prepares: dict[int, Message] = {}
    for raw in body["prepares"]:
        p = parse_message(raw)
        if (
            p is None
            or p.type != MsgType.PREPARE
            or (p.view, p.seq, p.job_id, p.digest)
            != (
                pp.view,
                pp.seq,
                pp.job_id,
                pp.digest,
            )
        ):
            return "a prepare in the certificate is for another slot"
        if p.sender == pp.sender or not verify(p):
            return "a prepare in the certificate is invalid"
        prepares[p.sender] = p
    if len(prepares) < 2 * committee.f:
        return f"prepared certificate has {len(prepares)} distinct prepares; it needs {2 * committee.f}"
    return PreparedCert(pp.view, pp, proposal, tuple(prepares.values()))


@dataclass(frozen=True)
class ViewChange:
    message: Message
    cert: PreparedCert | None
    observation: Message | None


def check_view_change(
    vc: Message, committee: Committee, job: Job, verify: Callable[[Message], bool], excluded: frozenset[int]
) -> ViewChange | str:
    if vc.type != MsgType.VIEW_CHANGE or vc.seq != job.seq or vc.job_id != job.job_id or vc.view < 1:
        return "not a view change of this job"
    if not verify(vc):
        return "view change signature does not verify"
    body = vc.body or {}
    cert: PreparedCert | None = None
    if body.get("prepared") is not None:
        checked = check_prepared_cert(body["prepared"], committee, job, verify, excluded)
        if isinstance(checked, str):
            return checked
        if checked.view >= vc.view:
            return "prepared certificate from a view not below the view change's"
        cert = checked
    observation: Message | None = None
    if body.get("observation") is not None:
        observation = parse_message(body["observation"])
        if observation is None or observation.sender != vc.sender:
            return "view change carries someone else's observation"
        if check_observation(observation, committee, job.kind, job.seq, job.job_id):
            return "view change carries an invalid observation"
    return ViewChange(vc, cert, observation)


def highest_cert(changes: list[ViewChange]) -> PreparedCert | None:
    """The certificate a new view must carry forward: highest view; ties broken by sender (all equal when <= f)."""
    certs = [vc.cert for vc in changes if vc.cert is not None]
    return max(certs, key=lambda c: (c.view, -c.pre_prepare.sender), default=None)


@dataclass(frozen=True)
class NewView:
    changes: list[ViewChange]
    pre_prepare: Message | None
    proposal: Proposal | None


def check_new_view(
    nv: Message, committee: Committee, job: Job, verify: Callable[[Message], bool], excluded: frozenset[int]
) -> NewView | str:
    if nv.type != MsgType.NEW_VIEW or nv.seq != job.seq or nv.job_id != job.job_id:
        return "not a new view of this job"
    if nv.sender != committee.primary(job.seq, nv.view):
        return f"member {nv.sender} is not the primary of view {nv.view}"
    if not verify(nv):
        return "new view signature does not verify"
    body = nv.body or {}
    raw_changes = body.get("view_changes")
    if not isinstance(raw_changes, list):
        return "new view without view changes"
    changes: dict[int, ViewChange] = {}
    for raw in raw_changes:
        vc = parse_message(raw)
        if vc is None or vc.view != nv.view:
            return "new view holds a view change for another view"
        checked = check_view_change(vc, committee, job, verify, excluded)
        if isinstance(checked, str):
            return checked
        changes[vc.sender] = checked
    if len(changes) < committee.quorum:
        return f"new view holds {len(changes)} distinct view changes; it needs {committee.quorum}"
    required = highest_cert(list(changes.values()))
    if body.get("pre_prepare") is None:
        if required is not None:
            return "new view drops the outcome prepared in an earlier view"
        return NewView(list(changes.values()), None, None)
    pp = parse_message(body["pre_prepare"])
    if pp is None or pp.view != nv.view:
        return "new view's pre-prepare is for another view"
    proposal = check_pre_prepare(pp, committee, job, verify, excluded)
    if isinstance(proposal, str):
        return proposal
    if required is not None and proposal.digest != required.proposal.digest:
        return f"new view proposes another outcome than the one prepared in view {required.view}"
    return NewView(list(changes.values()), pp, proposal)

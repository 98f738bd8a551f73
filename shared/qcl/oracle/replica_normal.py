"""The replica's normal case (PBFT §4.2): OBSERVE -> PRE-PREPARE -> PREPARE -> COMMIT -> decide.

The primary proposes once it holds a justified outcome; a backup prepares what it accepts against its own result
(proposals.acceptable); 2f PREPAREs from backups make a member prepared, and it commits; 2f+1 COMMITs for one
(view, outcome) decide, in whatever view they were cast, since a later view can only carry the same outcome.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING

from qcl.events import OracleResult
from qcl.oracle.attestation import build_attestation
from qcl.oracle.canonical import sha256_hex
from qcl.oracle.evidence import against_result
from qcl.oracle.messages import Message, MsgType
from qcl.oracle.proposals import Proposal, acceptable, build_proposal, check_observation
from qcl.oracle.replica_checkpoints import maybe_checkpoint
from qcl.oracle.state import Decide, Instance
from qcl.oracle.viewchange import PreparedCert, check_pre_prepare

if TYPE_CHECKING:
    from qcl.oracle.replica_core import ReplicaCore

log = logging.getLogger(__name__)


def on_observe(r: ReplicaCore, inst: Instance, msg: Message) -> bool:
    """Keep a valid new observation and propose if it completes a justified outcome; True when it was kept (the
    caller then lets a new primary waiting for observations send its NEW-VIEW: replica_views.try_new_view)."""
    job = r._job(inst)
    if msg.sender in inst.observations or check_observation(msg, r.committee, job.kind, job.seq, job.job_id):
        return False
    inst.observations[msg.sender] = msg
    try_propose(r, inst)
    return True


def try_propose(r: ReplicaCore, inst: Instance) -> None:
    """The primary proposes once it holds a justified outcome (and only in a view entered without one)."""
    view = inst.view
    if (
        inst.changing
        or inst.decision is not None
        or not inst.executed
        or r.committee.primary(inst.seq, view) != r.me
        or view in inst.pre_prepares
        or view not in inst.open_views
    ):
        return
    job = r._job(inst)
    proposal = build_proposal(
        job.kind,
        [m for s, m in inst.observations.items() if s not in r.excluded],
        r.committee,
        tolerance=job.tolerance,
        own_result=inst.result_bytes,
        own_value=inst.value,
    )
    if proposal is None:
        return
    pp = r._sign(MsgType.PRE_PREPARE, view, inst.seq, job.job_id, proposal.digest, proposal.body())
    if pp is None:
        return
    r._send(pp)
    accept_pre_prepare(r, inst, pp, Proposal.from_body(pp.body) or proposal)


def on_pre_prepare(r: ReplicaCore, inst: Instance, msg: Message) -> None:
    if msg.view > inst.view + r.config.view_window or msg.view < inst.view:
        return
    if msg.view > inst.view or inst.changing or msg.view not in inst.open_views:
        inst.pending_pre_prepares.setdefault(msg.view, msg)  # its NEW-VIEW may still be on the way
        return
    if msg.view in inst.pre_prepares:
        return
    proposal = check_pre_prepare(msg, r.committee, r._job(inst), r.verify, r.excluded)
    if isinstance(proposal, str):
        log.info("%s: pre-prepare for job %d view %d rejected: %s", r.key.node_id, inst.seq, msg.view, proposal)
        return
    accept_pre_prepare(r, inst, msg, proposal)


def accept_pre_prepare(r: ReplicaCore, inst: Instance, pp: Message, proposal: Proposal) -> None:
    inst.pre_prepares[pp.view] = (pp, proposal)
    inst.known_proposals[proposal.digest] = proposal
    if pp.sender == r.me:
        inst.agreed.add(pp.view)
    try_prepare(r, inst)
    check_prepared(r, inst, pp.view)
    check_committed(r, inst)


def try_prepare(r: ReplicaCore, inst: Instance) -> None:
    view = inst.view
    held = inst.pre_prepares.get(view)
    if held is None or inst.changing or view in inst.agreed or inst.decision is not None:
        return
    pp, proposal = held
    job = r._job(inst)
    refusal = acceptable(
        proposal, r.committee, own_result=inst.result_bytes, own_value=inst.value, tolerance=job.tolerance
    )
    if refusal is not None:
        if inst.executed:
            log.info("%s: not preparing job %d view %d: %s", r.key.node_id, inst.seq, view, refusal)
        return
    prepare = r._sign(MsgType.PREPARE, view, inst.seq, job.job_id, pp.digest, {"pp": pp.signature})
    if prepare is None or prepare.digest != pp.digest:
        return
    inst.agreed.add(view)
    inst.prepares.setdefault(view, {})[r.me] = prepare
    r._send(prepare)
    check_prepared(r, inst, view)


def on_prepare(r: ReplicaCore, inst: Instance, msg: Message) -> None:
    if msg.view > inst.view + r.config.view_window or msg.sender == r.committee.primary(inst.seq, msg.view):
        return
    inst.prepares.setdefault(msg.view, {}).setdefault(msg.sender, msg)
    check_prepared(r, inst, msg.view)


def check_prepared(r: ReplicaCore, inst: Instance, view: int) -> None:
    held = inst.pre_prepares.get(view)
    if held is None or view not in inst.agreed:
        return
    pp, proposal = held
    matching = [m for m in inst.prepares.get(view, {}).values() if m.digest == pp.digest]
    if len(matching) < 2 * r.committee.f:
        return
    if inst.prepared is None or inst.prepared.view < view:
        inst.prepared = PreparedCert(view, pp, proposal, tuple(matching))
    if view == inst.view and not inst.changing and inst.decision is None:
        commit = r._sign(MsgType.COMMIT, view, inst.seq, pp.job_id, pp.digest)
        if commit is not None and commit.view == view and r.me not in inst.commits.get(view, {}):
            inst.commits.setdefault(view, {})[r.me] = commit
            r._send(commit)
    check_committed(r, inst)


def on_commit(r: ReplicaCore, inst: Instance, msg: Message) -> None:
    if msg.view > inst.view + r.config.view_window:
        return
    inst.commits.setdefault(msg.view, {}).setdefault(msg.sender, msg)
    check_committed(r, inst)


def check_committed(r: ReplicaCore, inst: Instance) -> None:
    """2f+1 COMMITs for one (view, outcome) decide, in any view: a later view can only carry the same outcome."""
    if inst.decision is not None:
        return
    for view, by_sender in sorted(inst.commits.items()):
        for digest, count in Counter(m.digest for m in by_sender.values()).items():
            proposal = inst.known_proposals.get(digest)
            if count < r.committee.quorum or proposal is None:
                continue
            commits = [m for m in by_sender.values() if m.digest == digest]
            result = None
            if "result_digest" in proposal.outcome:
                if inst.result_bytes is None or sha256_hex(inst.result_bytes) != proposal.outcome["result_digest"]:
                    inst.awaiting_reveal = digest  # committed, but only a member holding the result can reveal
                    continue
                result = inst.result
            elif "value" in proposal.outcome:
                result = proposal.outcome["value"]
            assert inst.request is not None
            decide(
                r,
                inst,
                build_attestation(
                    committee=r.committee,
                    spec=inst.request.spec,
                    job_id=inst.request.job_id,
                    seq=inst.seq,
                    view=view,
                    proposal=proposal,
                    commits=commits,
                    result=result,
                ),
            )
            return


def decide(r: ReplicaCore, inst: Instance, attestation: OracleResult) -> None:
    inst.decision = attestation
    inst.awaiting_reveal = None
    r.durable.decided[inst.seq] = attestation
    r._dirty = True
    r.done[attestation.job_id] = attestation
    while len(r.done) > r.config.done_cache:
        r.done.pop(next(iter(r.done)))
    r._effects.append(Decide(attestation, inst.reply_to))
    for observation in inst.observations.values():
        found = against_result(observation, attestation, r.committee)
        if found is not None:
            r._found(found)
    maybe_checkpoint(r, inst.seq)

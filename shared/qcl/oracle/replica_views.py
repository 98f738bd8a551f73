"""The replica's view-change steps (PBFT §4.4-4.5): timers, VIEW-CHANGE, NEW-VIEW; the checks are in viewchange.py.

    timeout -> start_view_change(v+1) -> (new primary) try_new_view -> on_new_view at the backups -> enter_view

Liveness rules: a member that sees f+1 others ask for later views joins the smallest of them; a new primary that
cannot build a proposal yet still sends NEW-VIEW (so nobody keeps changing views) and proposes once it can.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from qcl.oracle.messages import Message, MsgType
from qcl.oracle.proposals import Proposal, build_proposal
from qcl.oracle.replica_normal import accept_pre_prepare, check_committed, on_pre_prepare, try_propose
from qcl.oracle.state import Instance, Timeout
from qcl.oracle.viewchange import ViewChange, check_new_view, check_view_change, highest_cert

if TYPE_CHECKING:
    from qcl.oracle.replica_core import ReplicaCore

log = logging.getLogger(__name__)


def timeout(r: ReplicaCore, event: Timeout) -> None:
    inst = r.instances.get(event.seq)
    if inst is None or inst.decision is not None or event.generation != inst.timer_generation:
        return
    if event.retransmit:
        r._retransmit(inst)
        return
    if inst.awaiting_reveal is not None:  # re-send our last vote: members that decided answer with the result
        votes = [c for v in sorted(inst.commits) if (c := inst.commits[v].get(r.me)) is not None]
        again = votes[-1] if votes else inst.own_observation
        if again is not None:
            r._send(again)
        r._timer(inst)
        return
    start_view_change(r, inst, inst.view + 1)


def start_view_change(r: ReplicaCore, inst: Instance, view: int) -> None:
    inst.view, inst.changing = view, True
    body = {
        "prepared": inst.prepared.body() if inst.prepared else None,
        "observation": inst.own_observation.model_dump(mode="json") if inst.own_observation else None,
    }
    job = r._job(inst)
    vc = r._sign(MsgType.VIEW_CHANGE, view, inst.seq, job.job_id, body=body)
    if vc is not None:
        checked = check_view_change(vc, r.committee, job, r.verify, frozenset())
        if not isinstance(checked, str):
            inst.view_changes.setdefault(view, {})[r.me] = checked
        r._send(vc)
    r._timer(inst)
    try_new_view(r, inst)


def on_view_change(r: ReplicaCore, inst: Instance, msg: Message) -> None:
    if msg.view > inst.view + r.config.view_window:
        return
    if msg.view <= inst.view and not inst.changing:
        if msg.view == inst.view and inst.view in inst.new_view_sent:
            r._send(r.durable.signed[f"NEW_VIEW/{inst.view}/{inst.seq}"], to=msg.sender)  # it missed ours
        return
    checked = check_view_change(msg, r.committee, r._job(inst), r.verify, r.excluded)
    if isinstance(checked, str):
        log.info("%s: view change from %d rejected: %s", r.key.node_id, msg.sender, checked)
        return
    learn(r, inst, checked)
    inst.view_changes.setdefault(msg.view, {})[msg.sender] = checked
    # PBFT §4.5 (a): f+1 members asking for later views prove at least one honest member timed out; join them.
    first_view: dict[int, int] = {}
    for view, changes in inst.view_changes.items():
        for sender in changes:
            if view > inst.view and sender != r.me:
                first_view[sender] = min(view, first_view.get(sender, view))
    if len(first_view) >= r.committee.f + 1:
        start_view_change(r, inst, min(first_view.values()))
    elif inst.changing and msg.view == inst.view:
        try_new_view(r, inst)


def learn(r: ReplicaCore, inst: Instance, change: ViewChange) -> None:
    if change.observation is not None and change.observation.sender not in inst.observations:
        inst.observations[change.observation.sender] = change.observation
    if change.cert is not None:
        inst.known_proposals[change.cert.proposal.digest] = change.cert.proposal


def try_new_view(r: ReplicaCore, inst: Instance) -> None:
    view = inst.view
    if not inst.changing or r.committee.primary(inst.seq, view) != r.me or view in inst.new_view_sent:
        return
    changes = list(inst.view_changes.get(view, {}).values())
    if len(changes) < r.committee.quorum:
        return
    job = r._job(inst)
    required = highest_cert(changes)
    proposal: Proposal | None = required.proposal if required else None
    if proposal is None and inst.executed:
        proposal = build_proposal(
            job.kind,
            [m for s, m in inst.observations.items() if s not in r.excluded],
            r.committee,
            tolerance=job.tolerance,
            own_result=inst.result_bytes,
            own_value=inst.value,
        )
    pp = (
        r._sign(MsgType.PRE_PREPARE, view, inst.seq, job.job_id, proposal.digest, proposal.body()) if proposal else None
    )
    body = {
        "view_changes": [c.message.model_dump(mode="json") for c in sorted(changes, key=lambda c: c.message.sender)],
        "pre_prepare": pp.model_dump(mode="json") if pp else None,
    }
    nv = r._sign(MsgType.NEW_VIEW, view, inst.seq, job.job_id, body=body)
    if nv is None:
        return
    inst.new_view_sent.add(view)
    r._send(nv)
    enter_view(r, inst, view, pp, proposal, required_outcome=required is not None)


def on_new_view(r: ReplicaCore, inst: Instance, msg: Message) -> None:
    if msg.view < inst.view or (msg.view == inst.view and not inst.changing):
        return
    checked = check_new_view(msg, r.committee, r._job(inst), r.verify, r.excluded)
    if isinstance(checked, str):
        log.info("%s: new view %d rejected: %s", r.key.node_id, msg.view, checked)
        return
    for change in checked.changes:
        learn(r, inst, change)
    if inst.view != msg.view:
        inst.view = msg.view
    r._timer(inst)
    required = highest_cert(checked.changes) is not None
    enter_view(r, inst, msg.view, checked.pre_prepare, checked.proposal, required_outcome=required)


def enter_view(
    r: ReplicaCore, inst: Instance, view: int, pp: Message | None, proposal: Proposal | None, *, required_outcome: bool
) -> None:
    inst.changing = False
    if not required_outcome:
        inst.open_views.add(view)
    if pp is not None and proposal is not None:
        r._record_slot(pp)
        accept_pre_prepare(r, inst, pp, proposal)
    else:
        pending = inst.pending_pre_prepares.pop(view, None)
        if pending is not None:
            on_pre_prepare(r, inst, pending)
        try_propose(r, inst)
    check_committed(r, inst)

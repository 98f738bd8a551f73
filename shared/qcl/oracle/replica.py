"""The protocol core: single-shot PBFT per job, transport-free and deterministic.

    replica = Replica(committee, key, config)          # or Replica.restore(..., durable) after a crash
    state, effects = apply(replica, Deliver(message))   # also Submit, Executed, Timeout

One instance per job sequence: OBSERVE (each member's own result, as a commitment with a knowledge proof, or a value)
-> PRE-PREPARE (the primary's outcome with 2f+1 observations) -> PREPARE -> COMMIT -> decide, with view change when
a timer fires. Honest-member rules that make evidence meaningful: one signature per slot, kept on disk before the
message leaves (Durable.signed), and a COMMIT locks the member on that outcome for the job. State changes happen in
place on the Replica; `apply` returns it so drivers read like a fold over events.

This module holds requests, execution, delivery checks and state transfer; the state and the primitives every step
uses (signing, sending, timers) are in replica_core.py, and the steps beside it take that core: replica_normal.py
(observe, pre-prepare, prepare, commit, decide), replica_views.py (timers, view change), replica_checkpoints.py
(stable checkpoints); the message checks are in proposals.py and viewchange.py.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from qcl.events import OracleRequest, OracleResult
from qcl.oracle.attestation import verify_attestation
from qcl.oracle.canonical import canonical_json, digest_of, proof_for, sha256_hex
from qcl.oracle.committee import Committee
from qcl.oracle.crypto import NodeKey
from qcl.oracle.errors import CertificateError
from qcl.oracle.messages import CLIENT, Message, MsgType, sign_message
from qcl.oracle.replica_checkpoints import on_checkpoint
from qcl.oracle.replica_core import ReplicaCore
from qcl.oracle.replica_normal import (
    decide,
    on_commit,
    on_observe,
    on_pre_prepare,
    on_prepare,
    try_prepare,
    try_propose,
)
from qcl.oracle.replica_views import on_new_view, on_view_change, start_view_change, timeout, try_new_view
from qcl.oracle.state import (
    Decide,
    Deliver,
    Durable,
    Effect,
    Event,
    Execute,
    Executed,
    Instance,
    Persist,
    ProtocolConfig,
    Rejected,
    Submit,
    Timeout,
)

log = logging.getLogger(__name__)


def apply(state: Replica, event: Event) -> tuple[Replica, list[Effect]]:
    """One step: the state (updated in place) and the effects the event asks for."""
    return state, state.step(event)


class Replica(ReplicaCore):
    @classmethod
    def restore(cls, committee: Committee, key: NodeKey, config: ProtocolConfig, durable: Durable) -> Replica:
        """A member back from a crash: it re-executes accepted jobs and re-sends only what it signed before."""
        replica = cls(committee, key, config, durable)
        for attestation in durable.decided.values():
            replica.done[attestation.job_id] = attestation
        return replica

    # -- the step ------------------------------------------------------------------------------------------------

    def step(self, event: Event) -> list[Effect]:
        self._effects, self._dirty = [], False
        if isinstance(event, Deliver):
            self._deliver(event.message, event.link)
        elif isinstance(event, Submit):
            self._submit(event.request, event.reply_to, relay=event.relay)
        elif isinstance(event, Executed):
            self._executed(event)
        elif isinstance(event, Timeout):
            timeout(self, event)
        effects = self._effects
        if self._dirty:
            effects.insert(0, Persist(self.durable.to_json()))
        return effects

    def resume(self) -> list[Effect]:
        """After a restart: publish what was decided, and take up every accepted, undecided job again (it is
        executed again; its signatures come from disk)."""
        self._effects, self._dirty = [], False
        for attestation in self.durable.decided.values():  # decided, but maybe not published before the crash
            self._effects.append(Decide(attestation))
        for seq, request in sorted(self.durable.requests.items()):
            if seq > self.durable.stable and seq not in self.durable.decided:
                self._submit(request, None, relay=False)
        return self._effects

    # -- requests and execution ------------------------------------------------------------------------------------

    def _submit(self, request: OracleRequest, reply_to: str | None, *, relay: bool) -> None:
        if request.job_id != digest_of(request.spec.model_dump(mode="json")):
            log.warning(
                "%s: request %s… rejected: job id is not the hash of its spec", self.key.node_id, request.job_id[:12]
            )
            return
        cached = self.done.get(request.job_id)
        if cached is not None:  # a replayed request: the certified result, without running the job again
            self._effects.append(Decide(cached, reply_to))
            return
        if not self._in_window(request.sequence):
            log.warning("%s: request for sequence %d outside the window", self.key.node_id, request.sequence)
            return
        inst = self._instance(request.sequence)
        if inst.request is not None:
            if inst.request.job_id != request.job_id:
                log.warning("%s: sequence %d already holds another job", self.key.node_id, request.sequence)
            return
        inst.request, inst.reply_to = request, reply_to
        if self.durable.requests.get(request.sequence) != request:
            self.durable.requests[request.sequence] = request
            self._dirty = True
        if relay:
            self._send(self.request_message(request))
        self._effects.append(Execute(request))
        early, inst.early = inst.early, []
        for message, link in early:
            self._deliver(message, link)

    def _executed(self, event: Executed) -> None:
        inst = self.instances.get(event.seq)
        if inst is None or inst.request is None or inst.request.job_id != event.job_id or inst.executed:
            return
        if inst.decision is not None:
            return
        inst.executed = True
        if event.error is not None:
            log.warning("%s: job %d abstains: %s", self.key.node_id, event.seq, event.error)
            return
        spec = inst.request.spec
        body: dict[str, Any]
        if spec.kind == "exact":
            inst.result_bytes = canonical_json(event.result)
            inst.result = event.result
            body = {
                "result_digest": sha256_hex(inst.result_bytes),
                "proof": proof_for(inst.result_bytes, self.key.node_id),
            }
        else:
            inst.value = inst.result = float(event.result)
            body = {"value": inst.value}
        observation = self._sign(MsgType.OBSERVE, 0, inst.seq, inst.request.job_id, body=body)
        if observation is not None and inst.decision is None:
            inst.own_observation = observation
            inst.observations[self.me] = observation
            self._send(observation)
        if inst.decision is None:
            if not inst.changing:
                self._timer(inst)
                if self.committee.primary(inst.seq, inst.view) in self.excluded:
                    start_view_change(self, inst, inst.view + 1)  # an excluded primary is not waited for
                    return
            try_propose(self, inst)
            try_prepare(self, inst)

    # -- delivery ------------------------------------------------------------------------------------------------

    def _deliver(self, msg: Message, link: int | None) -> None:
        if msg.committee_id != self.committee.committee_id:
            self._effects.append(Rejected("message for another committee", link, msg.sender))
            return
        if msg.type == MsgType.REQUEST:
            self._on_request(msg)
            return
        if msg.type == MsgType.DECISION:
            self._on_decision(msg)
            return
        if msg.sender == self.me:
            return  # our own message, back from a broadcast medium
        if not self.verify(msg):
            self._effects.append(Rejected(f"{msg.type.value} fails its signature check", link, msg.sender))
            return
        if msg.sender in self.excluded:
            return
        if msg.type == MsgType.SYNC:
            self._on_sync(msg)
            return
        self._record_slot(msg)
        if msg.type == MsgType.CHECKPOINT:
            on_checkpoint(self, msg)
            return
        if msg.seq <= self.durable.stable:
            self._reply_if_behind(msg, self.done.get(msg.job_id))
            return
        if not self._in_window(msg.seq):
            return  # beyond the high watermark: a flood, or a member far ahead
        inst = self._instance(msg.seq)
        if inst.request is None:
            if len(inst.early) < 16 * self.committee.n:
                inst.early.append((msg, link))
            return
        if msg.job_id != inst.request.job_id:
            return
        if msg.uid in inst.received:
            self._reply_if_behind(msg, inst.decision, duplicate=True)
            return
        inst.received.add(msg.uid)
        if inst.decision is not None:
            self._reply_if_behind(msg, inst.decision)
            return
        handler = {
            MsgType.OBSERVE: self._on_observe,
            MsgType.PRE_PREPARE: lambda inst, msg: on_pre_prepare(self, inst, msg),
            MsgType.PREPARE: lambda inst, msg: on_prepare(self, inst, msg),
            MsgType.COMMIT: lambda inst, msg: on_commit(self, inst, msg),
            MsgType.VIEW_CHANGE: lambda inst, msg: on_view_change(self, inst, msg),
            MsgType.NEW_VIEW: lambda inst, msg: on_new_view(self, inst, msg),
        }[msg.type]
        handler(inst, msg)

    def _on_observe(self, inst: Instance, msg: Message) -> None:
        if on_observe(self, inst, msg) and inst.changing and self.committee.primary(inst.seq, inst.view) == self.me:
            try_new_view(self, inst)

    def _reply_if_behind(self, msg: Message, decision: OracleResult | None, *, duplicate: bool = False) -> None:
        """State transfer: a member still voting on a decided job (re-sending, or changing view) gets the result."""
        if decision is None or not (duplicate or msg.type == MsgType.VIEW_CHANGE):
            return
        key = (msg.seq, msg.sender, msg.type.value, msg.view)
        if key in self.replied:
            return
        if len(self.replied) > 64 * self.config.window * self.committee.n:
            self.replied.clear()  # bounded; at worst a member behind gets a result twice
        self.replied.add(key)
        self._send(self.decision_message(decision), to=msg.sender)

    def _on_sync(self, msg: Message) -> None:
        for seq, attestation in sorted(self.durable.decided.items()):
            key = (seq, msg.sender, MsgType.SYNC.value, 0)
            if seq > msg.seq - 1 and key not in self.replied:
                self.replied.add(key)
                self._send(self.decision_message(attestation), to=msg.sender)

    def request_message(self, request: OracleRequest) -> Message:
        """A job as relayed to the other members (checked by its content, so it needs no signature)."""
        return Message(
            type=MsgType.REQUEST,
            committee_id=self.committee.committee_id,
            view=0,
            seq=request.sequence,
            job_id=request.job_id,
            digest=request.job_id,
            sender=self.me,
            body={"request": request.model_dump(mode="json")},
        )

    def rejoin(self) -> list[Effect]:
        """A member that lost its disk asks the others for what they decided (it votes on none of it)."""
        self._effects = []
        sync = sign_message(self.key, self.committee, self.me, MsgType.SYNC, 0, max(self.durable.stable, 0), "", "")
        self._send(sync)
        return self._effects

    def decision_message(self, attestation: OracleResult) -> Message:
        return Message(
            type=MsgType.DECISION,
            committee_id=self.committee.committee_id,
            view=attestation.view,
            seq=attestation.sequence,
            job_id=attestation.job_id,
            digest=attestation.digest,
            sender=self.me,
            body={"attestation": attestation.model_dump(mode="json")},
        )

    def _on_request(self, msg: Message) -> None:
        body = msg.body or {}
        try:
            request = OracleRequest.model_validate(body.get("request"))
        except ValidationError:
            return
        reply_to = body.get("reply_to") if msg.sender == CLIENT else None
        self._submit(request, reply_to if isinstance(reply_to, str) else None, relay=False)

    def _on_decision(self, msg: Message) -> None:
        try:
            attestation = OracleResult.model_validate((msg.body or {}).get("attestation"))
            verify_attestation(attestation, self.committee)
        except (ValidationError, CertificateError) as exc:
            log.info("%s: DECISION from %d ignored: %s", self.key.node_id, msg.sender, exc)
            return
        if not self._in_window(attestation.sequence):
            return
        inst = self._instance(attestation.sequence)
        if inst.decision is None:
            decide(self, inst, attestation)

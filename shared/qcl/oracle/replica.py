"""The protocol core: single-shot PBFT per job, transport-free and deterministic.

    replica = Replica(committee, key, config)          # or Replica.restore(..., durable) after a crash
    state, effects = apply(replica, Deliver(message))   # also Submit, Executed, Timeout

One instance per job sequence: OBSERVE (each member's own result, as a commitment with a knowledge proof, or a value)
-> PRE-PREPARE (the primary's outcome with 2f+1 observations) -> PREPARE -> COMMIT -> decide, with view change when
a timer fires. Honest-member rules that make evidence meaningful: one signature per slot, kept on disk before the
message leaves (Durable.signed), and a COMMIT locks the member on that outcome for the job. State changes happen in
place on the Replica; `apply` returns it so drivers read like a fold over events.

This module holds the state, requests, execution, delivery checks and state transfer; the steps live beside it:
replica_normal.py (pre-prepare, prepare, commit, decide), replica_views.py (timers, view change),
replica_checkpoints.py (stable checkpoints); the message checks are in proposals.py and viewchange.py.
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
from qcl.oracle.evidence import Evidence, conflicting, equivocation
from qcl.oracle.messages import CLIENT, Message, MsgType, Verifier, sign_message
from qcl.oracle.replica_checkpoints import on_checkpoint
from qcl.oracle.replica_normal import (
    decide,
    on_commit,
    on_observe,
    on_pre_prepare,
    on_prepare,
    try_prepare,
    try_propose,
)
from qcl.oracle.replica_views import on_new_view, on_view_change, start_view_change, timeout
from qcl.oracle.state import (
    Decide,
    Deliver,
    Durable,
    Effect,
    Event,
    Execute,
    Executed,
    Found,
    Instance,
    Persist,
    ProtocolConfig,
    Rejected,
    Send,
    SetTimer,
    Submit,
    Timeout,
)
from qcl.oracle.viewchange import (
    Job,
)

log = logging.getLogger(__name__)

_ACROSS_VIEWS = frozenset({MsgType.COMMIT, MsgType.OBSERVE})


def apply(state: Replica, event: Event) -> tuple[Replica, list[Effect]]:
    """One step: the state (updated in place) and the effects the event asks for."""
    return state, state.step(event)


class Replica:
    def __init__(
        self,
        committee: Committee,
        key: NodeKey,
        config: ProtocolConfig | None = None,
        durable: Durable | None = None,
        excluded: frozenset[int] = frozenset(),
        abstain_through: int = -1,
    ) -> None:
        me = committee.index_of(key.node_id)
        if me is None or committee.members[me].public_key != key.public_key:
            raise ValueError(f"{key.node_id} with this key is not a member of committee {committee.committee_id[:16]}…")
        self.committee, self.key, self.me = committee, key, me
        self.config = config or ProtocolConfig()
        self.durable = durable or Durable()
        self.excluded = excluded  # members whose messages this member ignores (ledger exclusions, at most f)
        # A member that lost its disk cannot know what it signed: it votes on no sequence up to this one (it still
        # learns results by DECISION), since voting again could contradict its lost votes (amnesia is Byzantine).
        self.abstain_through = abstain_through
        self.verify = Verifier(committee)
        self.instances: dict[int, Instance] = {}
        self.slots: dict[tuple[int, str, int, int], Message] = {}  # first signed message per slot (equivocation)
        self.checkpoint_votes: dict[int, dict[int, str]] = {}
        self.done: dict[str, OracleResult] = {}  # job id -> attestation, bounded (replayed requests)
        self.evidence: dict[tuple[str, str, int], Evidence] = {}
        self.replied: set[tuple[int, int, str, int]] = set()  # DECISIONs sent: (seq, peer, type, view)
        self._effects: list[Effect] = []
        self._dirty = False

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

    # -- helpers -------------------------------------------------------------------------------------------------

    def _job(self, inst: Instance) -> Job:
        assert inst.request is not None
        spec = inst.request.spec
        return Job(inst.seq, inst.request.job_id, spec.kind, spec.tolerance or 0.0)

    def _send(self, message: Message, to: int | None = None) -> None:
        self._effects.append(Send(message, to))

    def _timer(self, inst: Instance) -> None:
        inst.timer_generation += 1
        delay = self.config.view_timeout_ms * 2 ** min(inst.view, self.config.max_doublings)
        self._effects.append(SetTimer(inst.seq, inst.view, inst.timer_generation, delay))
        self._retransmit_timer(inst)

    def _retransmit_timer(self, inst: Instance) -> None:
        # Every half view timeout, but at least every two base timeouts: late views are long, and a message lost
        # early in one would otherwise wait most of it.
        view_ms = self.config.view_timeout_ms * 2 ** min(inst.view, self.config.max_doublings)
        delay = min(view_ms, 4 * self.config.view_timeout_ms) * self.config.retransmit_fraction
        self._effects.append(SetTimer(inst.seq, inst.view, inst.timer_generation, delay, retransmit=True))

    def _retransmit(self, inst: Instance) -> None:
        """Send our own messages of the current view again (a receiver that has them ignores the copy)."""
        again = [inst.own_observation] if inst.own_observation is not None else []
        for kind in (MsgType.PRE_PREPARE, MsgType.NEW_VIEW, MsgType.PREPARE, MsgType.COMMIT, MsgType.VIEW_CHANGE):
            signed = self.durable.signed.get(f"{kind.value}/{inst.view}/{inst.seq}")
            if signed is not None:
                again.append(signed)
        for message in again:
            self._send(message)
        self._retransmit_timer(inst)

    def _sign(
        self, msg_type: MsgType, view: int, seq: int, job_id: str, digest: str | None = None, body: Any = None
    ) -> Message | None:
        """Sign once per slot. A slot signed before (also before a crash) gives back what was signed then; a vote
        against this member's commit lock is refused (None)."""
        slot = f"{msg_type.value}/{view}/{seq}"
        if seq <= self.abstain_through and msg_type != MsgType.CHECKPOINT:
            return None
        recorded = self.durable.signed.get(slot)
        if msg_type in (MsgType.PREPARE, MsgType.COMMIT):
            lock = self.durable.locks.get(seq)
            if lock is not None and lock != digest:
                log.info("%s: refusing to vote %s for another outcome than the one committed", self.key.node_id, slot)
                return None
        if recorded is not None:
            return recorded
        message = sign_message(self.key, self.committee, self.me, msg_type, view, seq, job_id, digest, body)
        self.durable.signed[slot] = message
        if msg_type == MsgType.COMMIT:
            self.durable.locks[seq] = message.digest
        self._dirty = True
        return message

    def _instance(self, seq: int) -> Instance:
        inst = self.instances.get(seq)
        if inst is None:
            inst = self.instances[seq] = Instance(seq)
        return inst

    def _in_window(self, seq: int) -> bool:
        return self.durable.stable < seq <= self.durable.stable + self.config.window

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
            MsgType.OBSERVE: lambda inst, msg: on_observe(self, inst, msg),
            MsgType.PRE_PREPARE: lambda inst, msg: on_pre_prepare(self, inst, msg),
            MsgType.PREPARE: lambda inst, msg: on_prepare(self, inst, msg),
            MsgType.COMMIT: lambda inst, msg: on_commit(self, inst, msg),
            MsgType.VIEW_CHANGE: lambda inst, msg: on_view_change(self, inst, msg),
            MsgType.NEW_VIEW: lambda inst, msg: on_new_view(self, inst, msg),
        }[msg.type]
        handler(inst, msg)

    def _record_slot(self, msg: Message) -> None:
        """Keep the first signed message per slot; a conflicting second one is equivocation evidence."""
        view = -1 if msg.type in _ACROSS_VIEWS else msg.view
        slot = (msg.sender, msg.type.value, view, msg.seq)
        first = self.slots.setdefault(slot, msg)
        if first is not msg and conflicting(first, msg):
            self._found(equivocation(first, msg, self.committee))
        relayed = (msg.body or {}).get("pp") if msg.type == MsgType.PREPARE else None
        if isinstance(relayed, str):
            # A prepare relays the primary's signature on the pre-prepare it answers: a primary that signed two
            # proposals for one view is caught by any member that sees both, whichever half it was sent to.
            primary = self.committee.primary(msg.seq, msg.view)
            update = {"type": MsgType.PRE_PREPARE, "sender": primary, "body": None, "signature": relayed}
            header = msg.model_copy(update=update)
            if self.verify(header):
                self._record_slot(header)

    def _found(self, evidence: Evidence) -> None:
        if evidence.key not in self.evidence:
            self.evidence[evidence.key] = evidence
            self._effects.append(Found(evidence))

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

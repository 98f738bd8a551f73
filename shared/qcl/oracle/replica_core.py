"""The replica's state and the primitives its steps share: signing once per slot, sending, timers, evidence.

replica.py (Replica: requests, execution, delivery) builds on this class; the steps in replica_normal.py,
replica_views.py and replica_checkpoints.py take it as their argument, so none of them imports replica.py.
"""

from __future__ import annotations

import logging
from typing import Any

from qcl.events import OracleResult
from qcl.oracle.committee import Committee
from qcl.oracle.crypto import NodeKey
from qcl.oracle.evidence import Evidence, conflicting, equivocation
from qcl.oracle.messages import Message, MsgType, Verifier, sign_message
from qcl.oracle.state import Durable, Effect, Found, Instance, ProtocolConfig, Send, SetTimer
from qcl.oracle.viewchange import Job

log = logging.getLogger(__name__)

_ACROSS_VIEWS = frozenset({MsgType.COMMIT, MsgType.OBSERVE})


class ReplicaCore:
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

"""A seeded, simulated network that drives real replicas through delays, drops, partitions, crashes and Byzantine
members, checking the invariants after every step.

    report = simulate(n=4, faults="0:equivocate,partition:0.1|2.3@0-1500", seed=7)
    report.summary()   # {committed, result, certificate_valid, views, messages, latency_ms, evidence, excluded}

Time is simulated (milliseconds; nothing sleeps), and every random choice comes from one `random.Random(seed)`, so
a seed and a SPEC replay the same run step by step. Inference time is excluded: a member's result is ready the
moment it is asked for (`exec_ms` adds a fixed delay when wanted).
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from qcl.events import OracleRequest, OracleResult
from qcl.oracle.canonical import sha256_hex
from qcl.oracle.committee import Committee, create_committee, verify_committee
from qcl.oracle.crypto import NodeKey
from qcl.oracle.evidence import Evidence
from qcl.oracle.messages import CLIENT, Message, MsgType, sign_message
from qcl.oracle.replica import Replica
from qcl.oracle.sim.byzantine import NOT_RUN, Behaviour, Context, behaviour_for
from qcl.oracle.sim.faults import FaultPlan, parse_faults
from qcl.oracle.sim.invariants import Monitor
from qcl.oracle.sim.jobs import sim_job
from qcl.oracle.state import (
    Decide,
    Deliver,
    Durable,
    Effect,
    Event,
    Execute,
    Executed,
    Found,
    Persist,
    ProtocolConfig,
    Rejected,
    Send,
    SetTimer,
)

LINK_DELAY_MS = (1.0, 5.0)  # a LAN hop, uniformly drawn per message


@lru_cache(maxsize=8)
def sim_keys(n: int, name: str = "qcl-sim") -> tuple[tuple[NodeKey, ...], Committee]:
    """Fixed keys per committee size (seeded from the index): every simulation of n members shares them."""
    keys = tuple(NodeKey.from_seed(f"oracle-{i}", bytes.fromhex(sha256_hex(f"{name}-{i}".encode()))) for i in range(n))
    return keys, verify_committee(create_committee(keys, name=name))


@dataclass
class SimNode:
    index: int
    key: NodeKey
    behaviour: Behaviour
    result: Any
    replica: Replica | None
    delay_ms: float = 0.0
    drop_rate: float = 0.0
    crash_restart: bool = False
    crashed: bool = False
    epoch: int = 0  # bumps on restart: timers of the previous life are ignored
    disk: dict[str, Any] | None = None
    decision: OracleResult | None = None
    decided_at: float | None = None
    evidence: dict[tuple[str, str, int], Evidence] = field(default_factory=dict)
    heard_from: set[int] = field(default_factory=set)  # members whose valid signed messages reached it


@dataclass
class SimulationReport:
    n: int
    committee: Committee
    plan: FaultPlan
    nodes: list[SimNode]
    messages: int
    messages_by_type: dict[str, int]
    end_ms: float
    latency_ms: float | None
    first_decision: OracleResult | None
    evidence: list[dict[str, Any]]
    excluded: list[int]
    certificate_valid: bool
    trace: list[str]

    def summary(self) -> dict[str, Any]:
        decision = self.first_decision
        result: Any = None
        if decision is not None:
            result = "unresolvable" if decision.status == "unresolvable" else decision.result
        return {
            "committed": decision is not None and decision.status == "committed",
            "result": result,
            "certificate_valid": self.certificate_valid,
            "views": decision.view + 1 if decision else None,
            "messages": self.messages,
            "latency_ms": round(self.latency_ms, 3) if self.latency_ms is not None else None,
            "evidence": self.evidence,
            "excluded": self.excluded,
        }


class Simulation:
    def __init__(
        self,
        n: int,
        plan: FaultPlan,
        seed: int,
        request: OracleRequest,
        true_result: Any,
        *,
        config: ProtocolConfig | None = None,
        results: dict[int, Any] | None = None,
        exec_ms: float = 0.0,
        restart_after_ms: float | None = None,
        wipe_on_restart: bool = False,
        timer_scale: dict[int, float] | None = None,
        check: bool = True,
    ) -> None:
        keys, self.committee = sim_keys(n)
        self.n, self.plan, self.request = n, plan, request
        self.config = config or ProtocolConfig(view_timeout_ms=500.0)
        self.random = random.Random(seed)  # noqa: S311 - a seeded simulation must replay, not be secret
        self.exec_ms = exec_ms
        self.restart_after_ms = restart_after_ms if restart_after_ms is not None else 3 * self.config.view_timeout_ms
        self.wipe_on_restart = wipe_on_restart
        self.timer_scale = timer_scale or {}  # clock skew: a member whose clock runs fast times out early
        self.now = 0.0
        self.queue: list[tuple[float, int, str, int, Any]] = []
        self._order = itertools.count()
        self.messages = 0
        self.messages_by_type: dict[str, int] = {}
        self.trace: list[str] = []
        self.rejected: dict[int, int] = {}  # transport peer -> invalid messages it sent
        foreign = self._foreign_messages(keys, request)
        self.nodes: list[SimNode] = []
        for i, key in enumerate(keys):
            faults = plan.node_faults.get(i, ())
            kinds = {f.kind for f in faults}
            node = SimNode(i, key, behaviour_for(kinds), None, Replica(self.committee, key, self.config))
            node.result = node.behaviour.result((results or {}).get(i, true_result))
            node.delay_ms = sum(f.amount for f in faults if f.kind == "delay")
            node.drop_rate = max((f.amount for f in faults if f.kind == "drop"), default=0.0)
            node.crash_restart = "crash-restart" in kinds
            self.nodes.append(node)
        self.contexts = [Context(self.committee, k, i, foreign) for i, k in enumerate(keys)]
        self.monitor = Monitor(self, enabled=check)

    def _foreign_messages(self, keys: tuple[NodeKey, ...], request: OracleRequest) -> list[Message]:
        """Validly signed votes for this very job from the same keys under another committee (a network-id replay)."""
        _, other = sim_keys(self.n, "qcl-sim-other-network")
        return [
            sign_message(k, other, i, MsgType.COMMIT, 0, request.sequence, request.job_id, sha256_hex(b"other"))
            for i, k in enumerate(keys)
        ]

    # -- scheduling --------------------------------------------------------------------------------------------

    def _at(self, t: float, kind: str, node: int, payload: Any) -> None:
        heapq.heappush(self.queue, (t, next(self._order), kind, node, payload))

    def _transmit(self, sender: int, msg: Message, target: int) -> None:
        self.messages += 1
        self.messages_by_type[msg.type.value] = self.messages_by_type.get(msg.type.value, 0) + 1
        node = self.nodes[sender]
        rng = self.random
        if rng.random() < self.plan.drop_rate or rng.random() < node.drop_rate:
            return
        if any(p.separates(sender, target, self.now) for p in self.plan.partitions):
            return
        delay = rng.uniform(*LINK_DELAY_MS) + self.plan.delay_ms + node.delay_ms
        self._at(self.now + delay, "deliver", target, (msg, sender))

    def _others(self, i: int) -> list[int]:
        return [j for j in range(self.n) if j != i]

    # -- running -------------------------------------------------------------------------------------------------

    def run(self, max_ms: float | None = None) -> SimulationReport:
        limit = (
            max_ms
            if max_ms is not None
            else self.plan.heal_ms() + self.restart_after_ms + 200 * self.config.view_timeout_ms
        )
        client = Message(
            type=MsgType.REQUEST,
            committee_id=self.committee.committee_id,
            view=0,
            seq=self.request.sequence,
            job_id=self.request.job_id,
            digest=self.request.job_id,
            sender=CLIENT,
            body={"request": self.request.model_dump(mode="json")},
        )
        for i in range(self.n):
            self._at(0.0, "deliver", i, (client, None))
        while self.queue:
            t, _, kind, index, payload = heapq.heappop(self.queue)
            if t > limit:
                break
            self.now = t
            self._handle(kind, self.nodes[index], payload)
            self.monitor.check_step()
        self.monitor.check_end(limit)
        return self._report()

    def _handle(self, kind: str, node: SimNode, payload: Any) -> None:
        if kind == "restart":
            self._restart(node)
            return
        if node.crashed or node.replica is None:
            return
        if kind == "deliver":
            msg, link = payload
            self.trace.append(f"{self.now:9.2f} {link}->{node.index} {msg.type.value} v{msg.view} {msg.digest[:8]}")
            extra = node.behaviour.incoming(self.contexts[node.index], msg) if link is not None else []
            rejected_before = self.rejected.get(link, 0) if link is not None else 0
            self._step(node, Deliver(msg, link))
            valid = link is None or self.rejected.get(link, 0) == rejected_before
            if valid and msg.sender >= 0 and msg.type not in (MsgType.REQUEST, MsgType.DECISION):
                node.heard_from.add(msg.sender)
            for message, target in extra:
                self._send(node, message, target)
        elif kind == "timer":
            epoch, event = payload
            if epoch == node.epoch:
                self._step(node, event)
        elif kind == "executed":
            self._step(node, payload)

    def _step(self, node: SimNode, event: Event) -> None:
        assert node.replica is not None
        self._effects(node, node.replica.step(event))

    def _effects(self, node: SimNode, effects: list[Effect]) -> None:
        for effect in effects:
            if node.crashed:
                return  # a crash cuts the step short: nothing after it leaves the node
            if isinstance(effect, Persist):
                node.disk = effect.durable
            elif isinstance(effect, Send):
                self._send(node, effect.message, effect.to)
                if node.crash_restart and effect.message.type == MsgType.COMMIT:
                    self._crash(node)
            elif isinstance(effect, Execute):
                if node.result is not NOT_RUN:
                    executed = Executed(effect.request.sequence, effect.request.job_id, node.result)
                    self._at(self.now + self.exec_ms, "executed", node.index, executed)
            elif isinstance(effect, SetTimer):
                timeout = effect.timeout()
                delay = effect.delay_ms * self.timer_scale.get(node.index, 1.0)
                self._at(self.now + delay, "timer", node.index, (node.epoch, timeout))
            elif isinstance(effect, Decide):
                if node.decision is None:
                    node.decision, node.decided_at = effect.attestation, self.now
            elif isinstance(effect, Found):
                node.evidence.setdefault(effect.evidence.key, effect.evidence)
            elif isinstance(effect, Rejected) and effect.link is not None:
                self.rejected[effect.link] = self.rejected.get(effect.link, 0) + 1

    def _send(self, node: SimNode, msg: Message, to: int | None) -> None:
        targets = self._others(node.index) if to is None else [to]
        for message, target in node.behaviour.outgoing(self.contexts[node.index], msg, targets):
            self._transmit(node.index, message, target)

    def _crash(self, node: SimNode) -> None:
        """kill -9: volatile state is gone; what was persisted before the crash stays on disk."""
        node.crashed, node.crash_restart = True, False
        node.replica = None
        self.trace.append(f"{self.now:9.2f} node {node.index} crashed")
        self._at(self.now + self.restart_after_ms, "restart", node.index, None)

    def _restart(self, node: SimNode) -> None:
        node.crashed, node.epoch = False, node.epoch + 1
        self.trace.append(f"{self.now:9.2f} node {node.index} restarted")
        if self.wipe_on_restart or node.disk is None:
            node.replica = Replica(self.committee, node.key, self.config, abstain_through=self.config.window)
            self._effects(node, node.replica.rejoin())
            return
        durable = Durable.from_json(node.disk)
        node.replica = Replica.restore(self.committee, node.key, self.config, durable)
        self._effects(node, node.replica.resume())

    # -- the report ----------------------------------------------------------------------------------------------

    def honest(self) -> list[SimNode]:
        return [node for node in self.nodes if not node.behaviour.byzantine]

    def _report(self) -> SimulationReport:
        from qcl.oracle.attestation import verify_attestation
        from qcl.oracle.errors import CertificateError
        from qcl.oracle.ledger import Ledger

        # A silent member decides too (it hears everything), but nothing it says leaves it: it publishes nothing.
        silent = self.plan.silent()
        publishers = [n for n in self.honest() if n.decided_at is not None and n.index not in silent]
        decided = sorted(publishers, key=lambda n: n.decided_at or 0.0)
        first = decided[0].decision if decided else None
        valid = False
        if first is not None:
            try:
                verify_attestation(first, self.committee)
                valid = True
            except CertificateError:
                valid = False
        ledger = Ledger(self.committee)
        evidence: dict[tuple[str, str, int], Evidence] = {}
        for node in self.honest():
            evidence.update(node.evidence)
        for item in evidence.values():
            ledger.record_evidence(item)
        if first is not None:
            ledger.record_attestation(first)
        listed: list[dict[str, Any]] = [
            {"node": self.committee.index_of(e.node_id), "kind": e.kind} for e in evidence.values()
        ]
        heard = set().union(*(n.heard_from for n in self.honest()))
        listed += [{"node": i, "kind": "downtime"} for i in range(self.n) if first is not None and i not in heard]
        listed += [{"node": link, "kind": "invalid-message"} for link in sorted(self.rejected)]
        return SimulationReport(
            n=self.n,
            committee=self.committee,
            plan=self.plan,
            nodes=self.nodes,
            messages=self.messages,
            messages_by_type=dict(sorted(self.messages_by_type.items())),
            end_ms=self.now,
            latency_ms=decided[0].decided_at if decided else None,
            first_decision=first,
            evidence=sorted(listed, key=lambda e: (e["node"], e["kind"])),
            excluded=sorted(i for n in ledger.excluded() if (i := self.committee.index_of(n)) is not None),
            certificate_valid=valid,
            trace=self.trace,
        )


def simulate(
    n: int = 4,
    faults: str = "",
    seed: int = 0,
    *,
    job: str = "findings",
    sequence: int = 0,
    config: ProtocolConfig | None = None,
    results: dict[int, Any] | None = None,
    check: bool = True,
    **options: Any,
) -> SimulationReport:
    """Run one job through a simulated committee of `n` with the faults of SPEC `faults`."""
    plan = parse_faults(faults, n)
    request, true_result = sim_job(job, sequence)
    return Simulation(n, plan, seed, request, true_result, config=config, results=results, check=check, **options).run()

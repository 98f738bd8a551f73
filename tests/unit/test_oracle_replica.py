"""The protocol core on its own: driven event by event through a synchronous in-memory network.

`Net` delivers every message at once, in order, runs every job instantly, and fires timers only when a test says
so: the shortest way to put a replica into exactly the state a rule is about.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import pytest

from qcl.events import OracleRequest, OracleResult
from qcl.oracle.attestation import verify_attestation
from qcl.oracle.messages import CLIENT, Message, MsgType, sign_message
from qcl.oracle.replica import Replica, apply
from qcl.oracle.sim.jobs import sim_job
from qcl.oracle.sim.network import sim_keys
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
    Submit,
)

KEYS, COMMITTEE = sim_keys(4)


class Net:
    def __init__(
        self,
        n: int = 4,
        *,
        results: dict[int, Any] | None = None,
        config: ProtocolConfig | None = None,
        drop: Callable[[Message, int, int], bool] = lambda m, src, dst: False,
    ) -> None:
        keys, self.committee = sim_keys(n)
        self.config = config or ProtocolConfig(view_timeout_ms=100)
        self.replicas = [Replica(self.committee, k, self.config) for k in keys]
        self.results = results or {}
        self.drop = drop
        self.queue: deque[tuple[int, Event]] = deque()
        self.timers: dict[int, list[SetTimer]] = {i: [] for i in range(n)}
        self.decided: dict[int, list[OracleResult]] = {i: [] for i in range(n)}
        self.found: dict[int, list[Any]] = {i: [] for i in range(n)}
        self.rejected: dict[int, list[Rejected]] = {i: [] for i in range(n)}
        self.disk: dict[int, dict[str, Any]] = {}
        self.sent: list[tuple[int, Message]] = []
        self.default_result: Any = None

    def handle(self, i: int, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                self.sent.append((i, effect.message))
                targets = [effect.to] if effect.to is not None else [j for j in range(len(self.replicas)) if j != i]
                for j in targets:
                    if not self.drop(effect.message, i, j):
                        self.queue.append((j, Deliver(effect.message, i)))
            elif isinstance(effect, Execute):
                result = self.results.get(i, self.default_result)
                self.queue.append((i, Executed(effect.request.sequence, effect.request.job_id, result)))
            elif isinstance(effect, SetTimer):
                self.timers[i].append(effect)
            elif isinstance(effect, Decide):
                self.decided[i].append(effect.attestation)
            elif isinstance(effect, Found):
                self.found[i].append(effect.evidence)
            elif isinstance(effect, Rejected):
                self.rejected[i].append(effect)
            elif isinstance(effect, Persist):
                self.disk[i] = effect.durable

    def event(self, i: int, event: Event) -> None:
        _, effects = apply(self.replicas[i], event)
        self.handle(i, effects)

    def run(self, limit: int = 10_000) -> None:
        for _ in range(limit):
            if not self.queue:
                return
            i, event = self.queue.popleft()
            self.event(i, event)
        raise AssertionError("the network never went quiet")

    def submit(self, request: OracleRequest, result: Any, members: list[int] | None = None) -> None:
        self.default_result = result
        for i in members if members is not None else range(len(self.replicas)):
            body = {"request": request.model_dump(mode="json")}
            client = Message(
                type=MsgType.REQUEST, committee_id=self.committee.committee_id, view=0, seq=request.sequence,
                job_id=request.job_id, digest=request.job_id, sender=CLIENT, body=body,
            )  # fmt: skip
            self.queue.append((i, Deliver(client, None)))
        self.run()

    def fire_timers(self, members: list[int] | None = None) -> None:
        for i in members if members is not None else range(len(self.replicas)):
            pending, self.timers[i] = self.timers[i], []
            for timer in pending:
                if not timer.retransmit:
                    self.queue.append((i, timer.timeout()))
        self.run()


def job(name: str = "findings", sequence: int = 0) -> tuple[OracleRequest, Any]:
    return sim_job(name, sequence)


def test_four_honest_replicas_decide_one_valid_attestation() -> None:
    net = Net()
    net.submit(*job())
    attestations = [net.decided[i][0] for i in range(4)]
    assert len({a.digest for a in attestations}) == 1
    for attestation in attestations:
        verify_attestation(attestation, COMMITTEE)
    assert not any(net.found.values()) and not any(net.rejected.values())


def test_a_message_delivered_many_times_counts_once() -> None:
    net = Net(drop=lambda m, src, dst: m.type == MsgType.COMMIT)  # stop before the decision
    net.submit(*job())
    replica = net.replicas[2]
    prepare = next(m for src, m in net.sent if m.type == MsgType.PREPARE and m.sender == 1)
    for _ in range(5):
        net.event(2, Deliver(prepare, 1))
    assert list(replica.instances[0].prepares[0]).count(1) == 1


def test_a_request_for_a_decided_job_returns_the_cached_attestation_without_running_it_again() -> None:
    net = Net()
    request, result = job()
    net.submit(request, result)
    _, effects = apply(net.replicas[1], Submit(request))
    assert [type(e) for e in effects] == [Decide] and effects[0].attestation == net.decided[1][0]  # type: ignore[union-attr]


def test_a_message_beyond_the_high_watermark_is_dropped_without_state() -> None:
    net = Net()
    flood = sign_message(KEYS[1], COMMITTEE, 1, MsgType.PREPARE, 0, 10_000, "ab" * 32, "cd" * 32)
    net.event(0, Deliver(flood, 1))
    assert 10_000 not in net.replicas[0].instances


def test_a_message_of_another_committee_is_rejected_and_blamed_on_its_link() -> None:
    _, other = sim_keys(4, "other-network")
    foreign = sign_message(KEYS[2], other, 2, MsgType.COMMIT, 0, 0, "ab" * 32, "cd" * 32)
    net = Net()
    net.event(0, Deliver(foreign, 3))
    assert [(r.link, r.claimed_sender) for r in net.rejected[0]] == [(3, 2)]


def test_a_forged_message_is_rejected_blaming_the_link_never_the_member_it_names() -> None:
    net = Net()
    request, result = job()
    net.submit(request, result, members=[0])
    genuine_digest = "cd" * 32
    forged = sign_message(KEYS[3], COMMITTEE, 3, MsgType.PREPARE, 0, 0, request.job_id, genuine_digest)
    forged = forged.model_copy(update={"sender": 2})
    net.event(0, Deliver(forged, 3))
    assert [(r.link, r.claimed_sender) for r in net.rejected[0]] == [(3, 2)]
    assert net.found[0] == [] and 2 not in net.replicas[0].instances[0].prepares.get(0, {})


def test_a_restarted_replica_resends_its_old_observation_and_never_signs_a_conflicting_one() -> None:
    net = Net(drop=lambda m, src, dst: True)  # nothing leaves: only member 1's own state matters
    request, result = job()
    net.submit(request, result, members=[1])
    first = net.replicas[1].durable.signed["OBSERVE/0/0"]
    restored = Replica.restore(COMMITTEE, KEYS[1], net.config, Durable.from_json(net.disk[1]))
    resumed = restored.resume()
    assert any(isinstance(e, Execute) for e in resumed)
    effects = restored.step(Executed(0, request.job_id, [{"code": "a different result after the restart"}]))
    observations = [e.message for e in effects if isinstance(e, Send) and e.message.type == MsgType.OBSERVE]
    assert observations == [first]


def test_a_commit_locks_the_member_on_its_outcome_for_the_whole_job() -> None:
    replica = Replica(COMMITTEE, KEYS[1], ProtocolConfig())
    commit = replica._sign(MsgType.COMMIT, 0, 5, "ab" * 32, "11" * 32)
    assert commit is not None
    assert replica._sign(MsgType.PREPARE, 1, 5, "ab" * 32, "22" * 32) is None
    assert replica._sign(MsgType.COMMIT, 1, 5, "ab" * 32, "22" * 32) is None
    assert replica._sign(MsgType.PREPARE, 1, 5, "ab" * 32, "11" * 32) is not None


def test_signing_the_same_slot_again_gives_back_the_first_signature() -> None:
    replica = Replica(COMMITTEE, KEYS[1], ProtocolConfig())
    first = replica._sign(MsgType.PREPARE, 0, 3, "ab" * 32, "11" * 32)
    assert replica._sign(MsgType.PREPARE, 0, 3, "ab" * 32, "22" * 32) == first


def test_a_member_that_lost_its_disk_votes_on_nothing_in_flight_but_learns_the_result() -> None:
    net = Net()
    request, result = job()
    net.replicas[3] = Replica(COMMITTEE, KEYS[3], net.config, abstain_through=net.config.window)
    net.submit(request, result)
    assert [m for src, m in net.sent if src == 3 and m.type != MsgType.REQUEST] == []
    assert net.decided[3][0].digest == net.decided[0][0].digest  # it listened to the others' votes


def test_a_decision_that_does_not_verify_is_ignored() -> None:
    net = Net()
    net.submit(*job())
    good = net.decided[0][0]
    tampered = good.model_copy(update={"certificate": good.certificate[:2]})
    fresh = Replica(COMMITTEE, KEYS[3], ProtocolConfig())
    effects = fresh.step(Deliver(net.replicas[0].decision_message(tampered), 0))
    assert not any(isinstance(e, Decide) for e in effects)
    effects = fresh.step(Deliver(net.replicas[0].decision_message(good), 0))
    assert any(isinstance(e, Decide) for e in effects)


def test_a_request_whose_id_is_not_its_spec_hash_is_ignored() -> None:
    request, _ = job()
    replica = Replica(COMMITTEE, KEYS[0], ProtocolConfig())
    assert replica.step(Submit(request.model_copy(update={"job_id": "00" * 32}))) == []


def test_a_second_job_for_a_taken_sequence_is_ignored() -> None:
    first, _ = job("findings")
    second, _ = job("health-score")
    replica = Replica(COMMITTEE, KEYS[0], ProtocolConfig())
    replica.step(Submit(first))
    assert replica.step(Submit(second)) == []
    assert replica.instances[0].request == first


def test_a_key_that_is_not_a_member_cannot_run_a_replica() -> None:
    from qcl.oracle.crypto import NodeKey

    with pytest.raises(ValueError, match="not a member"):
        Replica(COMMITTEE, NodeKey.generate("oracle-1"))


def test_an_execution_error_makes_the_member_abstain() -> None:
    net = Net()
    request, _ = job()
    replica = net.replicas[2]
    replica.step(Submit(request, relay=False))
    effects = replica.step(Executed(0, request.job_id, error="input missing"))
    assert effects == [] and replica.instances[0].own_observation is None


def test_an_excluded_primary_is_replaced_at_once_and_its_messages_ignored() -> None:
    net = Net()
    for replica in net.replicas[1:]:
        replica.excluded = frozenset({0})
    net.submit(*job())
    decisions = [net.decided[i][0] for i in (1, 2, 3)]
    assert {d.view for d in decisions} == {1}  # no timer had to fire
    assert all("oracle-0" not in {s.node_id for s in d.certificate} for d in decisions)

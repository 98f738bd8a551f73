"""The autoscaler's policy and decisions, on given signals and an injected clock (no process, no store): scale up
at once to what keeps up with arrivals and works the backlog off in time, down one replica at a time once the
stabilisation window saw no need for the current count."""

from __future__ import annotations

from typing import Any

import pytest

from qcl.compute.autoscale import Autoscaler, ScalingPolicy, Signal, recommend

POLICY = ScalingPolicy(min_replicas=1, max_replicas=6, target_wait_s=10.0, scale_down_after_s=60.0)


def signal(queued: int = 0, running: int = 0, arrival_rate: float = 0.0, service_rate: float = 0.0) -> Signal:
    return Signal(queued=queued, running=running, arrival_rate=arrival_rate, service_rate=service_rate)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Group:
    """A target whose replicas appear and leave at once."""

    def __init__(self, replicas: int = 0) -> None:
        self.count = replicas
        self.asked: list[int] = []

    def replicas(self) -> int:
        return self.count

    def scale_to(self, replicas: int) -> None:
        self.asked.append(replicas)
        self.count = replicas

    def close(self) -> None:
        self.count = 0


def scaler(group: Group, clock: Clock, policy: ScalingPolicy = POLICY) -> Autoscaler:
    return Autoscaler(jobs=None, target=group, policy=policy, clock=clock)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("observed", "per_replica", "expected"),
    [
        (signal(arrival_rate=3.0), 1.0, 3),  # keep up: 3 jobs/s at 1 job/s each
        (signal(queued=40, arrival_rate=1.0), 1.0, 5),  # and work 40 off within 10 s: 1 + 4
        (signal(queued=1000, arrival_rate=5.0), 1.0, 6),  # capped at the maximum
        (signal(), 1.0, 1),  # idle: the minimum
        (signal(running=1), 50.0, 1),  # a job running keeps one replica even at a tiny need
        (signal(queued=3), None, 3),  # nothing measured yet: one more while jobs wait (from 2)
        (signal(running=1), None, 2),  # nothing measured, nothing waiting, work running: as it is
        (signal(arrival_rate=0.2), None, 2),  # or a job forecast within the 5 s horizon
        (signal(arrival_rate=0.1), None, 1),  # half a job is no need
        (signal(), None, 1),  # nothing measured and idle: the minimum (a burst can end between two decisions)
    ],
)
def test_the_recommendation_keeps_up_and_works_the_backlog_off_within_bounds(
    observed: Signal, per_replica: float | None, expected: int
) -> None:
    assert recommend(POLICY, observed, replicas=2, per_replica=per_replica) == expected


def test_scale_to_zero_and_back_from_it() -> None:
    policy = ScalingPolicy(min_replicas=0, max_replicas=3, scale_down_after_s=0)
    assert recommend(policy, signal(), replicas=1, per_replica=2.0) == 0
    assert recommend(policy, signal(queued=1), replicas=0, per_replica=None) == 1
    assert recommend(policy, signal(queued=1), replicas=0, per_replica=2.0) == 1


def test_up_at_once_down_one_at_a_time_after_the_stabilisation_window() -> None:
    clock, group = Clock(), Group(1)
    autoscaler = scaler(group, clock)
    autoscaler.per_replica = 1.0
    assert autoscaler.step(signal(queued=30, arrival_rate=2.0, service_rate=1.0)) == 5  # 2 + 30/10, in one step
    quiet = signal()
    for _ in range(59):  # inside the window: the burst's recommendation still stands
        clock.now += 1
        assert autoscaler.step(quiet) == 5
    clock.now += 2
    assert autoscaler.step(quiet) == 4  # one at a time...
    clock.now += 1
    assert autoscaler.step(quiet) == 4  # ...and the window starts again after each change
    clock.now += 61
    assert autoscaler.step(quiet) == 3
    assert group.asked == [5, 4, 3]
    assert [(e.replicas_from, e.replicas_to) for e in autoscaler.events] == [(1, 5), (5, 4), (4, 3)]


def test_a_need_seen_inside_the_window_holds_the_replicas() -> None:
    clock, group = Clock(), Group(3)
    autoscaler = scaler(group, clock)
    autoscaler.per_replica = 1.0
    clock.now += 100  # long since the last change
    autoscaler.step(signal(arrival_rate=3.0))  # needs the 3
    for _ in range(30):
        clock.now += 1
        assert autoscaler.step(signal()) == 3  # quiet for 30 s: the 3 seen 30 s ago still count
    clock.now += 31
    assert autoscaler.step(signal()) == 2


def test_throughput_is_measured_only_while_work_waits_and_per_replica_that_served() -> None:
    clock, group = Clock(), Group(2)
    autoscaler = scaler(group, clock)
    autoscaler.step(signal(arrival_rate=0.5, service_rate=0.5))  # idle workers: says nothing of capacity
    assert autoscaler.per_replica is None
    autoscaler.step(signal(queued=50, service_rate=4.0))  # saturated, 2 replicas served: 2 jobs/s each
    assert autoscaler.per_replica == pytest.approx(2.0)


def test_the_minimum_is_started_at_once() -> None:
    group = Group(0)
    autoscaler = Autoscaler(jobs=None, target=group, policy=ScalingPolicy(min_replicas=2, interval_s=60))  # type: ignore[arg-type]
    autoscaler.start()
    try:
        assert group.count == 2
        assert autoscaler.events[0].reason == "the policy's minimum"
    finally:
        autoscaler.stop()
    assert group.count == 0  # stopping closes the group


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"min_replicas": 3, "max_replicas": 2}, "need 0 <= min <= max and max >= 1 (got min 3, max 2)"),
        ({"min_replicas": 0, "max_replicas": 0}, "need 0 <= min <= max and max >= 1"),
        ({"target_wait_s": 0}, "target_wait_s must be above 0"),
        ({"scale_down_after_s": -1}, "scale_down_after_s must not be negative"),
    ],
)
def test_a_policy_that_cannot_work_is_refused_naming_the_field(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ScalingPolicy(**values)


def test_a_replica_removed_before_it_could_handle_sigterm_is_no_failure_but_one_that_dies_is() -> None:
    import sys
    import time

    from qcl.compute.autoscale import WorkerProcesses

    # A process without a SIGTERM handler dies of the signal (exit -15), as a replica still importing does.
    sleeper = WorkerProcesses([sys.executable, "-c", "import time; time.sleep(60)"])
    sleeper.scale_to(1)
    sleeper.scale_to(0)
    sleeper.close(timeout_s=10)
    assert sleeper.exits == [-15] and sleeper.failures == 0
    crasher = WorkerProcesses([sys.executable, "-c", "raise SystemExit(3)"])
    crasher.scale_to(1)
    deadline = time.monotonic() + 10
    while crasher.replicas() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert crasher.exits == [3] and crasher.failures == 1  # it ended on its own: a failure

"""The bus contract: every backend (memory, Pub/Sub emulator) passes the same tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pytest

from qcl.bus.base import Bus
from qcl.events import AI_REQUESTS, NETWORK_ANALYSIS, AIRequest, Envelope
from tests.backends import wait_for


def request_event(n: int, *, event_id: str | None = None) -> Envelope[AIRequest]:
    data = AIRequest(request_id=f"r{n}", kind="question", question=f"question {n}?", language="en")
    return AI_REQUESTS.event(data, source="//tests", event_id=event_id)


class Recorder:
    """A handler that records what it saw; `fail` decides, per event and attempt, whether to raise."""

    def __init__(self, fail: Callable[[Envelope[AIRequest], int], bool] = lambda event, attempt: False) -> None:
        self.fail = fail
        self.attempts: dict[str, int] = {}
        self.done: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, event: Envelope[AIRequest]) -> None:
        with self._lock:
            attempt = self.attempts[event.data.request_id] = self.attempts.get(event.data.request_id, 0) + 1
        if self.fail(event, attempt):
            raise RuntimeError(f"refusing {event.data.request_id} on attempt {attempt}")
        with self._lock:
            self.done.append(event.data.request_id)


def test_published_event_reaches_the_handler_intact(bus: Bus) -> None:
    seen: list[Envelope[AIRequest]] = []
    bus.subscribe(AI_REQUESTS, "narrator", seen.append)
    sent = request_event(1)
    bus.publish(AI_REQUESTS, sent)
    assert wait_for(lambda: len(seen) == 1)
    assert seen[0] == sent


def test_events_published_before_the_consumer_attaches_are_delivered(bus: Bus) -> None:
    bus.publish(AI_REQUESTS, request_event(1))
    recorder = Recorder()
    bus.subscribe(AI_REQUESTS, "narrator", recorder)
    assert wait_for(lambda: recorder.done == ["r1"])


def test_every_consumer_of_a_topic_gets_every_event(bus: Bus) -> None:
    from qcl.analysis.report import AnalysisReport

    got: dict[str, list[str]] = {consumer: [] for consumer in NETWORK_ANALYSIS.consumers}
    for consumer in NETWORK_ANALYSIS.consumers:
        bus.subscribe(NETWORK_ANALYSIS, consumer, lambda e, c=consumer: got[c].append(e.id))
    report = AnalysisReport.model_validate(
        {
            "observed_at": "2025-11-12T09:00:00Z",
            "health_score": 100,
            "status": "healthy",
            "metrics": None,
            "findings": [],
            "window_observations": 1,
        }
    )
    event = NETWORK_ANALYSIS.event(report, source="//tests")
    bus.publish(NETWORK_ANALYSIS, event)
    assert wait_for(lambda: all(ids == [event.id] for ids in got.values()))


def test_a_nacked_event_is_redelivered_until_the_handler_succeeds(bus: Bus) -> None:
    recorder = Recorder(fail=lambda event, attempt: attempt < 3)
    bus.subscribe(AI_REQUESTS, "narrator", recorder)
    bus.publish(AI_REQUESTS, request_event(1))
    assert wait_for(lambda: recorder.done == ["r1"])
    assert recorder.attempts["r1"] == 3
    assert bus.drain_dead_letters(AI_REQUESTS, timeout_s=1) == []


def test_an_event_that_keeps_failing_goes_to_the_dead_letter_topic_with_the_reason(bus: Bus) -> None:
    recorder = Recorder(fail=lambda event, attempt: event.data.request_id == "r1")
    bus.subscribe(AI_REQUESTS, "narrator", recorder)
    bus.publish(AI_REQUESTS, request_event(1))
    bus.publish(AI_REQUESTS, request_event(2))
    dead: list[Any] = []
    assert wait_for(lambda: bool(dead.extend(bus.drain_dead_letters(AI_REQUESTS, timeout_s=1))) or len(dead) == 1)
    assert recorder.attempts["r1"] == bus.max_attempts
    assert "refusing r1 on attempt 5" in dead[0].reason
    assert dead[0].attempts == bus.max_attempts
    assert dead[0].subscription == "ai-requests.narrator"
    assert AI_REQUESTS.decode(dead[0].data).data.request_id == "r1"  # the original bytes, unchanged
    assert wait_for(lambda: "r2" in recorder.done)


def test_a_poison_message_is_dead_lettered_at_once_and_the_next_event_flows(bus: Bus) -> None:
    recorder = Recorder()
    bus.subscribe(AI_REQUESTS, "narrator", recorder)
    bus.publish_bytes(AI_REQUESTS.name, b'{"type": "qcl.ai.request.v1", "id": "x"', {}, ordering_key="k")
    bus.publish(AI_REQUESTS, request_event(2), ordering_key="k")
    assert wait_for(lambda: recorder.done == ["r2"])
    dead: list[Any] = []
    assert wait_for(lambda: bool(dead.extend(bus.drain_dead_letters(AI_REQUESTS, timeout_s=1))) or len(dead) == 1)
    assert dead[0].reason.startswith("undecodable event: ai-requests: event is not JSON")
    assert dead[0].attempts == 1


def test_an_event_of_the_wrong_type_is_dead_lettered_naming_both_types(bus: Bus) -> None:
    bus.subscribe(AI_REQUESTS, "narrator", Recorder())
    bus.publish_bytes(AI_REQUESTS.name, b'{"type": "qcl.ai.request.v9", "id": "x"}', {})
    dead: list[Any] = []
    assert wait_for(lambda: bool(dead.extend(bus.drain_dead_letters(AI_REQUESTS, timeout_s=1))) or len(dead) == 1)
    assert "must be 'qcl.ai.request.v1', got 'qcl.ai.request.v9'" in dead[0].reason


def test_events_with_one_ordering_key_are_handled_in_publish_order(bus: Bus) -> None:
    recorder = Recorder()
    bus.subscribe(AI_REQUESTS, "narrator", recorder)
    for n in range(30):
        bus.publish(AI_REQUESTS, request_event(n), ordering_key="network")
    assert wait_for(lambda: len(recorder.done) == 30)
    assert recorder.done == [f"r{n}" for n in range(30)]


def test_a_retried_keyed_event_is_handled_and_the_key_keeps_flowing(bus: Bus) -> None:
    recorder = Recorder(fail=lambda event, attempt: event.data.request_id == "r3" and attempt == 1)
    bus.subscribe(AI_REQUESTS, "narrator", recorder)
    for n in range(10):
        bus.publish(AI_REQUESTS, request_event(n), ordering_key="network")
    assert wait_for(lambda: sorted(set(recorder.done)) == sorted(f"r{n}" for n in range(10)))
    assert recorder.done[:3] == ["r0", "r1", "r2"]
    assert recorder.attempts["r3"] == 2


def test_a_closed_subscription_stops_delivering(bus: Bus) -> None:
    recorder = Recorder()
    subscription = bus.subscribe(AI_REQUESTS, "narrator", recorder)
    bus.publish(AI_REQUESTS, request_event(1))
    assert wait_for(lambda: recorder.done == ["r1"])
    subscription.close()
    bus.publish(AI_REQUESTS, request_event(2))
    assert not wait_for(lambda: len(recorder.done) > 1, timeout_s=1.0)


def test_subscribing_as_an_unknown_consumer_names_the_consumers(bus: Bus) -> None:
    with pytest.raises(KeyError, match="'dashboard' is not a consumer of topic 'ai-requests'; consumers: narrator"):
        bus.subscribe(AI_REQUESTS, "dashboard", Recorder())


def test_a_working_bus_answers_ping(bus: Bus) -> None:
    assert bus.ping() is True


def report_event(n: int) -> Envelope[Any]:
    from qcl.analysis.report import AnalysisReport

    report = AnalysisReport.model_validate(
        {
            "observed_at": "2025-11-12T09:00:00Z",
            "health_score": n,
            "status": "critical",
            "metrics": None,
            "findings": [],
            "window_observations": 1,
        }
    )
    return NETWORK_ANALYSIS.event(report, source="//tests")


def test_an_ordered_topic_is_handled_in_publish_order_in_batches(bus: Bus) -> None:
    seen: list[int] = []
    bus.subscribe(NETWORK_ANALYSIS, "api", lambda event: seen.append(event.data.health_score))
    for published in [bus.publish_nowait(NETWORK_ANALYSIS, report_event(n), ordering_key="net") for n in range(60)]:
        published.result(timeout=30)
    assert wait_for(lambda: len(seen) == 60)
    assert seen == list(range(60))


def test_an_event_whose_output_fails_to_publish_is_redelivered(bus: Bus) -> None:
    attempts: list[int] = []

    def handler(event: Envelope[Any]) -> Future[str]:
        attempts.append(event.data.health_score)
        output: Future[str] = Future()
        if len(attempts) == 1:
            output.set_exception(ConnectionError("bus unreachable"))
        else:
            output.set_result("published")
        return output

    bus.subscribe(NETWORK_ANALYSIS, "api", handler)
    bus.publish(NETWORK_ANALYSIS, report_event(7), ordering_key="net")
    assert wait_for(lambda: attempts == [7, 7])
    assert not wait_for(lambda: len(attempts) > 2, timeout_s=1.0)
    assert bus.drain_dead_letters(NETWORK_ANALYSIS, timeout_s=1) == []


def test_bytes_that_are_not_text_are_dead_lettered_unchanged(bus: Bus) -> None:
    recorder = Recorder()
    bus.subscribe(AI_REQUESTS, "narrator", recorder)
    poison = b"\xff\xfe\x00binary"
    bus.publish_bytes(AI_REQUESTS.name, poison, {"origin": "tests"})
    bus.publish(AI_REQUESTS, request_event(2))
    assert wait_for(lambda: recorder.done == ["r2"])
    dead: list[Any] = []
    assert wait_for(lambda: bool(dead.extend(bus.drain_dead_letters(AI_REQUESTS, timeout_s=1))) or len(dead) == 1)
    assert dead[0].data == poison
    assert dead[0].reason.startswith("undecodable event: ai-requests:")

"""record() writes capture lines from the live RPC (the fake on loopback) and skips failed observations."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from qcl.qubic.capture import read_capture
from qcl.qubic.record import RecordProgress, record
from qcl.qubic.rpc import QubicRpcClient
from qcl.qubic.types import Observation
from tests.fakes.qubic_rpc import TICK_INFO, FakeQubicRpc, rpc_error


@pytest.fixture
def rpc() -> Iterator[FakeQubicRpc]:
    with FakeQubicRpc(tick_step=3) as server:
        yield server


@pytest.fixture
def client(rpc: FakeQubicRpc) -> Iterator[QubicRpcClient]:
    with QubicRpcClient(rpc.url, timeout_s=0.5, attempts=1, breaker_failures=100) as made:
        yield made


def test_record_writes_one_valid_capture_line_per_observation(client: QubicRpcClient) -> None:
    sink = io.StringIO()

    written = record(client, sink, count=3, interval_s=0, sleep=lambda _s: None)

    items = list(read_capture(io.StringIO(sink.getvalue())))
    assert written == 3
    assert all(isinstance(item, Observation) for item in items)
    assert [item.tick.tick for item in items if isinstance(item, Observation)] == [36_695_873, 36_695_876, 36_695_879]


def test_record_skips_a_failed_observation_and_goes_on(
    rpc: FakeQubicRpc, client: QubicRpcClient, caplog: pytest.LogCaptureFixture
) -> None:
    sink = io.StringIO()
    rpc.script(TICK_INFO, [rpc_error(503)])  # the first poll fails, the next two succeed

    with caplog.at_level(logging.WARNING, logger="qcl.qubic.record"):
        written = record(client, sink, count=3, interval_s=0, sleep=lambda _s: None)

    assert written == 2
    assert len(sink.getvalue().splitlines()) == 2
    assert "poll 1: no observation recorded: GET /live/v1/tick-info: HTTP 503" in caplog.text


def test_record_polls_on_a_fixed_cadence(client: QubicRpcClient) -> None:
    now = [100.0]
    sleeps: list[float] = []

    def clock() -> float:
        now[0] += 0.25  # the clock is read once per poll: each poll takes a quarter second
        return now[0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    record(client, io.StringIO(), count=3, interval_s=10, sleep=sleep, clock=clock)

    assert sleeps == [pytest.approx(9.75), pytest.approx(9.75)]  # no sleep after the last poll


def test_record_reports_progress_after_each_poll(rpc: FakeQubicRpc, client: QubicRpcClient) -> None:
    progress: list[RecordProgress] = []
    rpc.script(TICK_INFO, [rpc_error(500)])

    record(client, io.StringIO(), count=2, interval_s=0, sleep=lambda _s: None, on_progress=progress.append)

    assert [(p.polls, p.written, p.observation is None) for p in progress] == [(1, 0, True), (2, 1, False)]
    assert progress[0].error is not None and "HTTP 500" in progress[0].error
    assert str(progress[-1]) == "1 of 2 polls (1 failed)"

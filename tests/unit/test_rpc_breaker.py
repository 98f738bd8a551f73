"""The client's circuit breaker, against the fake RPC on loopback: opens, fails fast, half-opens, closes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from qcl.qubic.rpc import CircuitOpenError, QubicRpcClient, SourceUnavailableError
from tests.fakes.qubic_rpc import LATEST_STATS, TICK_INFO, FakeQubicRpc, rpc_error

COOLDOWN_S = 0.2


@pytest.fixture
def rpc() -> Iterator[FakeQubicRpc]:
    with FakeQubicRpc() as server:
        yield server


def breaker_client(rpc: FakeQubicRpc, failures: int = 3) -> QubicRpcClient:
    return QubicRpcClient(
        rpc.url,
        timeout_s=0.5,
        attempts=1,
        backoff_s=0.001,
        breaker_failures=failures,
        breaker_cooldown_s=COOLDOWN_S,
    )


def fail(client: QubicRpcClient, times: int) -> None:
    for _ in range(times):
        with pytest.raises(SourceUnavailableError):
            client.tick_info()


def test_breaker_opens_after_consecutive_failures_and_fails_fast_without_calling(rpc: FakeQubicRpc) -> None:
    client = breaker_client(rpc, failures=3)
    rpc.script(TICK_INFO, [rpc_error(503)] * 3)
    fail(client, 3)

    with pytest.raises(CircuitOpenError) as raised:
        client.latest_stats()

    assert rpc.calls_to(LATEST_STATS) == 0
    assert client.circuit_state == "open"
    message = str(raised.value)
    assert message.startswith("GET /v1/latest-stats: circuit open after 3 consecutive failures; retrying after ")
    assert "(last failure: GET /live/v1/tick-info: HTTP 503" in message


def test_breaker_half_opens_after_the_cooldown_and_a_successful_trial_closes_it(rpc: FakeQubicRpc) -> None:
    client = breaker_client(rpc, failures=2)
    rpc.script(TICK_INFO, [rpc_error(500)] * 2)
    fail(client, 2)
    time.sleep(COOLDOWN_S + 0.05)

    assert client.tick_info().tick_info.tick == 36_695_873

    assert rpc.calls_to(TICK_INFO) == 3
    assert client.circuit_state == "closed"


def test_a_failed_trial_call_opens_the_breaker_again(rpc: FakeQubicRpc) -> None:
    client = breaker_client(rpc, failures=2)
    rpc.script(TICK_INFO, [rpc_error(500)] * 3)
    fail(client, 2)
    time.sleep(COOLDOWN_S + 0.05)

    fail(client, 1)  # the trial call reaches the server and fails with its real error

    with pytest.raises(CircuitOpenError):
        client.tick_info()
    assert rpc.calls_to(TICK_INFO) == 3


def test_a_success_resets_the_consecutive_failure_count(rpc: FakeQubicRpc) -> None:
    client = breaker_client(rpc, failures=2)
    rpc.script(TICK_INFO, [rpc_error(503)])
    fail(client, 1)
    client.latest_stats()
    rpc.script(TICK_INFO, [rpc_error(503)])
    fail(client, 1)

    assert client.circuit_state == "closed"


def test_client_errors_do_not_count_towards_opening_the_breaker(rpc: FakeQubicRpc) -> None:
    # A 404 means the host answered: the breaker guards against outages, not against wrong requests.
    client = breaker_client(rpc, failures=2)
    rpc.script(TICK_INFO, [rpc_error(404, "Not Found")] * 3)

    for _ in range(3):
        with pytest.raises(Exception, match="HTTP 404"):
            client.tick_info()

    assert client.circuit_state == "closed"

"""QubicRpcClient.observe() and the RpcSource adapter, against the fake RPC on loopback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from qcl.config import load_settings
from qcl.errors import SourceError
from qcl.qubic.capture import InvalidLine, parse_line
from qcl.qubic.rpc import CircuitOpenError, QubicRpcClient
from qcl.qubic.source import ObservationSource, RpcSource, open_source
from qcl.qubic.types import Observation
from tests.fakes.qubic_rpc import (
    LAST_PROCESSED_TICK,
    LATEST_STATS,
    TICK_INFO,
    TICK_INTERVALS,
    FakeQubicRpc,
    cloudflare_page,
    json_reply,
    rpc_error,
)

OBSERVED_AT = datetime(2025, 11, 8, 15, 30, tzinfo=UTC)


@pytest.fixture
def rpc() -> Iterator[FakeQubicRpc]:
    with FakeQubicRpc(tick_step=5) as server:
        yield server


@pytest.fixture
def client(rpc: FakeQubicRpc) -> Iterator[QubicRpcClient]:
    with QubicRpcClient(rpc.url, timeout_s=0.5, attempts=2, backoff_s=0.001, breaker_failures=100) as made:
        yield made


def test_observe_builds_one_observation_from_the_four_endpoints(rpc: FakeQubicRpc, client: QubicRpcClient) -> None:
    observation = client.observe(lambda: OBSERVED_AT)

    assert observation.observed_at == OBSERVED_AT
    assert observation.tick.tick == 36_695_873
    assert observation.stats.epoch == 186
    assert observation.last_processed_tick is not None
    assert observation.last_processed_tick.tick_number == 36_695_860
    assert observation.tick_intervals is not None
    assert len(observation.tick_intervals) == 2
    assert [rpc.calls_to(path) for path in (TICK_INFO, LATEST_STATS, LAST_PROCESSED_TICK, TICK_INTERVALS)] == [
        1,
        1,
        1,
        1,
    ]


def test_observation_round_trips_through_a_capture_line(client: QubicRpcClient) -> None:
    observation = client.observe()

    assert parse_line(observation.to_json_line(), 1) == observation


def test_observed_at_defaults_to_timezone_aware_utc_now(client: QubicRpcClient) -> None:
    before = datetime.now(UTC)

    observed_at = client.observe().observed_at

    assert observed_at.tzinfo is not None and observed_at.utcoffset() == UTC.utcoffset(None)
    assert before <= observed_at <= datetime.now(UTC)


def test_consecutive_observations_follow_the_advancing_tick(client: QubicRpcClient) -> None:
    ticks = [client.observe().tick.tick for _ in range(3)]

    assert ticks == [36_695_873, 36_695_878, 36_695_883]


def test_observe_goes_out_without_the_query_api_when_it_fails(
    rpc: FakeQubicRpc, client: QubicRpcClient, caplog: pytest.LogCaptureFixture
) -> None:
    rpc.script(LAST_PROCESSED_TICK, [rpc_error(500, "getting tick intervals")] * 2)
    rpc.script(TICK_INTERVALS, [cloudflare_page(502)] * 2)

    with caplog.at_level(logging.WARNING, logger="qcl.qubic.rpc"):
        observation = client.observe()

    assert observation.last_processed_tick is None
    assert observation.tick_intervals is None
    assert observation.tick.tick == 36_695_873
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert warnings[0].startswith("GET /query/v1/getLastProcessedTick: HTTP 500")
    assert warnings[1].startswith("GET /query/v1/getProcessedTickIntervals: non-JSON body (text/html")


@pytest.mark.parametrize("required", [TICK_INFO, LATEST_STATS])
def test_observe_fails_when_a_required_endpoint_fails(rpc: FakeQubicRpc, client: QubicRpcClient, required: str) -> None:
    rpc.script(required, [rpc_error(503)] * 2)

    with pytest.raises(SourceError, match=f"^GET {required}: HTTP 503"):
        client.observe()


def test_observe_raises_when_the_breaker_opens_on_an_optional_call(rpc: FakeQubicRpc) -> None:
    # With a breaker that opens on one failure, the Query API failing opens it: the host counts as down.
    client = QubicRpcClient(rpc.url, timeout_s=0.5, attempts=1, breaker_failures=1, breaker_cooldown_s=60)
    rpc.script(LAST_PROCESSED_TICK, [rpc_error(503)])

    with pytest.raises(CircuitOpenError):
        client.observe()

    assert rpc.calls_to(TICK_INTERVALS) == 0


def test_rpc_source_turns_an_invalid_body_into_an_invalid_line(rpc: FakeQubicRpc, client: QubicRpcClient) -> None:
    source = RpcSource(client, now=lambda: OBSERVED_AT)
    rpc.script(TICK_INFO, [json_reply({"tickInfo": {"tick": 0, "duration": 0, "epoch": 0, "initialTick": 0}})])

    first = source.next()
    second = source.next()

    assert isinstance(first, InvalidLine)
    assert first.line_number == 1
    assert first.observed_at == OBSERVED_AT
    assert "poll 1: GET /live/v1/tick-info: body does not match the schema" in first.reason
    assert "all zeros" in first.reason
    assert isinstance(second, Observation)


def test_rpc_source_raises_when_the_rpc_is_unreachable(rpc: FakeQubicRpc, client: QubicRpcClient) -> None:
    rpc.script(TICK_INFO, [rpc_error(503)] * 2)

    with pytest.raises(SourceError, match="gave up after 2 attempts"):
        RpcSource(client).next()


def test_open_source_with_source_rpc_polls_the_configured_url(rpc: FakeQubicRpc) -> None:
    settings = load_settings(source="rpc", rpc_url=rpc.url, rpc_timeout_s=2, rpc_attempts=1)

    source = open_source(settings)
    try:
        assert isinstance(source, ObservationSource)
        item = source.next()
    finally:
        source.close()

    assert isinstance(item, Observation)
    assert rpc.calls_to(TICK_INFO) == 1

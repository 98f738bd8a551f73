"""QubicRpcClient against a real HTTP server on loopback (tests/fakes/qubic_rpc.py): parsing, retries, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from qcl.errors import SourceError
from qcl.qubic.rpc import InvalidBodyError, QubicRpcClient, SourceUnavailableError
from tests.fakes.qubic_rpc import (
    LAST_PROCESSED_TICK,
    LATEST_STATS,
    TICK_INFO,
    TICK_INTERVALS,
    FakeQubicRpc,
    cloudflare_page,
    fixture_bytes,
    golden_json,
    hang,
    json_reply,
    patched,
    rpc_error,
    truncated,
)

TIMEOUT_S = 0.3


@pytest.fixture
def rpc() -> Iterator[FakeQubicRpc]:
    with FakeQubicRpc() as server:
        yield server


def client_for(rpc: FakeQubicRpc, **overrides: Any) -> QubicRpcClient:
    """A client with tiny backoff, a short timeout and a breaker that stays out of the way."""
    options: dict[str, Any] = {
        "timeout_s": TIMEOUT_S,
        "attempts": 3,
        "backoff_s": 0.001,
        "backoff_max_s": 0.01,
        "breaker_failures": 100,
    }
    options.update(overrides)
    return QubicRpcClient(rpc.url, **options)


def latest_stats_with(changes: dict[str, Any]) -> Any:
    return json_reply(patched(golden_json(LATEST_STATS), changes))


# -- golden bodies -------------------------------------------------------------------------------------


def test_latest_stats_golden_body_parses_64_bit_strings_and_exponent_price(rpc: FakeQubicRpc) -> None:
    assert b'"price":9.12e-7' in fixture_bytes("latest-stats.json")  # the exact protojson form is served

    stats = client_for(rpc).latest_stats().data

    assert stats.circulating_supply == 156_381_204_887_512
    assert stats.burned_qus == 29_618_795_112_488
    assert stats.market_cap == 142_619_661
    assert stats.price == pytest.approx(9.12e-7)
    assert stats.timestamp == 1_762_615_800
    assert stats.tick_quality_last_10k == pytest.approx(99.73)


def test_tick_info_golden_body_parses(rpc: FakeQubicRpc) -> None:
    tick = client_for(rpc).tick_info().tick_info

    assert (tick.tick, tick.duration, tick.epoch, tick.initial_tick) == (36_695_873, 1, 186, 36_440_000)


def test_last_processed_tick_golden_body_parses(rpc: FakeQubicRpc) -> None:
    last = client_for(rpc).last_processed_tick()

    assert (last.tick_number, last.epoch, last.interval_initial_tick) == (36_695_860, 186, 36_440_000)
    assert last.last_processed_log_tick == 36_695_852


def test_processed_tick_intervals_bare_array_parses_oldest_first(rpc: FakeQubicRpc) -> None:
    intervals = client_for(rpc).processed_tick_intervals()

    assert [(i.epoch, i.first_tick, i.last_tick) for i in intervals] == [
        (185, 35_871_563, 36_439_817),
        (186, 36_440_000, 36_695_860),
    ]


def test_a_64_bit_field_sent_as_a_number_is_accepted_as_protojson_allows(rpc: FakeQubicRpc) -> None:
    rpc.script(LATEST_STATS, [latest_stats_with({"data.circulatingSupply": 156_381_204_887_512})])

    assert client_for(rpc).latest_stats().data.circulating_supply == 156_381_204_887_512


# -- retries -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503, 500, 502])
def test_retryable_status_is_retried_until_success(rpc: FakeQubicRpc, status: int) -> None:
    rpc.script(TICK_INFO, [rpc_error(status), rpc_error(status)])

    tick = client_for(rpc, attempts=3).tick_info()

    assert tick.tick_info.tick == 36_695_873
    assert rpc.calls_to(TICK_INFO) == 3


def test_gives_up_after_the_attempt_limit_naming_endpoint_and_status(rpc: FakeQubicRpc) -> None:
    rpc.script(TICK_INFO, [rpc_error(503, "no healthy upstream")] * 5)

    with pytest.raises(SourceUnavailableError) as raised:
        client_for(rpc, attempts=3).tick_info()

    assert rpc.calls_to(TICK_INFO) == 3
    message = str(raised.value)
    assert message.startswith("GET /live/v1/tick-info: HTTP 503")
    assert 'gRPC status 14 (Unavailable) "no healthy upstream"' in message
    assert "gave up after 3 attempts" in message


def test_retry_after_on_429_sets_the_wait(rpc: FakeQubicRpc) -> None:
    waits: list[float] = []
    rpc.script(LATEST_STATS, [rpc_error(429, retry_after="2")])

    client_for(rpc, sleep=waits.append).latest_stats()

    assert waits == [2.0]


def test_retry_after_is_capped(rpc: FakeQubicRpc) -> None:
    waits: list[float] = []
    rpc.script(LATEST_STATS, [rpc_error(503, retry_after="3600")])

    client_for(rpc, sleep=waits.append, retry_after_max_s=5.0).latest_stats()

    assert waits == [5.0]


def test_backoff_without_retry_after_is_jittered_within_the_exponential_window(rpc: FakeQubicRpc) -> None:
    waits: list[float] = []
    rpc.script(TICK_INFO, [rpc_error(500)] * 3)

    client_for(rpc, attempts=4, sleep=waits.append, backoff_s=1.0, backoff_max_s=3.0).tick_info()

    assert len(waits) == 3
    for wait, window in zip(waits, [1.0, 2.0, 3.0], strict=True):  # 1 × 2^(n-1), capped at 3
        assert 0.0 <= wait <= window


@pytest.mark.parametrize(
    ("status", "fixture", "quoted"),
    [
        (400, "error-failed-precondition.json", '(FailedPrecondition) "invalid tick number: rpc error: code = '),
        (404, "error-not-found.json", 'gRPC status 5 (NotFound) "Not Found"'),
    ],
)
def test_client_errors_are_not_retried_and_quote_the_grpc_message(
    rpc: FakeQubicRpc, status: int, fixture: str, quoted: str
) -> None:
    rpc.script(LAST_PROCESSED_TICK, [json_reply(json.loads(fixture_bytes(fixture)), status)])

    with pytest.raises(SourceError) as raised:
        client_for(rpc).last_processed_tick()

    assert rpc.calls_to(LAST_PROCESSED_TICK) == 1
    assert not isinstance(raised.value, SourceUnavailableError)
    assert str(raised.value).startswith(f"GET /query/v1/getLastProcessedTick: HTTP {status} with gRPC status")
    assert quoted in str(raised.value)


def test_error_details_are_included(rpc: FakeQubicRpc) -> None:
    rpc.script(TICK_INTERVALS, [json_reply(json.loads(fixture_bytes("error-failed-precondition.json")), 400)])

    with pytest.raises(SourceError, match=r'details: \[\{"@type":"type.googleapis.com/qubic.archiver'):
        client_for(rpc).processed_tick_intervals()


def test_timeout_is_retried_then_reported(rpc: FakeQubicRpc) -> None:
    rpc.script(TICK_INFO, [hang(5.0)] * 2)

    with pytest.raises(SourceUnavailableError) as raised:
        client_for(rpc, attempts=2).tick_info()

    assert rpc.calls_to(TICK_INFO) == 2
    assert str(raised.value) == (
        f"GET /live/v1/tick-info: no answer within {TIMEOUT_S:g} s (ReadTimeout) (gave up after 2 attempts)"
    )


def test_a_timeout_followed_by_an_answer_succeeds(rpc: FakeQubicRpc) -> None:
    rpc.script(TICK_INFO, [hang(5.0)])

    assert client_for(rpc).tick_info().tick_info.tick == 36_695_873
    assert rpc.calls_to(TICK_INFO) == 2


def test_connection_refused_is_retried_then_reported() -> None:
    with FakeQubicRpc() as stopped:
        url = stopped.url
    client = QubicRpcClient(url, attempts=2, backoff_s=0.001, timeout_s=TIMEOUT_S)

    with pytest.raises(SourceUnavailableError, match=r"cannot reach http://127\.0\.0\.1:\d+ \(ConnectError"):
        client.tick_info()


# -- bodies that are not what they should be -----------------------------------------------------------


def test_proxy_html_page_gives_a_non_json_error_with_status_and_size(rpc: FakeQubicRpc) -> None:
    page = cloudflare_page(502)
    rpc.script(LATEST_STATS, [page] * 3)

    with pytest.raises(SourceUnavailableError) as raised:
        client_for(rpc).latest_stats()

    assert page.body is not None
    assert (
        f"GET /v1/latest-stats: non-JSON body (text/html, {len(page.body)} bytes) with HTTP 502 "
        'titled "rpc.qubic.org | 502: Bad gateway"'
    ) in str(raised.value)


def test_truncated_json_body_is_an_invalid_body_and_not_retried(rpc: FakeQubicRpc) -> None:
    rpc.script(LATEST_STATS, [truncated(LATEST_STATS)])

    with pytest.raises(InvalidBodyError, match=r"^GET /v1/latest-stats: malformed JSON body \(application/json"):
        client_for(rpc).latest_stats()

    assert rpc.calls_to(LATEST_STATS) == 1


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("data.circulatingSupply", 1.5e14, "data.circulatingSupply: Value error, expected a 64-bit integer"),
        ("data.marketCap", "lots", "data.marketCap: Value error, expected a 64-bit integer"),
        ("data.activeAddresses", True, "data.activeAddresses: Value error, expected a 32-bit integer"),
        ("data.price", -1.0, "data.price: Input should be greater than or equal to 0"),
    ],
)
def test_invalid_field_is_named_in_the_error(rpc: FakeQubicRpc, field: str, value: Any, named: str) -> None:
    rpc.script(LATEST_STATS, [latest_stats_with({field: value})])

    with pytest.raises(InvalidBodyError) as raised:
        client_for(rpc).latest_stats()

    assert str(raised.value).startswith("GET /v1/latest-stats: body does not match the schema: ")
    assert named in str(raised.value)


def test_invalid_element_of_the_interval_array_is_named_by_index(rpc: FakeQubicRpc) -> None:
    intervals = patched(golden_json(TICK_INTERVALS), {"1.lastTick": "36695860"})  # uint32 must be a number
    rpc.script(TICK_INTERVALS, [json_reply(intervals)])

    with pytest.raises(InvalidBodyError, match=r"1\.lastTick: Value error, expected a 32-bit integer"):
        client_for(rpc).processed_tick_intervals()


def test_unknown_path_answers_like_the_gateway(rpc: FakeQubicRpc) -> None:
    # The fake's routing error has the gateway's shape, so a wrong base URL reads as a 404 NotFound.
    client = client_for(rpc)
    client.base_url = rpc.url + "/wrong-prefix"

    with pytest.raises(SourceError, match=r'HTTP 404 with gRPC status 5 \(NotFound\) "Not Found"'):
        client.tick_info()


def test_internal_error_from_the_live_api_is_retried_and_quoted(rpc: FakeQubicRpc) -> None:
    body = json.loads(fixture_bytes("error-internal.json"))
    rpc.script(TICK_INFO, [json_reply(body, 500)] * 2)

    with pytest.raises(SourceUnavailableError) as raised:
        client_for(rpc, attempts=2).tick_info()

    assert rpc.calls_to(TICK_INFO) == 2
    assert 'HTTP 500 with gRPC status 13 (Internal) "getting tick info from node: ' in str(raised.value)

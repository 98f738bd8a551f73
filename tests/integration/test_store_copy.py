"""`qcl store copy` between two namespaces of a real redis-server: every shape of state arrives with its time left,
a target holding keys is refused untouched unless --replace, and a server that does not answer costs nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from qcl.cli import app
from qcl.store.redis import RedisStore
from tests.backends import unique

pytestmark = pytest.mark.redis


@pytest.fixture
def stores(redis_server_url: str) -> Iterator[tuple[RedisStore, RedisStore]]:
    source = RedisStore(redis_server_url, prefix=unique("qcl-copy-from:") + ":")
    target = RedisStore(redis_server_url, prefix=unique("qcl-copy-to:") + ":")
    yield source, target
    for store in (source, target):
        store.clear()
        store.close()


def _copy(url: str, source: RedisStore, target: RedisStore, *extra: str) -> tuple[int, str]:
    args = ["store", "copy", "--from-url", url, "--from-prefix", source._prefix, "--to-url", url]
    result = CliRunner().invoke(app, [*args, "--to-prefix", target._prefix, *extra])
    return result.exit_code, result.output


def _contents(store: RedisStore) -> dict[str, object]:
    return {entry.key: entry.value for entry in store.scan()}


def test_every_shape_arrives_with_its_time_left(redis_server_url: str, stores: tuple[RedisStore, RedisStore]) -> None:
    source, target = stores
    source.put("analysis:latest", '{"health": 97}')
    source.put("idempotency:e1", "1", ttl_s=600)
    source.incr("quota:k1", 3)
    source.list_push("insights:recent", "a", max_len=10)
    source.list_push("insights:recent", "b", max_len=10)
    source.window_add("window:observations", 1.5, "tick-1")
    source.window_add("window:observations", 2.5, "tick-2")
    source.take_tokens("ratelimit:k1", capacity=5, refill_per_s=1)  # a bucket stays behind

    code, output = _copy(redis_server_url, source, target, "--json")

    assert code == 0, output
    assert json.loads(output)["keys"] == 5
    assert _contents(target) == _contents(source)
    assert target.list_range("insights:recent", 10) == ["b", "a"]
    assert target.window_range("window:observations") == ["tick-1", "tick-2"]
    ttl = {e.key: e.ttl_s for e in target.scan()}
    assert ttl["analysis:latest"] is None
    assert ttl["idempotency:e1"] is not None and 590 < ttl["idempotency:e1"] <= 600


def test_a_target_holding_keys_is_refused_untouched_unless_replace(
    redis_server_url: str, stores: tuple[RedisStore, RedisStore]
) -> None:
    source, target = stores
    source.put("analysis:latest", "new")
    target.put("analysis:latest", "old")
    target.put("stale", "x")

    code, output = _copy(redis_server_url, source, target)
    assert code == 1
    assert "the target already holds 2 keys; nothing was copied" in output
    assert _contents(target) == {"analysis:latest": "old", "stale": "x"}

    code, output = _copy(redis_server_url, source, target, "--replace")
    assert code == 0, output
    assert "copied 1 keys" in output
    assert _contents(target) == {"analysis:latest": "new"}


def test_a_source_that_does_not_answer_writes_nothing(
    stores: tuple[RedisStore, RedisStore], redis_server_url: str
) -> None:
    _, target = stores
    args = ["store", "copy", "--from-url", "redis://127.0.0.1:1/0", "--to-url", redis_server_url]
    result = CliRunner().invoke(app, [*args, "--to-prefix", target._prefix])
    assert result.exit_code == 1
    assert "a store did not answer: ConnectionError" in result.output
    assert _contents(target) == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from-url", "redis://h/0", "--to-url", "redis://h/0"], "the source and the target are the same store"),
        (
            ["--from-url", "http://h/0", "--to-url", "redis://h/0"],
            "Redis URL must specify one of the",
        ),
    ],
)
def test_a_copy_that_cannot_be_meant_is_a_usage_error(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["store", "copy", *args])
    assert result.exit_code == 2
    assert message in result.output

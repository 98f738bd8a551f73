"""The Redis store (Memorystore on Google Cloud): values with TTL, sorted sets for windows, capped lists."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import Any, cast

import redis

from qcl.store.base import Entry, EntryKind, Notices, Store, check_bucket

# The token bucket in one script, so that a check and its take are one atomic step on the server, and the clock is
# the server's (instances' clocks may disagree). State: a hash {tokens, at}; it expires once the bucket is full again.
_TAKE_TOKENS = """
local capacity, rate, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= cost then tokens = tokens - cost else wait = (cost - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1)
return string.format('%.6f', wait)
"""

# A queue claim: the lowest-scored member (or the named one) leaves KEYS[1] and enters KEYS[2] at ARGV[1], in one step.
_WINDOW_MOVE = """
local member = ARGV[2]
if member == '' then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0)
  if #first == 0 then return false end
  member = first[1]
end
if redis.call('ZREM', KEYS[1], member) == 0 then return false end
redis.call('ZADD', KEYS[2], ARGV[1], member)
return member
"""


class RedisStore(Store):
    backend = "redis"

    def __init__(self, url: str, *, prefix: str = "qcl:", client: Any = None) -> None:
        if not prefix:
            raise ValueError("a Redis store needs a key prefix, so that clear() stays inside its namespace")
        self._prefix = prefix
        # decode_responses: the store speaks str; health checks should fail fast rather than hang.
        self._redis: Any = client or redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30
        )
        self._take_tokens: Any = None  # the registered scripts, on first use
        self._window_move: Any = None

    def _k(self, key: str) -> str:
        return self._prefix + key

    def get(self, key: str) -> str | None:
        value: str | None = self._redis.get(self._k(key))
        return value

    def put(self, key: str, value: str, *, ttl_s: float | None = None) -> None:
        self._redis.set(self._k(key), value, px=_ms(ttl_s))

    def put_if_absent(self, key: str, value: str, *, ttl_s: float | None = None) -> bool:
        return bool(self._redis.set(self._k(key), value, px=_ms(ttl_s), nx=True))

    def delete(self, key: str) -> None:
        self._redis.delete(self._k(key))

    def window_add(self, name: str, score: float, member: str) -> None:
        self._redis.zadd(self._k(name), {member: score})

    def window_range(self, name: str, min_score: float = float("-inf"), max_score: float = float("inf")) -> list[str]:
        return list(self._redis.zrangebyscore(self._k(name), _bound(min_score), _bound(max_score)))

    def window_trim(self, name: str, below_score: float) -> int:
        return int(self._redis.zremrangebyscore(self._k(name), "-inf", f"({below_score!r}"))

    def window_items(self, name: str) -> list[tuple[str, float]]:
        return [(member, float(score)) for member, score in self._redis.zrange(self._k(name), 0, -1, withscores=True)]

    def window_count(self, name: str) -> int:
        return int(self._redis.zcard(self._k(name)))

    def window_remove(self, name: str, member: str) -> bool:
        return bool(self._redis.zrem(self._k(name), member))

    def window_incr(self, name: str, member: str, by: float) -> float:
        return float(self._redis.zincrby(self._k(name), by, member))

    def window_move(self, source: str, target: str, score: float, member: str | None = None) -> str | None:
        if self._window_move is None:
            self._window_move = self._redis.register_script(_WINDOW_MOVE)
        moved = self._window_move(keys=[self._k(source), self._k(target)], args=[repr(score), member or ""])
        return str(moved) if moved is not None else None

    def incr(self, key: str, by: float = 1.0, *, ttl_s: float | None = None) -> float:
        pipe = self._redis.pipeline(transaction=True)
        pipe.incrbyfloat(self._k(key), by)
        if ttl_s is not None:
            pipe.pexpire(self._k(key), _ms(ttl_s), nx=True)  # only when this call created it (no TTL yet)
        return float(pipe.execute()[0])

    def list_push(self, name: str, value: str, *, max_len: int) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.lpush(self._k(name), value)
        pipe.ltrim(self._k(name), 0, max_len - 1)
        pipe.execute()

    def list_range(self, name: str, limit: int) -> list[str]:
        return list(self._redis.lrange(self._k(name), 0, limit - 1))

    def list_remove(self, name: str, value: str) -> int:
        return int(self._redis.lrem(self._k(name), 0, value))

    def take_tokens(self, name: str, *, capacity: float, refill_per_s: float, cost: float = 1.0) -> float:
        check_bucket(capacity, refill_per_s, cost)
        if self._take_tokens is None:
            self._take_tokens = self._redis.register_script(_TAKE_TOKENS)
        return float(self._take_tokens(keys=[self._k(name)], args=[repr(capacity), repr(refill_per_s), repr(cost)]))

    def scan(self, select: Callable[[str], bool] | None = None) -> Iterator[Entry]:
        # Pipelined per batch of keys: one round trip for their types and times left, one for their content.
        for batch in _batches(self._redis.scan_iter(match=self._prefix + "*", count=1000)):
            keys = [k for k in batch if select is None or select(k[len(self._prefix) :])]
            pipe = self._redis.pipeline(transaction=False)
            for key in keys:
                pipe.type(key)
                pipe.pttl(key)
            meta = pipe.execute()
            found: list[tuple[str, EntryKind, int]] = []
            for key, kind, pttl in zip(keys, meta[::2], meta[1::2], strict=True):
                shape = _SHAPES.get(kind)
                if shape is not None and pttl != -2:  # a hash is a token bucket; -2: gone since the scan saw it
                    found.append((key, shape, pttl))
                    if shape == "value":
                        pipe.get(key)
                    elif shape == "list":
                        pipe.lrange(key, 0, -1)
                    else:
                        pipe.zrange(key, 0, -1, withscores=True)
            for (key, shape, pttl), content in zip(found, pipe.execute(), strict=True):
                if content is None or content == []:
                    continue  # deleted between the two round trips
                value = [(m, float(score)) for m, score in content] if shape == "window" else content
                ttl_s = pttl / 1000 if shape == "value" and pttl >= 0 else None  # lists and windows never expire
                yield Entry(key[len(self._prefix) :], shape, value, ttl_s)

    def load(self, entries: Sequence[Entry], *, replace: bool = False) -> int:
        # One MULTI/EXEC: Redis applies all of it or, when the transaction never reaches the server, none of it.
        doomed = list(self._redis.scan_iter(match=self._prefix + "*", count=1000)) if replace else []
        pipe = self._redis.pipeline(transaction=True)
        for chunk in _batches(iter(doomed)):
            pipe.delete(*chunk)
        for entry in entries:
            key = self._k(entry.key)
            if not replace and entry.kind != "value":  # SET replaces a key of any type; RPUSH and ZADD add to one
                pipe.delete(key)
            if entry.kind == "value":
                pipe.set(key, str(entry.value), px=_ms(entry.ttl_s))
            elif entry.kind == "list" and entry.value:
                pipe.rpush(key, *cast(list[str], entry.value))
            elif entry.kind == "window" and entry.value:
                pipe.zadd(key, dict(cast(list[tuple[str, float]], entry.value)))
        pipe.execute()
        return len(entries)

    def clear(self) -> int:
        count = 0
        for key in self._redis.scan_iter(match=self._prefix + "*", count=500):
            count += int(self._redis.delete(key))
        return count

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self._redis.close()

    def notify(self, channel: str) -> None:
        self._redis.publish(self._k(channel), "")

    def listen(self, channel: str) -> Notices:
        return _RedisNotices(self._redis, self._k(channel))


def _batches(keys: Iterator[str], size: int = 500) -> Iterator[list[str]]:
    while batch := list(islice(keys, size)):
        yield batch


_SHAPES: dict[str, EntryKind] = {"string": "value", "list": "list", "zset": "window"}


def _ms(ttl_s: float | None) -> int | None:
    return None if ttl_s is None else max(1, int(ttl_s * 1000))


def _bound(score: float) -> str:
    if score == float("inf"):
        return "+inf"
    if score == float("-inf"):
        return "-inf"
    return repr(score)


class _RedisNotices(Notices):
    """Redis pub/sub on its own connection; the channel is in the store's namespace like its keys."""

    def __init__(self, client: Any, channel: str) -> None:
        self._pubsub = client.pubsub()
        self._pubsub.subscribe(channel)
        confirmed = self._pubsub.get_message(timeout=5)  # subscribed: a notice from now on is heard
        if confirmed is None or confirmed["type"] != "subscribe":
            self._pubsub.close()
            raise redis.ConnectionError(f"redis did not confirm the subscription to {channel!r}")

    def wait(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            message = self._pubsub.get_message(timeout=left)
            if message is not None and message["type"] == "message":
                return True
        return False

    def close(self) -> None:
        self._pubsub.close()

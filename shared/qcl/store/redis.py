"""The Redis store (Memorystore on Google Cloud): values with TTL, sorted sets for windows, capped lists."""

from __future__ import annotations

from typing import Any

import redis

from qcl.store.base import Store, check_bucket

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

    def take_tokens(self, name: str, *, capacity: float, refill_per_s: float, cost: float = 1.0) -> float:
        check_bucket(capacity, refill_per_s, cost)
        if self._take_tokens is None:
            self._take_tokens = self._redis.register_script(_TAKE_TOKENS)
        return float(self._take_tokens(keys=[self._k(name)], args=[repr(capacity), repr(refill_per_s), repr(cost)]))

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


def _ms(ttl_s: float | None) -> int | None:
    return None if ttl_s is None else max(1, int(ttl_s * 1000))


def _bound(score: float) -> str:
    if score == float("inf"):
        return "+inf"
    if score == float("-inf"):
        return "-inf"
    return repr(score)

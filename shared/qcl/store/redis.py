"""The Redis store (Memorystore on Google Cloud): values with TTL, sorted sets for windows, capped lists."""

from __future__ import annotations

from typing import Any

import redis

from qcl.store.base import Store


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

    def list_push(self, name: str, value: str, *, max_len: int) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.lpush(self._k(name), value)
        pipe.ltrim(self._k(name), 0, max_len - 1)
        pipe.execute()

    def list_range(self, name: str, limit: int) -> list[str]:
        return list(self._redis.lrange(self._k(name), 0, limit - 1))

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

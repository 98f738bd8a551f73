"""State: rolling windows, latest analysis, idempotency keys. `open_store(settings)` picks the backend."""

from __future__ import annotations

from qcl.config import Settings
from qcl.store.base import Store


def open_store(settings: Settings) -> Store:
    if settings.store == "redis":
        from qcl.store.redis import RedisStore

        return RedisStore(settings.redis_url, prefix=settings.redis_prefix)
    from qcl.store.memory import MemoryStore

    return MemoryStore()


__all__ = ["Store", "open_store"]

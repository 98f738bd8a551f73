"""Per-key quotas: the defaults from settings (QCL_JOBS_*), overrides per key in the store.

book = QuotaBook(store, default=Quota(tokens_per_minute=50_000))
book.set("3f9c0a12", Quota(weight=3.0))          # an admin's override; every API instance and worker sees it
book.get("3f9c0a12").weight                       # 3.0 (read through a cache of a few seconds)
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from qcl.compute.policy import Quota
from qcl.config import Settings
from qcl.store.base import Store
from qcl.store.keys import QUOTA

if TYPE_CHECKING:
    from qcl.compute.queue import JobQueue

CACHE_S = 5.0  # an override reaches every process within this many seconds


def quota_key(key_id: str) -> str:
    return QUOTA.key(key_id=key_id)


class QuotaBook:
    def __init__(self, store: Store, default: Quota | None = None, *, clock: Callable[[], float] = time.monotonic):
        self.store = store
        self.default = default or Quota()
        self._clock = clock
        self._cache: dict[str, tuple[float, Quota]] = {}
        self._lock = threading.Lock()

    def get(self, key_id: str) -> Quota:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key_id)
        if cached is not None and now - cached[0] < CACHE_S:
            return cached[1]
        raw = self.store.get(quota_key(key_id))
        quota = dataclasses.replace(self.default, **json.loads(raw)) if raw else self.default
        with self._lock:
            self._cache[key_id] = (now, quota)
        return quota

    def set(self, key_id: str, quota: Quota) -> None:
        self.store.put(quota_key(key_id), json.dumps(dataclasses.asdict(quota)))
        with self._lock:
            self._cache.pop(key_id, None)

    def forget(self, key_id: str) -> bool:
        """Drop a key's override (an erasure); True when there was one."""
        held = self.store.get(quota_key(key_id)) is not None
        self.store.delete(quota_key(key_id))
        with self._lock:
            self._cache.pop(key_id, None)
        return held


def default_quota(settings: Settings) -> Quota:
    """Every key's quota unless overridden: the QCL_JOBS_* settings."""
    return Quota(
        tokens_per_minute=settings.jobs_tokens_per_minute,
        daily_tokens=settings.jobs_daily_tokens,
        max_running=settings.jobs_max_running,
        max_queued=settings.jobs_max_queued,
    )


def open_jobs(settings: Settings, store: Store) -> JobQueue:
    """The job queue over `store` with the settings' quotas and lease."""
    from qcl.compute.queue import JobQueue

    quotas = QuotaBook(store, default_quota(settings))
    return JobQueue(store, quotas, lease_s=settings.jobs_lease_s, ttl_s=settings.retention_jobs_s)

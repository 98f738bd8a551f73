"""The embedded store: the same semantics as the Redis backend, in one process, thread-safe."""

from __future__ import annotations

import bisect
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import cast

from qcl.store.base import Entry, Notices, Store, check_bucket


class MemoryStore(Store):
    backend = "memory"
    # Writes with a TTL between sweeps of expired keys that nobody reads again (Redis expires those by itself).
    SWEEP_EVERY = 1024

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[str, tuple[str, float | None]] = {}  # key -> (value, expires_at)
        self._windows: dict[str, dict[str, float]] = {}  # name -> member -> score
        self._lists: dict[str, deque[str]] = {}
        self._buckets: dict[str, tuple[float, float, float]] = {}  # name -> (tokens, at, full_at)
        self._takes = 0
        self._ttl_writes = 0
        self._listeners: dict[str, set[_MemoryNotices]] = {}

    def _live(self, key: str) -> str | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if expires_at is not None and self._clock() >= expires_at:
            del self._values[key]
            return None
        return value

    def _expiry(self, ttl_s: float | None) -> float | None:
        if ttl_s is None:
            return None
        self._ttl_writes += 1
        now = self._clock()
        if self._ttl_writes % self.SWEEP_EVERY == 0:
            expired = [key for key, (_, at) in self._values.items() if at is not None and at <= now]
            for key in expired:
                del self._values[key]
        return now + ttl_s

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._live(key)

    def put(self, key: str, value: str, *, ttl_s: float | None = None) -> None:
        with self._lock:
            self._values[key] = (value, self._expiry(ttl_s))

    def put_if_absent(self, key: str, value: str, *, ttl_s: float | None = None) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            self._values[key] = (value, self._expiry(ttl_s))
            return True

    def delete(self, key: str) -> None:
        with self._lock:
            self._values.pop(key, None)
            self._windows.pop(key, None)
            self._lists.pop(key, None)
            self._buckets.pop(key, None)

    def window_add(self, name: str, score: float, member: str) -> None:
        with self._lock:
            self._windows.setdefault(name, {})[member] = score

    def window_range(self, name: str, min_score: float = float("-inf"), max_score: float = float("inf")) -> list[str]:
        with self._lock:
            ordered = sorted(self._windows.get(name, {}).items(), key=lambda item: (item[1], item[0]))
        scores = [score for _, score in ordered]
        start = bisect.bisect_left(scores, min_score)
        stop = bisect.bisect_right(scores, max_score)
        return [member for member, _ in ordered[start:stop]]

    def window_trim(self, name: str, below_score: float) -> int:
        with self._lock:
            window = self._windows.get(name, {})
            gone = [member for member, score in window.items() if score < below_score]
            for member in gone:
                del window[member]
            return len(gone)

    def window_items(self, name: str) -> list[tuple[str, float]]:
        with self._lock:
            return sorted(self._windows.get(name, {}).items(), key=lambda item: (item[1], item[0]))

    def window_count(self, name: str) -> int:
        with self._lock:
            return len(self._windows.get(name, {}))

    def window_remove(self, name: str, member: str) -> bool:
        with self._lock:
            return self._windows.get(name, {}).pop(member, None) is not None

    def window_incr(self, name: str, member: str, by: float) -> float:
        with self._lock:
            window = self._windows.setdefault(name, {})
            window[member] = window.get(member, 0.0) + by
            return window[member]

    def window_move(self, source: str, target: str, score: float, member: str | None = None) -> str | None:
        with self._lock:
            window = self._windows.get(source, {})
            if member is None:
                if not window:
                    return None
                member = min(window.items(), key=lambda item: (item[1], item[0]))[0]
            if window.pop(member, None) is None:
                return None
            self._windows.setdefault(target, {})[member] = score
            return member

    def incr(self, key: str, by: float = 1.0, *, ttl_s: float | None = None) -> float:
        with self._lock:
            current = self._live(key)
            if current is None:
                value, expires_at = by, self._expiry(ttl_s)
            else:
                value, expires_at = float(current) + by, self._values[key][1]
            self._values[key] = (repr(value), expires_at)
            return value

    def list_push(self, name: str, value: str, *, max_len: int) -> None:
        with self._lock:
            entries = self._lists.setdefault(name, deque())
            entries.appendleft(value)
            while len(entries) > max_len:
                entries.pop()

    def list_range(self, name: str, limit: int) -> list[str]:
        with self._lock:
            return list(self._lists.get(name, deque()))[:limit]

    def list_remove(self, name: str, value: str) -> int:
        with self._lock:
            entries = self._lists.get(name, deque())
            kept = deque(entry for entry in entries if entry != value)
            removed = len(entries) - len(kept)
            if removed:
                self._lists[name] = kept
            return removed

    def take_tokens(self, name: str, *, capacity: float, refill_per_s: float, cost: float = 1.0) -> float:
        check_bucket(capacity, refill_per_s, cost)
        with self._lock:
            now = self._clock()
            tokens, at, _ = self._buckets.get(name, (capacity, now, now))
            tokens = min(capacity, tokens + max(0.0, now - at) * refill_per_s)
            wait = 0.0
            if tokens >= cost:
                tokens -= cost
            else:
                wait = (cost - tokens) / refill_per_s
            self._buckets[name] = (tokens, now, now + (capacity - tokens) / refill_per_s)
            self._takes += 1
            if self._takes % 1024 == 0:  # one bucket per client IP: forget those that are full again
                self._buckets = {k: v for k, v in self._buckets.items() if v[2] > now}
            return wait

    def scan(self, select: Callable[[str], bool] | None = None) -> Iterator[Entry]:
        with self._lock:
            now = self._clock()
            entries = [
                Entry(key, "value", value, None if at is None else at - now)
                for key, (value, at) in self._values.items()
                if at is None or at > now
            ]
            entries += [Entry(key, "list", list(values)) for key, values in self._lists.items() if values]
            entries += [
                Entry(key, "window", sorted(members.items(), key=lambda item: (item[1], item[0])))
                for key, members in self._windows.items()
                if members
            ]
        return iter([entry for entry in entries if select is None or select(entry.key)])

    def load(self, entries: Sequence[Entry], *, replace: bool = False) -> int:
        with self._lock:  # nothing below can fail half-way: every entry is turned into its shape before any write
            now = self._clock()
            values = {
                e.key: (str(e.value), None if e.ttl_s is None else now + e.ttl_s) for e in entries if e.kind == "value"
            }
            lists = {e.key: deque(cast(list[str], e.value)) for e in entries if e.kind == "list" and e.value}
            windows = {
                e.key: dict(cast(list[tuple[str, float]], e.value)) for e in entries if e.kind == "window" and e.value
            }
            if replace:
                self._values.clear()
                self._windows.clear()
                self._lists.clear()
                self._buckets.clear()
            self._values.update(values)
            self._lists.update(lists)
            self._windows.update(windows)
            return len(values) + len(lists) + len(windows)

    def clear(self) -> int:
        with self._lock:
            count = len(self._values) + len(self._windows) + len(self._lists) + len(self._buckets)
            self._values.clear()
            self._windows.clear()
            self._lists.clear()
            self._buckets.clear()
            return count

    def ping(self) -> bool:
        return True

    def notify(self, channel: str) -> None:
        with self._lock:
            listeners = list(self._listeners.get(channel, ()))
        for listener in listeners:
            listener.fired.set()

    def listen(self, channel: str) -> Notices:
        listener = _MemoryNotices(self, channel)
        with self._lock:
            self._listeners.setdefault(channel, set()).add(listener)
        return listener


class _MemoryNotices(Notices):
    def __init__(self, store: MemoryStore, channel: str) -> None:
        self.store = store
        self.channel = channel
        self.fired = threading.Event()

    def wait(self, timeout_s: float) -> bool:
        fired = self.fired.wait(timeout_s)
        self.fired.clear()  # before the caller looks at the store: a notice from now on is seen by the next wait
        return fired

    def close(self) -> None:
        with self.store._lock:
            self.store._listeners.get(self.channel, set()).discard(self)

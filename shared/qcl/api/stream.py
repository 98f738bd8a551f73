"""The live event stream behind the WebSocket: one numbered log in the store, followed by every instance.

Why a log in the store: on Pub/Sub every API instance reads the same `api` subscriptions, so each event reaches
one instance only; writing it to a shared log lets every instance's WebSocket clients see it, and a client that
reconnects (to any instance) resumes after the last sequence number it saw.

Sequence numbers are claimed with the store's atomic put_if_absent: an appender tries `api:stream:<n>` for the
next n it believes free, and moves on until a claim succeeds, so numbers are unique and have no holes. Entries
expire after STREAM_TTL_S; a client resuming from further back is told to resync.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from typing import Any, Literal

from qcl.api.services import ApiServices

StreamKind = Literal["analysis", "insight", "node", "task", "oracle", "workflow"]
STREAM_TTL_S = 900.0  # a reconnect after a laptop sleep or a deploy comes within minutes
HEAD_KEY = "api:stream:head"  # a hint: the highest number claimed (may lag behind, never ahead)
_RECENT = 512  # events each instance keeps in memory for its clients


def _entry_key(seq: int) -> str:
    return f"api:stream:{seq}"


class EventLog:
    def __init__(self, services: ApiServices) -> None:
        self.services = services
        self._hint = 0

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return self.services.breakers.call("store", fn, *args, **kwargs)

    def head(self) -> int:
        raw = self._call(self.services.store.get, HEAD_KEY)
        self._hint = max(self._hint, int(raw or 0))
        return self._hint

    def append(self, kind: StreamKind, data: dict[str, Any]) -> int:
        """Add an event; returns its sequence number."""
        seq = self.head() + 1
        time = self.services.now().isoformat().replace("+00:00", "Z")
        while True:
            entry = json.dumps({"seq": seq, "type": kind, "time": time, "data": data}, ensure_ascii=False)
            if self._call(self.services.store.put_if_absent, _entry_key(seq), entry, ttl_s=STREAM_TTL_S):
                break
            seq += 1  # another appender took it
        self._call(self.services.store.put, HEAD_KEY, str(seq))
        self._hint = max(self._hint, seq)
        return seq

    def read_after(self, seq: int, limit: int = 256) -> list[dict[str, Any]]:
        """Events numbered seq+1, seq+2, ... as far as they go (at most `limit`)."""
        events = []
        for n in range(seq + 1, seq + 1 + limit):
            raw = self._call(self.services.store.get, _entry_key(n))
            if raw is None:
                break
            events.append(json.loads(raw))
        return events


class Broadcaster:
    """Follows the log for this instance's WebSocket clients: one poller, however many clients."""

    def __init__(self, log: EventLog, poll_s: float = 0.2) -> None:
        self.log = log
        self.poll_s = poll_s
        self._recent: deque[dict[str, Any]] = deque(maxlen=_RECENT)
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._last = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._last = self.log.head()
        self._thread = threading.Thread(target=self._run, name="api-stream", daemon=True)
        self._thread.start()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def poke(self) -> None:
        """Look at the log now (an event was just appended on this instance)."""
        self._pull()

    def _pull(self) -> None:
        try:
            events = self.log.read_after(self._last)
        except Exception:  # the store is down: clients wait, the poller keeps trying
            return
        if events:
            with self._changed:
                self._recent.extend(events)
                self._last = events[-1]["seq"]
                self._changed.notify_all()

    def _run(self) -> None:
        while not self._stopping.wait(self.poll_s):
            self._pull()

    def after(self, seq: int, timeout_s: float) -> list[dict[str, Any]]:
        """Events after `seq`, waiting up to `timeout_s` for one; a resync event when `seq` is out of reach."""
        with self._changed:
            self._changed.wait_for(lambda: self._last > seq or self._stopping.is_set(), timeout=timeout_s)
            if self._last <= seq:
                return []
            if self._recent and self._recent[0]["seq"] <= seq + 1:
                return [e for e in self._recent if e["seq"] > seq]
        events = self.log.read_after(seq)  # further back than memory: the store may still hold it
        if events and events[0]["seq"] == seq + 1:
            return events
        head = self.log.head()
        return [{"seq": head, "type": "resync", "data": {"reason": f"events after {seq} have expired"}}]

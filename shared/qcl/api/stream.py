"""The live event stream behind the WebSocket: one numbered log in the store, followed by every instance.

Why a log in the store: on Pub/Sub every API instance reads the same `api` subscriptions, so each event reaches
one instance only; writing it to a shared log lets every instance's WebSocket clients see it, and a client that
reconnects (to any instance) resumes after the last sequence number it saw.

Sequence numbers are claimed with the store's atomic put_if_absent: an appender tries `api:stream:<n>` for the
next n it believes free, and moves on until a claim succeeds, so numbers are unique and have no holes. Entries
expire after STREAM_TTL_S; a client resuming from further back is told to resync. Each append notifies the
store's NOTICE_CHANNEL, on which every instance's Broadcaster waits.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import deque
from collections.abc import Callable
from itertools import islice
from typing import Any, Literal, NamedTuple

from qcl.api.services import ApiServices
from qcl.store.base import Notices
from qcl.store.keys import API_STREAM_ENTRY, API_STREAM_HEAD, family_of

StreamKind = Literal["analysis", "insight", "node", "task", "oracle", "workflow"]
STREAM_TTL_S = 900.0  # a reconnect after a laptop sleep or a deploy comes within minutes
HEAD_KEY = API_STREAM_HEAD.key()  # a hint: the highest number claimed (may lag behind, never ahead)
NOTICE_CHANNEL = "notice:api-stream-appended"  # the store's notices (a channel, not a key): an event was appended
_RECENT = 512  # events each instance keeps in memory for its clients


def _entry_key(seq: int) -> str:
    return API_STREAM_ENTRY.key(seq=seq)


class Entry(NamedTuple):
    """An event as subscribers receive it: encoded once, with whose it is (qcl.api.access.sees decides who gets
    it; None: everyone's)."""

    seq: int
    text: str
    owner: str | None


def _entry(event: dict[str, Any]) -> Entry:
    """A task is its submitter's (its question is their user's); every other kind is for every subscriber."""
    owner = event["data"].get("submitted_by") if event["type"] == "task" else None
    return Entry(event["seq"], json.dumps(event, ensure_ascii=False), owner)


def _erased(text: str, ids: set[str]) -> str | None:
    """The event `text` with its data replaced by `{"erased": true}` when it names one of `ids`; else None."""
    if not any(i in text for i in ids):
        return None
    event = json.loads(text)
    event["data"] = {"erased": True}
    return json.dumps(event)


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
        self.notify()
        return seq

    def notify(self) -> None:
        self._call(self.services.store.notify, NOTICE_CHANNEL)

    def listen(self) -> Notices:
        return self.services.store.listen(NOTICE_CHANNEL)

    def redact(self, ids: set[str]) -> int:
        """Replace the data of every live entry that names one of `ids` (task ids, a key id) by `{"erased": true}`,
        in place with its time left (an erasure, qcl.privacy): entries are numbered without holes, so none is
        deleted. Returns how many were replaced."""
        replaced = 0
        for entry in self._call(self.services.store.scan, lambda key: family_of(key) is API_STREAM_ENTRY):
            text = _erased(str(entry.value), ids)
            if text is not None:
                self._call(self.services.store.put, entry.key, text, ttl_s=entry.ttl_s or STREAM_TTL_S)
                replaced += 1
        return replaced

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
    """Follows the log for this instance's WebSocket clients: one reader, however many clients.

    The reader sleeps on the store's notices (an append anywhere notifies: Redis pub/sub across instances, an
    in-process event with the memory store) and reads what is new, so an event reaches clients without polling;
    a notice lost (pub/sub delivers at most once) is made up by a look every `safety_s`. Listeners (the server's
    WebSocket hub) are called after each read that found events, and once on stop."""

    def __init__(self, log: EventLog, safety_s: float = 5.0) -> None:
        self.log = log
        self.safety_s = safety_s
        self._recent: deque[Entry] = deque(maxlen=_RECENT)
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
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

    @property
    def last(self) -> int:
        return self._last

    def listen(self, callback: Callable[[], None]) -> None:
        """Call `callback` (on the reader's thread; keep it short) when events arrive, and on stop."""
        self._listeners.append(callback)

    def stop(self) -> None:
        self._stopping.set()
        self._wake()
        with contextlib.suppress(Exception):  # wakes the reader; the store being down must not block a shutdown
            self.log.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def poke(self) -> None:
        """Look at the log now (an event was just appended on this instance)."""
        self._pull()

    def _pull(self) -> None:
        try:
            events = self.log.read_after(self._last)
        except Exception:  # the store is down: clients wait, the reader keeps trying
            return
        with self._lock:  # two pulls at once (reader, poke) read the same events: keep each once
            fresh = [_entry(e) for e in events if e["seq"] > self._last]
            if not fresh:
                return
            self._recent.extend(fresh)
            self._last = fresh[-1].seq
        self._wake()

    def _wake(self) -> None:
        for callback in self._listeners:
            callback()

    def _run(self) -> None:
        notices = None
        while not self._stopping.is_set():
            try:
                if notices is None:
                    notices = self.log.listen()
                notices.wait(self.safety_s)
            except Exception:  # the store is down: look again in a second
                notices = None
                self._stopping.wait(1.0)
            self._pull()
        if notices is not None:
            with contextlib.suppress(Exception):
                notices.close()

    def after(self, seq: int) -> list[Entry] | None:
        """Events after `seq` from memory, at once; None when memory does not reach back to it
        (then `from_store` answers, a blocking store read).

        Every subscriber asks this on every event, so it costs what is new, not what is kept: memory holds
        consecutive numbers ending at `last` (each pull reads last+1, last+2, ...), so the events after `seq` are
        the newest `last - seq` (a scan of all 512 took 78 ms per event at 1,000 subscribers)."""
        with self._lock:
            missing = self._last - seq
            if missing <= 0:
                return []
            if missing <= len(self._recent):
                return list(islice(reversed(self._recent), missing))[::-1]
        return None

    def redact(self, ids: set[str]) -> int:
        """What EventLog.redact does to the store, to this instance's memory (an erasure); how many were replaced.
        Other instances' memories keep their copies until newer events push them out (at most _RECENT events)."""
        replaced = 0
        with self._lock:
            for i, entry in enumerate(self._recent):
                text = _erased(entry.text, ids)
                if text is not None:
                    self._recent[i] = entry._replace(text=text)
                    replaced += 1
        return replaced

    def from_store(self, seq: int) -> list[Entry]:
        """Events after `seq` from the store; a resync event when they have expired."""
        events = self.log.read_after(seq)
        if not (events and events[0]["seq"] == seq + 1):
            head = self.log.head()
            events = [{"seq": head, "type": "resync", "data": {"reason": f"events after {seq} have expired"}}]
        return [_entry(e) for e in events]

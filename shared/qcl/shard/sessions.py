"""Per-session state on a stage: its KV cache, next step and position, with an explicit capacity, TTL and close.

    table = SessionTable(capacity=16, ttl_s=300)
    session = table.open(session_id, lambda: Session(...))   # ShardFullError when 16 are open: never evicts
    table.get(session_id)                                    # UnknownSessionError names why (closed, expired)
    table.close(session_id)

A session idle for longer than the TTL is expired by `expire()` (the server calls it every second); a later frame
for it gets an error saying so. Opening a session id that is already open replaces it: a session's newest stream
wins, which is how the coordinator reopens a session on a node after a transient failure.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from qcl.shard.errors import SessionOwnerError, ShardFullError, UnknownSessionError

# Ids of sessions that ended remembered for clearer errors ("expired", "closed"), bounded.
REMEMBERED_ENDINGS = 4096


def session_hex(session_id: bytes) -> str:
    return session_id.hex()


@dataclass(frozen=True)
class Sampling:
    """How the last stage picks a token (GenerationParams' fields, plus the ids a request bans)."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int = 0
    banned: tuple[int, ...] = ()

    def generator(self, step: int) -> torch.Generator | None:
        """A generator seeded from (seed, step): a replayed step draws the same token as the original."""
        if self.temperature == 0:
            return None
        return torch.Generator().manual_seed((self.seed * 1_000_003 + step) % (2**63))

    def to_json(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "seed": self.seed,
            "banned": list(self.banned),
        }


@dataclass
class Session:
    session_id: bytes
    cache: Any  # transformers DynamicCache holding this stage's layers only
    sampling: Sampling
    wire: str
    peer: str = "plaintext"  # who opened it ("role/node-id" from its certificate): only that peer may use it
    next_step: int = 0
    position: int = 0
    opened_at: float = field(default_factory=time.monotonic)
    used_at: float = field(default_factory=time.monotonic)


class SessionTable:
    def __init__(self, capacity: int, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._open: dict[bytes, Session] = {}
        self._ended: OrderedDict[bytes, str] = OrderedDict()  # id -> why it ended
        self.opened = 0
        self.refused = 0
        self.expired = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._open)

    def open(self, session_id: bytes, make: Callable[[], Session], *, peer: str = "plaintext") -> Session:
        """Open (or reopen, from the same peer) a session; SessionOwnerError when another peer holds the id."""
        with self._lock:
            self._expire_locked()
            held = self._open.get(session_id)
            if held is not None and held.peer != peer:
                raise SessionOwnerError(f"session {session_hex(session_id)} belongs to {held.peer}, not {peer}")
            if session_id not in self._open and len(self._open) >= self.capacity:
                self.refused += 1
                raise ShardFullError(
                    f"shard is full: {len(self._open)} of {self.capacity} sessions open; it refuses new sessions "
                    f"until one closes or idles out ({self.ttl_s:g} s)"
                )
            session = make()
            session.used_at = self._clock()
            self._open[session_id] = session
            self._ended.pop(session_id, None)
            self.opened += 1
            return session

    def get(self, session_id: bytes, *, owner: Session | None = None, peer: str | None = None) -> Session:
        """The open session; with `owner`, only if it is still that object (a reopen replaced older streams');
        with `peer`, only if that peer opened it (SessionOwnerError otherwise)."""
        with self._lock:
            session = self._open.get(session_id)
            if session is None or (owner is not None and session is not owner):
                why = "it was replaced by a newer stream" if session is not None else self._ended.get(session_id)
                raise UnknownSessionError(
                    f"session {session_hex(session_id)} is not open on this shard"
                    + (f": {why}" if why else "; a session opens with its step 0 frame")
                )
            if peer is not None and session.peer != peer:
                raise SessionOwnerError(f"session {session_hex(session_id)} belongs to {session.peer}, not {peer}")
            session.used_at = self._clock()
            return session

    def close(self, session_id: bytes, *, owner: Session | None = None, why: str = "closed") -> bool:
        """Close an open session (only `owner`'s, when given); False when it was not open."""
        with self._lock:
            session = self._open.get(session_id)
            if session is None or (owner is not None and session is not owner):
                return False
            del self._open[session_id]
            self._remember(session_id, why)
            return True

    def expire(self) -> list[bytes]:
        with self._lock:
            return self._expire_locked()

    def sessions(self) -> list[Session]:
        with self._lock:
            return list(self._open.values())

    def _expire_locked(self) -> list[bytes]:
        now = self._clock()
        gone = [sid for sid, s in self._open.items() if now - s.used_at > self.ttl_s]
        for sid in gone:
            del self._open[sid]
            self._remember(sid, f"it expired after {self.ttl_s:g} s idle")
            self.expired += 1
        return gone

    def _remember(self, session_id: bytes, why: str) -> None:
        self._ended[session_id] = why
        while len(self._ended) > REMEMBERED_ENDINGS:
            self._ended.popitem(last=False)

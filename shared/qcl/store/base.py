"""The store interface: the little state the pipeline keeps between events.

Six shapes of state: plain values with an optional time-to-live (latest analysis, idempotency keys, replay
position), counters (quota usage), rolling windows (members ordered by a score such as the observation time,
trimmed by score; the job queue's ready, lease and fair-share sets), capped lists (recent insights, newest first),
token buckets (rate limits that hold across API instances), and notices (a wake-up on a named channel for
whoever listens, in any process sharing the store: the API's event log wakes every instance's stream reader).
Two backends implement it: `memory` (embedded default) and `redis`. Every operation is atomic on its own;
`window_move` is the queue's claim (a member leaves one window and enters another in one step, so a crash between
the two cannot lose it). `scan` and `load` read and write whole keys (`Entry`), for backups (qcl.backup).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

EntryKind = Literal["value", "list", "window"]


@dataclass(frozen=True)
class Entry:
    """One key with all it holds, as `scan` reads it and `load` writes it. Counters are values (their text)."""

    key: str
    kind: EntryKind
    value: str | list[str] | list[tuple[str, float]]  # value: the text; list: newest first; window: (member, score)
    ttl_s: float | None = None  # seconds left to live; None: no expiry


class Store(ABC):
    """Key-value state shared by the services. Keys are namespaced by the backend's prefix."""

    backend: str

    @abstractmethod
    def get(self, key: str) -> str | None: ...

    @abstractmethod
    def put(self, key: str, value: str, *, ttl_s: float | None = None) -> None: ...

    @abstractmethod
    def put_if_absent(self, key: str, value: str, *, ttl_s: float | None = None) -> bool:
        """Set `key` only if it does not exist; True when this call set it (an atomic claim)."""

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def window_add(self, name: str, score: float, member: str) -> None:
        """Add `member` at `score`; adding the same member again only moves it (idempotent)."""

    @abstractmethod
    def window_range(self, name: str, min_score: float = float("-inf"), max_score: float = float("inf")) -> list[str]:
        """Members with min_score <= score <= max_score, lowest score first."""

    @abstractmethod
    def window_trim(self, name: str, below_score: float) -> int:
        """Drop members scored below `below_score`; returns how many went."""

    @abstractmethod
    def window_items(self, name: str) -> list[tuple[str, float]]:
        """Every (member, score), lowest score first."""

    @abstractmethod
    def window_count(self, name: str) -> int:
        """How many members the window holds."""

    @abstractmethod
    def window_remove(self, name: str, member: str) -> bool:
        """Remove `member`; True when this call removed it (of concurrent callers, exactly one gets True)."""

    @abstractmethod
    def window_incr(self, name: str, member: str, by: float) -> float:
        """Add `by` to the member's score (a missing member starts at 0); returns the new score."""

    @abstractmethod
    def window_move(self, source: str, target: str, score: float, member: str | None = None) -> str | None:
        """Move `member` (None: the lowest-scored one) from `source` into `target` at `score`, in one atomic step;
        returns the member moved, or None when `source` did not hold it (of concurrent movers, exactly one wins)."""

    @abstractmethod
    def incr(self, key: str, by: float = 1.0, *, ttl_s: float | None = None) -> float:
        """Add `by` to the counter `key` (missing: 0) and return the new value; `ttl_s` applies when this call
        created the counter (a daily budget expires on its own)."""

    @abstractmethod
    def list_push(self, name: str, value: str, *, max_len: int) -> None:
        """Prepend `value`, keeping the newest `max_len` entries."""

    @abstractmethod
    def list_range(self, name: str, limit: int) -> list[str]:
        """Up to `limit` entries, newest first."""

    @abstractmethod
    def list_remove(self, name: str, value: str) -> int:
        """Remove every entry equal to `value` (an erasure: qcl.privacy); returns how many went."""

    @abstractmethod
    def take_tokens(self, name: str, *, capacity: float, refill_per_s: float, cost: float = 1.0) -> float:
        """Token bucket `name` (full at `capacity`, refilled at `refill_per_s`): take `cost` tokens if there are.

        Returns 0.0 when the tokens were taken, else the seconds until `cost` tokens will be there (nothing is
        taken). Atomic: concurrent callers, on Redis also in other processes, never take more than the bucket holds.
        A bucket left alone refills to `capacity` and may then be forgotten by the backend (it reads as full).
        """

    @abstractmethod
    def scan(self, select: Callable[[str], bool] | None = None) -> Iterator[Entry]:
        """Every key of this namespace that `select` accepts (None: all), with its content and time left; token
        buckets are left out (a bucket left alone refills: nothing in it is worth keeping). Not a snapshot: a key
        written during the scan may or may not be in it."""

    @abstractmethod
    def load(self, entries: Sequence[Entry], *, replace: bool = False) -> int:
        """Write `entries` in one step: afterwards all of them are there, or, when the call fails, none is. With
        `replace` every key of the namespace is deleted first, in the same step. Returns how many were written."""

    @abstractmethod
    def clear(self) -> int:
        """Delete every key of this store's namespace; returns how many went."""

    @abstractmethod
    def ping(self) -> bool:
        """True when the backend answers."""

    def close(self) -> None:  # noqa: B027 - optional for backends that hold nothing
        """Release connections."""

    @abstractmethod
    def notify(self, channel: str) -> None:
        """Wake everyone listening on `channel` now (fire and forget: a listener not yet listening misses it)."""

    @abstractmethod
    def listen(self, channel: str) -> Notices:
        """Start listening on `channel`; close what it returns when done."""


class Notices(ABC):
    """A listener on a channel: `wait` returns True when a notice came within `timeout_s` (False: none came)."""

    @abstractmethod
    def wait(self, timeout_s: float) -> bool: ...

    @abstractmethod
    def close(self) -> None: ...


def check_bucket(capacity: float, refill_per_s: float, cost: float) -> None:
    """The arguments of `take_tokens` both backends accept; a cost above the capacity could never be paid."""
    if not (capacity > 0 and refill_per_s > 0 and 0 < cost <= capacity):
        raise ValueError(
            f"a token bucket needs capacity > 0, refill_per_s > 0 and 0 < cost <= capacity; "
            f"got capacity={capacity}, refill_per_s={refill_per_s}, cost={cost}"
        )

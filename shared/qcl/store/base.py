"""The store interface: the little state the pipeline keeps between events.

Five shapes of state: plain values with an optional time-to-live (latest analysis, idempotency keys, replay
position), counters (quota usage), rolling windows (members ordered by a score such as the observation time,
trimmed by score; the job queue's ready, lease and fair-share sets), capped lists (recent insights, newest first),
and token buckets (rate limits that hold across API instances). Two backends implement it: `memory` (embedded
default) and `redis`. Every operation is atomic on its own; `window_move` is the queue's claim (a member leaves one
window and enters another in one step, so a crash between the two cannot lose it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod


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
    def take_tokens(self, name: str, *, capacity: float, refill_per_s: float, cost: float = 1.0) -> float:
        """Token bucket `name` (full at `capacity`, refilled at `refill_per_s`): take `cost` tokens if there are.

        Returns 0.0 when the tokens were taken, else the seconds until `cost` tokens will be there (nothing is
        taken). Atomic: concurrent callers, on Redis also in other processes, never take more than the bucket holds.
        A bucket left alone refills to `capacity` and may then be forgotten by the backend (it reads as full).
        """

    @abstractmethod
    def clear(self) -> int:
        """Delete every key of this store's namespace; returns how many went."""

    @abstractmethod
    def ping(self) -> bool:
        """True when the backend answers."""

    def close(self) -> None:  # noqa: B027 - optional for backends that hold nothing
        """Release connections."""


def check_bucket(capacity: float, refill_per_s: float, cost: float) -> None:
    """The arguments of `take_tokens` both backends accept; a cost above the capacity could never be paid."""
    if not (capacity > 0 and refill_per_s > 0 and 0 < cost <= capacity):
        raise ValueError(
            f"a token bucket needs capacity > 0, refill_per_s > 0 and 0 < cost <= capacity; "
            f"got capacity={capacity}, refill_per_s={refill_per_s}, cost={cost}"
        )

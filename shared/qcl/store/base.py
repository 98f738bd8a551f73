"""The store interface: the little state the pipeline keeps between events.

Three shapes of state: plain values with an optional time-to-live (latest analysis, idempotency keys, replay
position), rolling windows (members ordered by a score such as the observation time, trimmed by score), and
capped lists (recent insights, newest first). Two backends implement it: `memory` (embedded default) and `redis`.
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
    def list_push(self, name: str, value: str, *, max_len: int) -> None:
        """Prepend `value`, keeping the newest `max_len` entries."""

    @abstractmethod
    def list_range(self, name: str, limit: int) -> list[str]:
        """Up to `limit` entries, newest first."""

    @abstractmethod
    def clear(self) -> int:
        """Delete every key of this store's namespace; returns how many went."""

    @abstractmethod
    def ping(self) -> bool:
        """True when the backend answers."""

    def close(self) -> None:  # noqa: B027 - optional for backends that hold nothing
        """Release connections."""

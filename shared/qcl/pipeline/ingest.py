"""Ingest: take one observation from the source, validate it, drop duplicates, publish it to `qubic-ticks`.

The Cloud Function `functions/ingest` and `qcl up`'s replay loop both call `Ingestor.ingest_once`.

A duplicate is an observation of a tick state already published: same epoch, tick and tick duration. (Dropping
every observation of an already-seen tick would hide stalls: while the network is stuck, the tick stays the same
and only `duration` grows, and that growth is the evidence the analyzer needs.)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from typing import Literal

from qcl.bus.base import Bus
from qcl.errors import SourceError
from qcl.events import QUBIC_TICKS
from qcl.qubic.capture import InvalidLine
from qcl.qubic.source import ObservationSource
from qcl.qubic.types import Observation
from qcl.store.base import Store
from qcl.store.keys import INGEST_LAST_PUBLISHED, INGEST_SEEN

log = logging.getLogger(__name__)

ORDERING_KEY = "qubic-network"  # one key: the analyzer sees observations in the order they were made
LAST_PUBLISHED_KEY = INGEST_LAST_PUBLISHED.key()
_DEDUP_TTL_S = 7 * 24 * 3600  # an epoch: tick numbers only grow, so older keys can never match again
_PUBLISH_TIMEOUT_S = 30.0


Status = Literal["published", "duplicate", "out_of_order", "invalid"]


@dataclass(frozen=True)
class IngestResult:
    status: Status
    detail: str
    tick: int | None = None
    epoch: int | None = None
    observed_at: str | None = None
    event_id: str | None = None

    @property
    def http_status(self) -> int:
        return {"published": 200, "duplicate": 200, "out_of_order": 409, "invalid": 422}[self.status]

    def to_json(self) -> dict[str, object]:
        return {key: value for key, value in asdict(self).items() if value is not None}


class Ingestor:
    def __init__(self, bus: Bus, store: Store, *, name: str = "//qcl/functions/ingest"):
        self.bus = bus
        self.store = store
        self.name = name

    def ingest_once(self, source: ObservationSource) -> IngestResult:
        """Publish the source's next observation. Raises SourceError when the source fails (nothing published)."""
        return self.ingest(source.next())

    def ingest(self, item: Observation | InvalidLine) -> IngestResult:
        """Validate, de-duplicate and publish one item already taken from the source."""
        return self.ingest_many([item])[0]

    def ingest_many(self, items: Sequence[Observation | InvalidLine]) -> list[IngestResult]:
        """ingest() for a run of items, in order, their publishes confirmed together (one wait, not one per item).

        Raises the first publish failure after releasing the duplicate claims of every item not published.
        """
        results: list[IngestResult] = []
        sent: list[tuple[str, Future[str], dict[str, int], str]] = []  # claim, publish, the latest tick, what
        last = self._last_published()
        for item in items:
            if isinstance(item, InvalidLine):
                log.warning("ingest: invalid observation skipped: %s", item.reason)
                results.append(IngestResult("invalid", item.reason))
                continue
            observation, tick = item, item.tick
            out_of_order = _out_of_order(last, observation)
            if out_of_order:
                log.warning("ingest: %s", out_of_order)
                results.append(_result(observation, "out_of_order", out_of_order))
                continue
            event = QUBIC_TICKS.event(observation, source=self.name, subject=f"tick/{tick.tick}")
            claim = INGEST_SEEN.key(epoch=tick.epoch, tick=tick.tick, duration=tick.duration)
            if not self.store.put_if_absent(claim, event.id, ttl_s=_DEDUP_TTL_S):
                detail = f"tick {tick.tick} (epoch {tick.epoch}, duration {tick.duration} s) was already published"
                results.append(_result(observation, "duplicate", detail, self.store.get(claim)))
                continue
            try:
                published = self.bus.publish_nowait(QUBIC_TICKS, event, ordering_key=ORDERING_KEY)
            except Exception:
                self.store.delete(claim)
                self._confirm(sent)
                raise
            last = {"tick": tick.tick, "epoch": tick.epoch, "initial_tick": tick.initial_tick}
            sent.append((claim, published, last, f"tick {tick.tick} (epoch {tick.epoch}) as event {event.id}"))
            results.append(
                _result(observation, "published", f"tick {tick.tick} published to {QUBIC_TICKS.name}", event.id)
            )
        self._confirm(sent)
        return results

    def _confirm(self, sent: list[tuple[str, Future[str], dict[str, int], str]]) -> None:
        """Wait for the publishes; release what did not go out (nothing half-published) and raise its error."""
        failure: Exception | None = None
        latest: dict[str, int] | None = None
        for claim, published, last, what in sent:
            try:
                published.result(timeout=_PUBLISH_TIMEOUT_S)
            except Exception as exc:
                failure = failure or exc
                self.store.delete(claim)  # the next attempt may publish it
                continue
            latest = last
            log.info("ingest: published %s", what)
        if latest is not None:
            self.store.put(LAST_PUBLISHED_KEY, json.dumps(latest))
        if failure is not None:
            raise failure

    def _last_published(self) -> dict[str, int] | None:
        raw = self.store.get(LAST_PUBLISHED_KEY)
        return None if raw is None else dict(json.loads(raw))


def _result(observation: Observation, status: Status, detail: str, event_id: str | None = None) -> IngestResult:
    tick = observation.tick
    return IngestResult(status, detail, tick.tick, tick.epoch, observation.observed_at.isoformat(), event_id)


def _out_of_order(last: dict[str, int] | None, observation: Observation) -> str | None:
    if last is None:
        return None
    tick = observation.tick
    same_interval = tick.epoch == last["epoch"] and tick.initial_tick == last["initial_tick"]
    if same_interval and tick.tick < last["tick"]:
        return (
            f"tick {tick.tick} is behind tick {last['tick']} already published for epoch {tick.epoch} "
            "(a lagging RPC node?)"
        )
    if tick.epoch < last["epoch"]:
        return f"epoch {tick.epoch} is behind epoch {last['epoch']} already published"
    return None


def source_failure(exc: SourceError) -> tuple[dict[str, object], int]:
    """The HTTP answer when the source fails: 503 with the reason, so the scheduler may retry."""
    return {"status": "source_unavailable", "error": {"code": "source_unavailable", "message": str(exc)}}, 503

"""Ingest: take one observation from the source, validate it, drop duplicates, publish it to `qubic-ticks`.

The Cloud Function `functions/ingest` and `qcl up`'s replay loop both call `Ingestor.ingest_once`.

A duplicate is an observation of a tick state already published: same epoch, tick and tick duration. (Dropping
every observation of an already-seen tick would hide stalls: while the network is stuck, the tick stays the same
and only `duration` grows, and that growth is the evidence the analyzer needs.)
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import Literal

from qcl.bus.base import Bus
from qcl.errors import SourceError
from qcl.events import QUBIC_TICKS
from qcl.qubic.capture import InvalidLine
from qcl.qubic.source import ObservationSource
from qcl.qubic.types import Observation
from qcl.store.base import Store

log = logging.getLogger(__name__)

ORDERING_KEY = "qubic-network"  # one key: the analyzer sees observations in the order they were made
LAST_PUBLISHED_KEY = "ingest:last_published"
_DEDUP_TTL_S = 7 * 24 * 3600  # an epoch: tick numbers only grow, so older keys can never match again


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
        if isinstance(item, InvalidLine):
            log.warning("ingest: invalid observation skipped: %s", item.reason)
            return IngestResult("invalid", item.reason)
        observation, tick = item, item.tick

        def result(status: Status, detail: str, event_id: str | None = None) -> IngestResult:
            return IngestResult(status, detail, tick.tick, tick.epoch, observation.observed_at.isoformat(), event_id)

        out_of_order = self._out_of_order(observation)
        if out_of_order:
            log.warning("ingest: %s", out_of_order)
            return result("out_of_order", out_of_order)
        event = QUBIC_TICKS.event(observation, source=self.name, subject=f"tick/{tick.tick}")
        claim = f"ingest:seen:{tick.epoch}:{tick.tick}:{tick.duration}"
        if not self.store.put_if_absent(claim, event.id, ttl_s=_DEDUP_TTL_S):
            detail = f"tick {tick.tick} (epoch {tick.epoch}, duration {tick.duration} s) was already published"
            return result("duplicate", detail, self.store.get(claim))
        try:
            self.bus.publish(QUBIC_TICKS, event, ordering_key=ORDERING_KEY)
        except Exception:
            self.store.delete(claim)  # nothing half-published: the next attempt may publish it
            raise
        last = {"tick": tick.tick, "epoch": tick.epoch, "initial_tick": tick.initial_tick}
        self.store.put(LAST_PUBLISHED_KEY, json.dumps(last))
        log.info("ingest: published tick %s (epoch %s) as event %s", tick.tick, tick.epoch, event.id)
        return result("published", f"tick {tick.tick} published to {QUBIC_TICKS.name}", event.id)

    def _out_of_order(self, observation: Observation) -> str | None:
        raw = self.store.get(LAST_PUBLISHED_KEY)
        if raw is None:
            return None
        last = json.loads(raw)
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

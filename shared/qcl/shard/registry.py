"""Who is in the pool: node records with a heartbeat TTL in the store, and the node-events of their changes.

    registry = ShardRegistry(store)                   # Redis in production, the memory store when embedded
    registry.heartbeat(record)                        # every heartbeat_s; the record lives heartbeat_s * misses
    registry.live()                                   # records whose TTL has not run out
    registry.known()                                  # every node of the last hour: last record, heartbeat, live?
    membership = Membership(registry, bus)            # the coordinator's view
    membership.refresh()                              # joined / failed / recovered on NODE_EVENTS

A node is declared failed when its record expires: `misses` heartbeats (1 s each by default) in a row did not
arrive. Failure is suspected at once on an RPC error (`suspect`): the node takes no new work until it heartbeats
with a new incarnation (a restarted process) or the suspicion lapses while it keeps heartbeating (a transient
error). An index of node ids (a store window scored by last heartbeat) lets readers find records; an id whose record
is gone is a stale entry and is skipped, and trimmed after an hour. Each node's last record and heartbeat time are
kept for that hour too (`known`), so readers such as the API can still say where a failed node was and when it was
last heard from.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qcl.bus.base import Bus
from qcl.events import NODE_EVENTS, NodeEvent
from qcl.store.base import Store
from qcl.store.keys import SHARD_NODE, SHARD_NODES, SHARD_SEEN

log = logging.getLogger(__name__)

INDEX = SHARD_NODES.key()
STALE_AFTER_S = 3600.0


def record_key(node_id: str) -> str:
    return SHARD_NODE.key(node_id=node_id)


def seen_key(node_id: str) -> str:
    """The node's last record and heartbeat time, kept STALE_AFTER_S: {"at": unix s, "left": bool, "record": ...}."""
    return SHARD_SEEN.key(node_id=node_id)


class NodeRecord(BaseModel):
    """What a shard node says about itself; refreshed with every heartbeat."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    node_id: str = Field(min_length=1, max_length=128)
    incarnation: str = Field(min_length=1, max_length=64)  # new for every process start
    address: str = Field(pattern=r"^[^\s:]+:\d{1,5}$")  # host:port others reach it at
    model: str
    weights_sha256: str
    ranges: list[tuple[int, int]]  # half-open layer ranges it serves
    max_sessions: int = Field(ge=1)
    sessions: int = Field(ge=0)
    memory_free_bytes: int = Field(ge=0)
    compute: float = Field(default=1.0, gt=0)
    device: str = "cpu"
    threads: int = Field(default=1, ge=1)
    started_at: float  # unix time
    decode_ms_per_frame: float | None = None  # mean compute per decode frame, all ranges
    decode_frames: int = Field(default=0, ge=0)  # decode frames computed since start (replays included)
    decode_compute_s: float = Field(default=0.0, ge=0)

    def serves(self, layers: range) -> bool:
        return (layers.start, layers.stop) in self.ranges


@dataclass(frozen=True)
class KnownNode:
    record: NodeRecord  # as of its last heartbeat
    last_heartbeat: float  # unix time
    live: bool  # its record has not expired
    left: bool  # it left on purpose (`leave`)


class ShardRegistry:
    def __init__(
        self, store: Store, *, heartbeat_s: float = 1.0, misses: int = 3, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.heartbeat_s = heartbeat_s
        self.misses = misses
        self._clock = clock  # wall clock: heartbeats from several hosts share one index

    @property
    def ttl_s(self) -> float:
        return self.heartbeat_s * self.misses

    def heartbeat(self, record: NodeRecord) -> None:
        now = self._clock()
        self.store.put(record_key(record.node_id), record.model_dump_json(), ttl_s=self.ttl_s)
        self._seen(record, now, left=False)
        self.store.window_add(INDEX, now, record.node_id)

    def leave(self, node_id: str) -> None:
        """A graceful exit: the record goes at once instead of timing out."""
        record = self.get(node_id)
        self.store.delete(record_key(node_id))
        if record is not None:
            self._seen(record, self._clock(), left=True)

    def _seen(self, record: NodeRecord, at: float, *, left: bool) -> None:
        body = {"at": at, "left": left, "record": record.model_dump(mode="json")}
        self.store.put(seen_key(record.node_id), json.dumps(body), ttl_s=STALE_AFTER_S)

    def get(self, node_id: str) -> NodeRecord | None:
        raw = self.store.get(record_key(node_id))
        if raw is None:
            return None
        try:
            return NodeRecord.model_validate_json(raw)
        except ValidationError as exc:  # one bad record must not hide the others
            log.warning("shard registry: unreadable record for %s: %s", node_id, exc.errors()[0]["msg"])
            return None

    def live(self) -> list[NodeRecord]:
        now = self._clock()
        self.store.window_trim(INDEX, now - STALE_AFTER_S)
        ids = self.store.window_range(INDEX, now - STALE_AFTER_S)
        return [record for record in map(self.get, ids) if record is not None]

    def known(self) -> list[KnownNode]:
        """Every node heard from within STALE_AFTER_S, live or not, by node id."""
        now = self._clock()
        found = []
        for node_id in sorted(set(self.store.window_range(INDEX, now - STALE_AFTER_S))):
            raw = self.store.get(seen_key(node_id))
            if raw is None:
                continue
            try:
                body = json.loads(raw)
                record = NodeRecord.model_validate(body["record"])
            except (ValueError, KeyError, TypeError) as exc:  # one bad entry must not hide the others
                log.warning("shard registry: unreadable last record of %s: %s", node_id, exc)
                continue
            live = self.store.get(record_key(node_id)) is not None
            found.append(KnownNode(record, float(body["at"]), live, bool(body.get("left"))))
        return found

    def stale(self) -> list[str]:
        """Index entries whose record has expired: nodes that stopped heartbeating and did not leave."""
        ids = self.store.window_range(INDEX, self._clock() - STALE_AFTER_S)
        return [node_id for node_id in ids if self.store.get(record_key(node_id)) is None]


NodeState = Literal["up", "failed"]


class Membership:
    """The coordinator's view of the registry: live, suspected and failed nodes, and their events."""

    def __init__(
        self,
        registry: ShardRegistry,
        bus: Bus | None = None,
        *,
        source: str = "//qcl/shard/coordinator",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.bus = bus
        self.source = source
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, NodeRecord] = {}
        self._state: dict[str, NodeState] = {}
        self._suspected: dict[str, tuple[float, str, str]] = {}  # node -> (since, incarnation, reason)
        self.events: list[NodeEvent] = []  # every event this membership published, oldest first

    def refresh(self) -> list[NodeRecord]:
        """Read the registry, publish what changed, and return the live records."""
        live = {record.node_id: record for record in self.registry.live()}
        changes: list[NodeEvent] = []
        with self._lock:
            for node_id, record in live.items():
                previous = self._records.get(node_id)
                state = self._state.get(node_id)
                if state is None:
                    changes.append(_event(record, "joined", f"serves {_ranges(record)} at {record.address}"))
                elif state == "failed":
                    changes.append(_event(record, "recovered", f"heartbeats again at {record.address}"))
                elif previous is not None and previous.incarnation != record.incarnation:
                    changes.append(_event(previous, "failed", "restarted: its sessions were lost"))
                    changes.append(_event(record, "recovered", f"restarted at {record.address}"))
                self._state[node_id] = "up"
                self._records[node_id] = record
                self._lift_suspicion(record)
            for node_id, state in list(self._state.items()):
                if state == "up" and node_id not in live:
                    self._state[node_id] = "failed"
                    why = self._suspected.get(node_id, (0.0, "", ""))[2]
                    detail = f"missed {self.registry.misses} heartbeats" + (f" after {why}" if why else "")
                    changes.append(_event(self._records[node_id], "failed", detail))
            self.events.extend(changes)  # with the state they explain: a reader never sees one without the other
        for event in changes:
            self._publish(event)
        return list(live.values())

    def suspect(self, node_id: str, reason: str) -> None:
        """Take a node out of routing at once (an RPC to it failed); the registry decides whether it is dead."""
        with self._lock:
            record = self._records.get(node_id)
            incarnation = record.incarnation if record else ""
            if node_id not in self._suspected:
                log.warning("shard node %s suspected: %s", node_id, reason)
            self._suspected[node_id] = (self._clock(), incarnation, reason)

    def usable(self) -> list[NodeRecord]:
        """Live, unsuspected nodes, as of the last refresh."""
        with self._lock:
            return [
                record
                for node_id, record in self._records.items()
                if self._state.get(node_id) == "up" and node_id not in self._suspected
            ]

    def state(self, node_id: str) -> str:
        with self._lock:
            if node_id in self._suspected and self._state.get(node_id) == "up":
                return "suspected"
            return self._state.get(node_id, "unknown")

    def records(self) -> list[NodeRecord]:
        with self._lock:
            return list(self._records.values())

    def _lift_suspicion(self, record: NodeRecord) -> None:
        suspected = self._suspected.get(record.node_id)
        if suspected is None:
            return
        since, incarnation, _ = suspected
        restarted = record.incarnation != incarnation
        lapsed = self._clock() - since > self.registry.ttl_s  # still heartbeating well after the error
        if restarted or lapsed:
            del self._suspected[record.node_id]

    def _publish(self, event: NodeEvent) -> None:
        log.info("shard node %s %s: %s", event.node_id, event.kind, event.detail)
        if self.bus is None:
            return
        try:
            self.bus.publish(NODE_EVENTS, NODE_EVENTS.event(event, source=self.source), ordering_key=event.node_id)
        except Exception:  # node events are telemetry: a bus outage must not stop routing
            log.exception("could not publish node event %s %s", event.node_id, event.kind)


def _ranges(record: NodeRecord) -> str:
    return ", ".join(f"layers {start}:{stop}" for start, stop in record.ranges)


def _event(record: NodeRecord, kind: Literal["joined", "failed", "recovered"], detail: str) -> NodeEvent:
    return NodeEvent(
        node_id=record.node_id,
        role="shard",
        kind=kind,
        detail=detail,
        address=record.address,
        layers=list(record.ranges),
    )

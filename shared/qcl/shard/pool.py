"""The coordinator's view of the pool: membership, the stage plan, placement, adoption and channels.

    pool = ShardPool(spec, weights_sha256, ShardRegistry(store), bus=bus, seeds=["127.0.0.1:50051", ...]).start()
    pool.wait_ready(60)                  # every layer range has a live node
    session = pool.open_session(Sampling())   # a PipelineSession (pipeline.py)

Nodes are found in the registry (shards with a shared store heartbeat themselves) and at seed addresses (the
coordinator fetches their record every heartbeat period and writes it for them: how the embedded pool, whose store
lives in this process, gets heartbeats). The stage plan is the first contiguous tiling of layers 0..L by the
ranges live nodes serve, then kept: a failed node's range moves to a replica or to a live node that loads it, the
other ranges stay where they are. A node whose model or weights differ from the coordinator's is never used.

An operator may drain a node (it takes no new session; the sessions it holds finish there, then it is "drained"),
undrain it, or remove it (it leaves the registry and is never placed on again). Both are refused, naming the range,
when they would leave a layer range of the plan with no other node taking sessions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import grpc

from qcl.bus.base import Bus
from qcl.model.registry import ModelSpec
from qcl.shard.client import Channels, LinkFailure, call_json, check_health
from qcl.shard.options import PoolOptions
from qcl.shard.partition import ModelCosts, NodeCapacity, adopter
from qcl.shard.registry import Membership, NodeRecord, ShardRegistry
from qcl.shard.sessions import Sampling
from qcl.shard.tls import TlsMaterial
from qcl.shard.wire import SERVICE

log = logging.getLogger(__name__)


@dataclass
class PoolCounters:
    sessions: int = 0
    failovers: int = 0
    adoptions: int = 0
    replay_spans: int = 0  # merged frames sent while replaying long sessions
    last_recovery_s: float | None = None
    decode_tokens: int = 0
    decode_bytes: int = 0


class ShardPool:
    def __init__(
        self,
        spec: ModelSpec,
        weights_sha256: str,
        registry: ShardRegistry,
        *,
        costs: ModelCosts,
        bus: Bus | None = None,
        seeds: Iterable[str] = (),
        options: PoolOptions | None = None,
        tls: TlsMaterial | None = None,
    ) -> None:
        self.spec = spec
        self.weights_sha256 = weights_sha256
        self.registry = registry
        self.costs = costs
        self.options = options or PoolOptions()
        self.seeds = list(seeds)
        self.membership = Membership(registry, bus)
        self.channels = Channels(tls)  # mTLS with the coordinator's certificate, pinning each node's id
        self.counters = PoolCounters()
        self.plan: list[range] | None = None
        # Called before every frame of every session (stage index, step, node id): fault injection in tests.
        self.on_send: Callable[[int, int, str], None] | None = None
        self._lock = threading.Lock()
        self._open: Counter[str] = Counter()  # node -> sessions this coordinator holds there
        self._refused: set[str] = set()  # nodes seen serving another model or other weights (logged once)
        self._draining: set[str] = set()  # nodes taking no new session (an operator's drain)
        self._removed: set[str] = set()  # nodes removed for good: never heartbeated or placed on again
        self._changed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._monitor = threading.Thread(target=self._watch, name="qcl-shard-monitor", daemon=True)

    # --- lifecycle --------------------------------------------------------------------------------------------------

    def start(self) -> ShardPool:
        self.refresh()
        self._monitor.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._monitor.is_alive():
            self._monitor.join(timeout=5)
        self.channels.close()

    def wait_ready(self, timeout_s: float) -> bool:
        """True once every range of the plan has a usable node (False after `timeout_s`)."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not self._ready_locked():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.2))
        return True

    # --- membership -------------------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Heartbeat the seed nodes from here, read the registry, publish changes, settle the plan."""
        self._heartbeat_seeds()
        self.membership.refresh()
        with self._changed:
            if self.plan is None:
                self.plan = _tiling([r for n in self._usable() for r in n.ranges], self.spec.layers)
                if self.plan is not None:
                    log.info("shard plan: %s", ", ".join(f"{r.start}:{r.stop}" for r in self.plan))
            self._changed.notify_all()

    def suspect(self, node_id: str, reason: str) -> None:
        self.membership.suspect(node_id, reason)
        record = next((r for r in self.membership.records() if r.node_id == node_id), None)
        if record is not None:
            self.channels.drop(record.address)

    def _usable(self) -> list[NodeRecord]:
        usable = []
        for record in self.membership.usable():
            if record.node_id in self._removed:
                continue
            if record.model == self.spec.id and record.weights_sha256 == self.weights_sha256:
                usable.append(record)
            elif record.node_id not in self._refused:
                self._refused.add(record.node_id)
                log.warning(
                    "shard node %s serves %s@%s, not %s@%s: not used",
                    record.node_id,
                    record.model,
                    record.weights_sha256[:12],
                    self.spec.id,
                    self.weights_sha256[:12],
                )
        return usable

    def _ready_locked(self) -> bool:
        if self.plan is None:
            return False
        usable = self._usable()
        return all(any(n.serves(layers) for n in usable) for layers in self.plan)

    def _heartbeat_seeds(self) -> None:
        """Ask every seed node for its record; each answer is written as its heartbeat when it arrives.

        The calls run side by side and nothing waits for them: a node that does not answer within one heartbeat
        period has missed that heartbeat, and a slow node cannot delay the others' beats.
        """
        for address in list(self.seeds):  # a copy: an operator may remove a node meanwhile
            stub = self.channels.get(address).unary_unary(f"/{SERVICE}/Info")
            call = stub.future(b"{}", timeout=self.registry.heartbeat_s)
            call.add_done_callback(lambda done, at=address: self._beat(at, done))

    def _beat(self, address: str, call: Future[bytes]) -> None:
        try:
            record = NodeRecord.model_validate_json(call.result())
        except grpc.RpcError:
            return  # no heartbeat this period; `misses` in a row and the record expires
        except ValueError as exc:
            log.warning("shard node at %s sent an unreadable record: %s", address, exc)
            return
        if record.node_id in self._removed:  # an answer already on its way when the node was removed
            return
        try:
            self.registry.heartbeat(record)
        except Exception:  # the store may be briefly unreachable; the next beat tries again
            log.exception("could not write the heartbeat of %s", record.node_id)

    def _watch(self) -> None:
        period = self.registry.heartbeat_s
        next_beat = time.monotonic() + period
        while not self._stop.wait(max(0.0, next_beat - time.monotonic())):
            next_beat += period  # a fixed rate: a slow refresh does not stretch the heartbeat period
            try:
                self.refresh()
            except Exception:  # the store or bus may be briefly unreachable; the next period tries again
                log.exception("shard pool refresh failed")

    # --- placement --------------------------------------------------------------------------------------------------

    def place(self, layers: range, exclude: set[str]) -> NodeRecord | None:
        """The least-loaded usable node serving `layers` (sticky afterwards: the session keeps its link)."""
        with self._lock:
            taking = self._taking()
            candidates = [n for n in taking if n.serves(layers) and n.node_id not in exclude]
            if not candidates:
                return None
            chosen = min(candidates, key=self._load_key)
            self._open[chosen.node_id] += 1
            return chosen

    def _taking(self) -> list[NodeRecord]:
        """Usable nodes that take new sessions (not draining)."""
        return [n for n in self._usable() if n.node_id not in self._draining]

    # --- an operator's actions ------------------------------------------------------------------------------------

    def node(self, node_id: str) -> NodeRecord | None:
        return next((r for r in self.membership.records() if r.node_id == node_id), None)

    def coverage_gap(self, node_id: str) -> str | None:
        """Why taking `node_id` out of placement would break the pipeline (a range of the plan left without another
        node taking sessions), or None when it would not."""
        with self._lock:
            others = [n for n in self._taking() if n.node_id != node_id]
            for layers in self.plan or []:
                if not any(n.serves(layers) for n in others):
                    return f"no other node takes sessions for layers {layers.start}:{layers.stop}"
        return None

    def drain(self, node_id: str) -> None:
        """Take no new session on `node_id`; the ones it holds finish there (ValueError naming the gap if that would
        leave a range uncovered)."""
        gap = self.coverage_gap(node_id)
        if gap is not None:
            raise ValueError(gap)
        with self._lock:
            self._draining.add(node_id)

    def undrain(self, node_id: str) -> None:
        with self._lock:
            self._draining.discard(node_id)

    def remove(self, node_id: str) -> None:
        """Leave `node_id` out for good: no heartbeat from here, no placement, its registry record gone (a drained node
        always may: it takes no session already)."""
        with self._lock:
            drained = node_id in self._draining and not self._open[node_id]
        gap = None if drained else self.coverage_gap(node_id)
        if gap is not None:
            raise ValueError(gap)
        record = self.node(node_id)
        with self._lock:
            self._removed.add(node_id)
            self._draining.discard(node_id)
            if record is not None and record.address in self.seeds:
                self.seeds.remove(record.address)
        self.registry.leave(node_id)

    def open_sessions(self, node_id: str) -> int:
        """Sessions this coordinator holds on `node_id` now."""
        with self._lock:
            return self._open[node_id]

    def lifecycle(self, node_id: str) -> str:
        """ "active", "draining" (sessions still open there), "drained" or "removed"."""
        with self._lock:
            if node_id in self._removed:
                return "removed"
            if node_id in self._draining:
                return "draining" if self._open[node_id] else "drained"
            return "active"

    def release(self, node_id: str) -> None:
        with self._lock:
            self._open[node_id] = max(0, self._open[node_id] - 1)

    def adopt(self, layers: range, exclude: set[str]) -> NodeRecord | None:
        """Have a live node load an orphaned range; its record (with the range) or None when none could."""
        if not self.options.adopt:
            return None
        live = [n for n in self._taking() if n.node_id not in exclude]
        if not live:
            return None
        capacities = [NodeCapacity(n.node_id, n.compute, n.memory_free_bytes) for n in live]
        try:
            node_id = adopter(self.costs, layers, capacities)
        except ValueError as exc:
            log.warning("no node can adopt layers %d:%d: %s", layers.start, layers.stop, exc)
            return None
        node = next(n for n in live if n.node_id == node_id)
        log.warning("no live node serves layers %d:%d; %s loads them", layers.start, layers.stop, node_id)
        try:
            body = call_json(
                self.channels.get(node.address, node.node_id),
                "Load",
                {"layers": f"{layers.start}:{layers.stop}"},
                node_id=node_id,
                timeout_s=self.options.load_timeout_s,
            )
        except LinkFailure as failure:
            self.suspect(node_id, f"loading layers failed: {failure}")
            return None
        self.registry.heartbeat(NodeRecord.model_validate(body))
        self.refresh()
        with self._lock:
            self.counters.adoptions += 1
        return self.place(layers, exclude)

    def _load_key(self, node: NodeRecord) -> tuple[float, float, str]:
        load = max(self._open[node.node_id], node.sessions) / node.max_sessions
        return (load, node.decode_ms_per_frame or 0.0, node.node_id)

    def ms_per_frame(self, layers: range) -> float | None:
        """The median decode time per frame of the nodes serving `layers`, as they last reported it."""
        times = sorted(
            n.decode_ms_per_frame for n in self.membership.records() if n.serves(layers) and n.decode_ms_per_frame
        )
        return times[len(times) // 2] if times else None

    def frame_timeout_s(self, tokens: int) -> float:
        return self.options.step_timeout_s + tokens * self.options.token_timeout_s

    def count_decode(self, wire_bytes: int) -> None:
        with self._lock:
            self.counters.decode_tokens += 1
            self.counters.decode_bytes += wire_bytes

    def count_spans(self, spans: int) -> None:
        with self._lock:
            self.counters.replay_spans += spans

    def count_recovery(self, seconds: float) -> None:
        with self._lock:
            self.counters.failovers += 1
            self.counters.last_recovery_s = round(seconds, 3)

    def open_session(self, sampling: Sampling) -> Any:
        from qcl.shard.pipeline import PipelineSession

        with self._lock:
            self.counters.sessions += 1
        return PipelineSession(self, sampling)

    # --- health and status ------------------------------------------------------------------------------------------

    def health_check(self) -> bool:
        """Every range has a usable node that answers the gRPC health check."""
        with self._lock:
            if not self._ready_locked():
                return False
            usable, plan = self._usable(), list(self.plan or [])
        for layers in plan:
            holders = [n for n in usable if n.serves(layers)]
            if not any(check_health(self.channels.get(n.address, n.node_id)) for n in holders):
                return False
        return True

    def status(self) -> dict[str, Any]:
        records = self.membership.records()
        stages = []
        for layers in self.plan or []:
            replicas = [
                {
                    "node_id": n.node_id,
                    "address": n.address,
                    "state": self.membership.state(n.node_id),
                    "sessions": n.sessions,
                    "decode_ms_per_frame": n.decode_ms_per_frame,
                }
                for n in records
                if n.serves(layers)
            ]
            stages.append({"layers": [layers.start, layers.stop], "replicas": replicas})
        counters = self.counters
        return {
            "stages": stages,
            "nodes": len(records),
            "healthy_nodes": sum(self.membership.state(n.node_id) == "up" for n in records),
            "wire": self.options.wire,
            "sessions": counters.sessions,
            "failovers": counters.failovers,
            "adoptions": counters.adoptions,
            "last_recovery_s": counters.last_recovery_s,
            "wire_bytes_per_token": round(counters.decode_bytes / counters.decode_tokens, 1)
            if counters.decode_tokens
            else None,
        }


def _tiling(ranges: list[tuple[int, int]], layers: int) -> list[range] | None:
    """A chain of served ranges from layer 0 to `layers` (longest ranges first: fewer hops), or None on a gap."""
    by_start: dict[int, list[int]] = {}
    for start, stop in set(ranges):
        by_start.setdefault(start, []).append(stop)

    def extend(start: int) -> list[range] | None:
        if start == layers:
            return []
        for stop in sorted(by_start.get(start, []), reverse=True):
            rest = extend(stop)
            if rest is not None:
                return [range(start, stop), *rest]
        return None

    return extend(0)

"""The local shard pool's replica sets as one thing the job autoscaler resizes (qcl.compute.autoscale's Scalable).

    replicas = ShardReplicas(local_pool, sharded_model.pool)
    Autoscaler(jobs, replicas, ScalingPolicy(min_replicas=1, max_replicas=3)).start()  # qcl up --shards 3 --autoscale 3

A replica set is one process per stage on the stage plan's ranges. Scaling up starts a set and hands its addresses
to the coordinator as seeds: its nodes take sessions from the heartbeat that finds them loaded (least-loaded
placement sends new sessions there first). Scaling down retires the newest set: its nodes are drained (no new
session; the ones they hold finish there, with the tokens they would have had), and once every one of them is
drained its processes stop and leave the pool. The first set is never retired: the pipeline needs one.
"""

from __future__ import annotations

import logging
import threading
import time

from qcl.shard.local import LocalPool, StageProcess
from qcl.shard.pool import ShardPool

log = logging.getLogger(__name__)


class ShardReplicas:
    def __init__(self, local: LocalPool, pool: ShardPool) -> None:
        self.local = local
        self.pool = pool
        self.node_seconds = 0.0  # lifetimes of the stage processes retired so far
        self._retiring: set[int] = set()  # replica numbers being drained
        self._lock = threading.Lock()

    def _sets(self) -> dict[int, list[StageProcess]]:
        sets: dict[int, list[StageProcess]] = {}
        for stage_process in self.local.processes:
            sets.setdefault(stage_process.replica, []).append(stage_process)
        return sets

    def replicas(self) -> int:
        """Replica sets running and not draining (a retiring set that has drained is stopped here)."""
        with self._lock:
            self._reap()
            return len(self._sets().keys() - self._retiring)

    def draining(self) -> int:
        with self._lock:
            return len(self._retiring)

    def live_node_seconds(self) -> float:
        """Process-seconds of every stage process so far (what a pool of VMs would be billed)."""
        with self._lock:
            now = time.monotonic()
            return self.node_seconds + sum(now - p.started[0] for p in self.local.processes if p.started)

    def scale_to(self, replicas: int) -> None:
        with self._lock:
            self._reap()
            live = sorted(self._sets().keys() - self._retiring)
            for _ in range(max(1, replicas) - len(live)):
                self._add()
            for replica in reversed(live[max(1, replicas) :]):
                self._retire(replica)

    def _add(self) -> None:
        started = self.local.add_replica()
        self.pool.seeds.extend(p.address for p in started)
        log.info("shard replicas: started %s", ", ".join(p.node_id for p in started))

    def _retire(self, replica: int) -> None:
        nodes = [p.node_id for p in self._sets()[replica]]
        drained: list[str] = []
        try:
            for node_id in nodes:
                self.pool.drain(node_id)
                drained.append(node_id)
        except ValueError as exc:  # another set's node is down now: retiring this one would break the pipeline
            for node_id in drained:
                self.pool.undrain(node_id)
            log.warning("shard replicas: replica %d stays for now: %s", replica, exc)
            return
        self._retiring.add(replica)
        log.info("shard replicas: draining %s", ", ".join(nodes))

    def _reap(self) -> None:
        """Stop the retiring sets whose every node has drained (no session of this coordinator open there)."""
        sets = self._sets()
        for replica in sorted(self._retiring):
            processes = sets.get(replica, [])
            if any(self.pool.lifecycle(p.node_id) == "draining" for p in processes):
                continue
            for stage_process in processes:
                self.pool.remove(stage_process.node_id)
                self.local.remove_stage(stage_process.node_id)
                self.node_seconds += time.monotonic() - stage_process.started[0]
            self._retiring.discard(replica)
            log.info("shard replicas: replica %d drained and stopped", replica)

    def close(self) -> None:
        """Nothing of its own to stop: the sharded model that owns the local pool stops every process."""

"""ShardedModel: the generation service whose forward passes run on the shard pool.

    model = open_sharded_model(settings, store=store, bus=bus, seeds=pool.addresses)   # waits for the pool
    result = model.generate([{"role": "user", "content": "Hello"}], GenerationParams(max_new_tokens=32))
    for delta in model.stream("Hello", GenerationParams()):
        print(delta, end="")
    model.status()["shard_pool"]        # stages, replicas and their state, failovers, bytes per token

It is a GenerationService (same queue, busy answers, validation, chat template, result cache, deadlines,
streaming and GenerationResult), with the single-node batch runner swapped for PoolRunner: each request of a
batch becomes one pipeline session through the pool, the sessions of a batch run side by side (so the stages
pipeline them), and every token the last stage samples goes through the same acceptance code as on one node (end
of sequence, stop sequences, limits, deadlines, think blocks). The coordinator holds no weights: its model is a
skeleton on the meta device carrying the config, tokenizer and generation config.
"""

from __future__ import annotations

import logging
import random
import threading
from typing import Any

from qcl.bus.base import Bus
from qcl.config import Settings
from qcl.model.batch import BatchRunner, Request, _Row
from qcl.model.loading import LoadedModel
from qcl.model.service import GenerationService
from qcl.obs.logging import bind_request, unbind_request
from qcl.shard.errors import ShardPoolUnavailableError
from qcl.shard.loading import load_skeleton
from qcl.shard.local import LocalPool
from qcl.shard.partition import ModelCosts
from qcl.shard.pool import PoolOptions, ShardPool
from qcl.shard.registry import ShardRegistry
from qcl.shard.sessions import Sampling
from qcl.shard.tls import coordinator_tls
from qcl.shard.wire import resolve_wire
from qcl.store.base import Store

log = logging.getLogger(__name__)


class PoolRunner(BatchRunner):
    """Runs a batch's requests as pipeline sessions through the pool (one thread per request)."""

    def __init__(self, service_runner: BatchRunner, pool: ShardPool) -> None:
        # Take over the service's own runner state (its locks, result callback, end-of-sequence ids) as it is,
        # rather than re-calling a constructor whose arguments belong to the model runtime.
        vars(self).update(vars(service_runner))
        self.pool = pool

    def _decode(self, rows: list[_Row]) -> None:
        if len(rows) == 1:
            self._run_row(rows[0])
            return
        threads = [threading.Thread(target=self._run_row, args=(row,), daemon=True) for row in rows]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _run_row(self, row: _Row) -> None:
        # This thread's log lines, and the session's call metadata (session_metadata), name the asking request.
        bound = bind_request(row.request.request_id) if row.request.request_id else None
        try:
            session = self.pool.open_session(self.sampling(row.request))
            log.info(
                "session %s: %d prompt tokens through the pool", session.session_id.hex(), len(row.request.prompt_ids)
            )
            try:
                token = session.prefill(row.request.prompt_ids)
                while True:
                    self._take(row, token)
                    if row.finish is not None:
                        return
                    token = session.decode(token)
            finally:
                session.close()
        except Exception as exc:  # one row's failure is its own; the batch's other rows go on
            row.request.fail(exc)
        finally:
            if bound is not None:
                unbind_request(bound)

    def sampling(self, request: Request) -> Sampling:
        params = request.params
        seed = params.seed if params.seed is not None else random.SystemRandom().randrange(2**62)
        banned = tuple(self.eos_ids) if params.ban_eos else ()
        return Sampling(params.temperature, params.top_p, params.top_k, seed, banned)


class ShardedModel(GenerationService):
    def __init__(
        self,
        pool: ShardPool,
        skeleton: LoadedModel,
        *,
        queue_size: int = 16,
        max_batch: int = 4,
        batch_window_ms: float = 5.0,
        result_cache: int = 256,
        local_pool: LocalPool | None = None,
    ) -> None:
        super().__init__(
            skeleton,
            queue_size=queue_size,
            max_batch=max_batch,
            batch_window_ms=batch_window_ms,
            result_cache=result_cache,
        )
        self.pool = pool
        self.local_pool = local_pool  # stage processes this model started, stopped when it closes
        # Swapped before any request can arrive (none can before __init__ returns).
        self._runner = PoolRunner(self._runner, pool)

    def health_check(self) -> bool:
        """True when the worker is alive and every layer range has a live node answering its health check."""
        return self._worker.is_alive() and self.pool.health_check()

    def status(self) -> dict[str, Any]:
        status = {**super().status(), "shard_pool": self.pool.status()}
        if self.local_pool is not None:
            status["shard_pool"]["processes"] = [
                {"node_id": p.node_id, "pid": p.pid, "address": p.address, "restarts": p.restarts}
                for p in self.local_pool.processes
            ]
        return status

    def close(self) -> None:
        super().close()
        self.pool.close()
        if self.local_pool is not None:
            self.local_pool.stop()


def pool_options(settings: Settings, quantization: str, **overrides: Any) -> PoolOptions:
    """The coordinator's options from QCL_SHARD_* (the wire dtype resolved for the model's quantization)."""
    values: dict[str, Any] = {
        "wire": resolve_wire(settings.shard_wire, quantization),
        "step_timeout_s": settings.shard_step_timeout_s,
        "recovery_timeout_s": settings.shard_recovery_timeout_s,
    }
    values.update(overrides)
    return PoolOptions(**values)


def open_pool(
    settings: Settings,
    *,
    store: Store,
    bus: Bus | None = None,
    seeds: list[str] | None = None,
    model_id: str | None = None,
    options: PoolOptions | None = None,
    skeleton: LoadedModel | None = None,
) -> tuple[ShardPool, LoadedModel]:
    """The coordinator's pool view for `model_id` (default QCL_MODEL), started; not yet waited for."""
    loaded = skeleton or load_skeleton(model_id or settings.model, settings)
    registry = ShardRegistry(store, heartbeat_s=settings.shard_heartbeat_s, misses=settings.shard_missed_heartbeats)
    pool = ShardPool(
        loaded.spec,
        loaded.weights_sha256,
        registry,
        costs=ModelCosts.from_config(loaded.model.config, quantization=loaded.quantization),
        bus=bus,
        seeds=settings.shard_nodes if seeds is None else seeds,
        options=options or pool_options(settings, loaded.quantization),
        tls=coordinator_tls(settings),
    )
    return pool.start(), loaded


def open_sharded_model(
    settings: Settings,
    *,
    store: Store,
    bus: Bus | None = None,
    seeds: list[str] | None = None,
    model_id: str | None = None,
    ready_timeout_s: float = 120.0,
) -> ShardedModel:
    """A ShardedModel over the pool (seed addresses: QCL_SHARD_NODES unless given), once every range is served."""
    pool, skeleton = open_pool(settings, store=store, bus=bus, seeds=seeds, model_id=model_id)
    if not pool.wait_ready(ready_timeout_s):
        pool.close()
        raise ShardPoolUnavailableError(skeleton.spec.id, f"layers 0..{skeleton.spec.layers} not all served")
    return ShardedModel(
        pool,
        skeleton,
        queue_size=settings.model_queue_size,
        max_batch=settings.model_max_batch,
        batch_window_ms=settings.model_batch_window_ms,
        result_cache=settings.model_result_cache,
    )


def open_local_sharded_model(
    settings: Settings, *, store: Store, bus: Bus | None = None, stages: int = 3, replicas: int = 1
) -> ShardedModel:
    """`qcl up --shards N`: N stage processes of QCL_MODEL on loopback and a ShardedModel over them.

    Closing the model stops the processes. ShardError or ModelUnavailableError when the pool cannot start.
    """
    local = LocalPool(settings, settings.model, stages=stages, replicas=replicas, threads=settings.shard_threads)
    local.start()
    try:
        pool, skeleton = open_pool(settings, store=store, bus=bus, seeds=local.addresses)
        if not pool.wait_ready(120):
            pool.close()
            raise ShardPoolUnavailableError(skeleton.spec.id, "the local stages did not all become usable")
    except BaseException:
        local.stop()
        raise
    return ShardedModel(
        pool,
        skeleton,
        queue_size=settings.model_queue_size,
        max_batch=settings.model_max_batch,
        batch_window_ms=settings.model_batch_window_ms,
        result_cache=settings.model_result_cache,
        local_pool=local,
    )

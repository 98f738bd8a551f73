"""`qcl bench autoscale`: the job autoscaler against a burst, then a trickle, on the Redis store, beside a fixed pool
of the autoscaler's maximum run on the same load in the same run.

    qcl bench autoscale --json
    qcl bench autoscale --burst 100 --trickle-s 10 --json      # smaller

Each replica is a real `qcl jobs work` process on the labelled FAKE sleeping runtime (`ms_per_token` per token, so
that the figures are the scheduler's and the scaler's, not the model's). The load: `burst` jobs at once, then
`trickle_per_s` jobs a second for `trickle_s` seconds, then nothing until the autoscaler is back at its minimum.

Figures, per pool: wall time until every job finished, node-seconds (the replicas' lifetimes, start-up included),
lost jobs (not done at the end), duplicated jobs (run more than once: `attempts` above 1), worker processes that
failed (ended otherwise than by the stop asked of them). For the autoscaler also: the reaction (burst submitted ->
first scale-up decision, and -> the first job finished by a replica it added), the scaling events, and its
node-seconds against the fixed pool's.

    qcl bench autoscale --shards 2 --max-replicas 2 --json    # replica sets of a real shard pool instead

With `--shards N` (run_shard_autoscale_bench) a replica is a set of N `qcl shard serve` processes of a real model
(tiny-random-qwen2 by default), the jobs run on in-process workers over the sharded model, and every job's text is
checked against the same model in one process.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from qcl.compute.autoscale import Autoscaler, ScalingPolicy, WorkerProcesses, worker_command
from qcl.compute.jobs import Job, JobRequest
from qcl.compute.policy import Quota
from qcl.compute.queue import JobQueue
from qcl.compute.quotas import QuotaBook
from qcl.config import ENV_PREFIX, Settings, as_environment
from qcl.store.base import Store

if TYPE_CHECKING:
    from qcl.shard.replicas import ShardReplicas

KEY = "bench-autoscale"
UNLIMITED = Quota(tokens_per_minute=10**9, daily_tokens=10**12, max_running=10**6, max_queued=10**7)


def _env(settings: Settings) -> dict[str, str]:
    """The worker processes' environment: this store, and nothing else of the caller's QCL_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env.update(as_environment(settings, ["store", "redis_url", "redis_prefix"]))
    env.update({"QCL_JOBS_LEASE_S": "10", "QCL_LOG_LEVEL": "WARNING"})
    return env


def _submit(jobs: JobQueue, n: int, tokens: int, tag: str) -> list[Job]:
    body = {"kind": "completion", "prompts": [f"{tag} {i}" for i in range(n)], "max_tokens": tokens}
    return jobs.submit(JobRequest.model_validate(body).jobs(key_id=KEY, now=jobs.clock()))


def _drive(
    jobs: JobQueue,
    *,
    burst: int,
    trickle_per_s: float,
    trickle_s: float,
    tokens: int,
    progress: Callable[[str], None],
) -> tuple[list[Job], float]:
    """Submit the burst, then the trickle; returns the jobs and when the burst went in (monotonic)."""
    burst_at = time.monotonic()
    submitted = _submit(jobs, burst, tokens, "burst")
    progress(f"burst of {burst} submitted")
    trickled = 0
    while (elapsed := time.monotonic() - burst_at) < trickle_s:
        due = int(elapsed * trickle_per_s)
        if due > trickled:
            submitted += _submit(jobs, due - trickled, tokens, f"trickle {trickled}")
            trickled = due
        time.sleep(0.05)
    return submitted, burst_at


def _settle(jobs: JobQueue, submitted: list[Job], *, timeout_s: float, progress: Callable[[str], None]) -> list[Job]:
    deadline = time.monotonic() + timeout_s
    while True:
        final = [jobs.get(job.id) for job in submitted]
        done = sum(1 for job in final if job is not None and job.final)
        if done == len(submitted) or time.monotonic() > deadline:
            return [job for job in final if job is not None]
        progress(f"finished {done}/{len(submitted)}")
        time.sleep(0.5)


def _outcome(submitted: list[Job], final: list[Job], started: float, serving_s: float) -> dict[str, Any]:
    """`serving_s`: the replicas' node-seconds from the first submission until every job had finished."""
    done = [job for job in final if job.state == "done"]
    last = max((job.finished_at or 0.0 for job in done), default=0.0)
    return {
        "jobs": len(submitted),
        "done": len(done),
        "lost": len(submitted) - len(done),
        "duplicated": sum(1 for job in final if job.attempts > 1),
        "wall_s": round(last - started, 2) if done else None,
        "node_seconds": round(serving_s, 1),
    }


def _pid(job: Job) -> int | None:
    parts = (job.worker or "").split("/")  # "//qcl/jobs/<host>/<pid>/<n>"
    return int(parts[-2]) if len(parts) >= 2 and parts[-2].isdigit() else None


def _back_at_minimum(target: WorkerProcesses | ShardReplicas, policy: ScalingPolicy) -> bool:
    """Wait, within reason, until the autoscaler is back at its minimum with nothing draining; whether it is."""
    deadline = time.monotonic() + policy.scale_down_after_s * (policy.max_replicas + 2) + 60
    while (target.replicas() > policy.min_replicas or target.draining()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return target.replicas() == policy.min_replicas and target.draining() == 0


def _fixed(
    settings: Settings, store: Store, replicas: int, command: list[str], load: dict[str, Any], progress: Any
) -> dict[str, Any]:
    store.clear()
    jobs = JobQueue(store, QuotaBook(store, UNLIMITED))
    processes = WorkerProcesses(command, env=_env(settings))
    processes.scale_to(replicas)
    try:
        time.sleep(3.0)  # the same warm start the autoscaled run gets from its minimum
        started, before = time.time(), processes.live_node_seconds()
        submitted, _ = _drive(jobs, progress=progress, **load)
        final = _settle(jobs, submitted, timeout_s=600, progress=progress)
        serving_s = processes.live_node_seconds() - before
    finally:
        processes.close()
    outcome = _outcome(submitted, final, started, serving_s)
    return {"replicas": replicas, **outcome, "worker_failures": processes.failures}


def _autoscaled(
    settings: Settings,
    store: Store,
    policy: ScalingPolicy,
    command: list[str],
    load: dict[str, Any],
    progress: Callable[[str], None],
) -> dict[str, Any]:
    store.clear()
    jobs = JobQueue(store, QuotaBook(store, UNLIMITED))
    processes = WorkerProcesses(command, env=_env(settings))
    scaler = Autoscaler(JobQueue(store, QuotaBook(store, UNLIMITED)), processes, policy)
    scaler.on_event = lambda e: progress(f"autoscale {e.replicas_from} -> {e.replicas_to}: {e.reason}")
    scaler.start()
    try:
        time.sleep(3.0)  # the minimum's processes start
        first = processes.pids()
        started, before = time.time(), processes.live_node_seconds()
        submitted, burst_at = _drive(jobs, progress=progress, **load)
        final = _settle(jobs, submitted, timeout_s=600, progress=progress)
        serving_s = processes.live_node_seconds() - before
        back_at_minimum = _back_at_minimum(processes, policy)
        ups = [e for e in scaler.events if e.replicas_to > e.replicas_from and e.at >= burst_at]
        added_first = min(
            (job.finished_at - started for job in final if job.finished_at and _pid(job) not in first),
            default=None,
        )
    finally:
        scaler.stop()
    return {
        "policy": scaler.status()["policy"],
        **_outcome(submitted, final, started, serving_s),
        "node_seconds_until_back_at_minimum": round(processes.node_seconds, 1),
        "worker_failures": processes.failures,
        "scale_up_decision_s": round(ups[0].at - burst_at, 2) if ups else None,
        "added_replica_first_job_s": None if added_first is None else round(added_first, 2),
        "peak_replicas": max([e.replicas_to for e in scaler.events], default=policy.min_replicas),
        "back_at_minimum": back_at_minimum,
        "events": [
            {"at_s": round(e.at - burst_at, 2), "from": e.replicas_from, "to": e.replicas_to, "reason": e.reason}
            for e in scaler.events
        ],
    }


def _against(result: dict[str, Any], fixed: dict[str, Any] | None) -> dict[str, Any]:
    """The autoscaled run's node-seconds and wall time as ratios of the fixed pool's."""
    if fixed is None:
        return result
    autoscaled = result["autoscaled"]
    result["fixed"] = fixed
    if fixed["node_seconds"]:
        result["node_seconds_ratio"] = round(autoscaled["node_seconds"] / fixed["node_seconds"], 3)
    if fixed["wall_s"] and autoscaled["wall_s"]:
        result["wall_ratio"] = round(autoscaled["wall_s"] / fixed["wall_s"], 3)
    return result


def run_autoscale_bench(
    settings: Settings,
    store: Store,
    *,
    burst: int = 300,
    trickle_per_s: float = 3.0,
    trickle_s: float = 30.0,
    tokens: int = 10,
    ms_per_token: float = 20.0,
    workers_per_replica: int = 2,
    policy: ScalingPolicy | None = None,
    baseline: bool = True,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    policy = policy or ScalingPolicy(
        min_replicas=1, max_replicas=4, target_wait_s=5.0, scale_down_after_s=10.0, interval_s=0.5
    )
    command = worker_command(workers_per_replica, fake_ms_per_token=ms_per_token)
    load = {"burst": burst, "trickle_per_s": trickle_per_s, "trickle_s": trickle_s, "tokens": tokens}
    try:
        autoscaled = _autoscaled(settings, store, policy, command, load, progress)
        fixed = _fixed(settings, store, policy.max_replicas, command, load, progress) if baseline else None
    finally:
        store.clear()
    result: dict[str, Any] = {
        "runtime": f"FAKE sleeping runtime, {ms_per_token} ms per token, {tokens} tokens a job",
        "replica": f"`qcl jobs work --workers {workers_per_replica}` process",
        "load": load,
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
        "autoscaled": autoscaled,
    }
    return _against(result, fixed)


def _shard_run(
    settings: Settings,
    model_id: str,
    *,
    stages: int,
    policy: ScalingPolicy,
    fixed: bool,
    workers: int,
    load: dict[str, Any],
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """One run on a real local shard pool: `fixed` starts policy.max_replicas sets and scales nothing; otherwise the
    autoscaler sizes the sets from policy.min_replicas. Jobs run on in-process workers over the sharded model."""
    from qcl.compute.placement import Runtimes
    from qcl.compute.worker import WorkerPool
    from qcl.shard.coordinator import ShardedModel, open_pool
    from qcl.shard.local import LocalPool
    from qcl.shard.options import PoolOptions
    from qcl.shard.replicas import ShardReplicas
    from qcl.store.memory import MemoryStore

    sets = policy.max_replicas if fixed else policy.min_replicas
    local = LocalPool(settings, model_id, stages=stages, replicas=sets, threads=1).start()
    try:
        # fp32 activations on the wire: a job's text is then exactly the one-process model's (fp16 rounds them)
        options = PoolOptions(wire="fp32")
        pool, skeleton = open_pool(
            settings, store=MemoryStore(), seeds=local.addresses, model_id=model_id, options=options
        )
    except BaseException:
        local.stop()
        raise
    model = ShardedModel(pool, skeleton, result_cache=0, local_pool=local)
    store = MemoryStore()
    jobs = JobQueue(store, QuotaBook(store, UNLIMITED))
    replicas = ShardReplicas(local, pool)
    scaler = None if fixed else Autoscaler(JobQueue(store, QuotaBook(store, UNLIMITED)), replicas, policy)
    added_first_frame: list[float] = []  # when a set the autoscaler added first computed a frame

    def on_send(stage: int, step: int, node_id: str) -> None:
        if not added_first_frame and int(node_id.rsplit("-r", 1)[1]) >= sets:
            added_first_frame.append(time.monotonic())

    pool.on_send = on_send
    worker_pool = WorkerPool(jobs, Runtimes({"local": model}), workers=workers, name="//bench/autoscale/shards")
    try:
        if not pool.wait_ready(120):
            raise RuntimeError(f"the {sets} replica set(s) of {stages} stages did not become usable")
        worker_pool.start()
        if scaler is not None:
            scaler.on_event = lambda e: progress(f"shard sets {e.replicas_from} -> {e.replicas_to}: {e.reason}")
            scaler.start()
        started, before = time.time(), replicas.live_node_seconds()
        submitted, burst_at = _drive(jobs, progress=progress, **load)
        final = _settle(jobs, submitted, timeout_s=900, progress=progress)
        serving_s = replicas.live_node_seconds() - before
        result: dict[str, Any] = {"replica_sets": sets, **_outcome(submitted, final, started, serving_s)}
        if scaler is not None:
            back_at_minimum = _back_at_minimum(replicas, policy)
            ups = [e for e in scaler.events if e.replicas_to > e.replicas_from and e.at >= burst_at]
            result |= {
                "scale_up_decision_s": round(ups[0].at - burst_at, 2) if ups else None,
                "added_set_first_frame_s": round(added_first_frame[0] - burst_at, 2) if added_first_frame else None,
                "peak_replica_sets": max([e.replicas_to for e in scaler.events], default=sets),
                "back_at_minimum": back_at_minimum,
                "node_seconds_until_back_at_minimum": round(replicas.live_node_seconds() - before, 1),
                "events": [
                    {"at_s": round(e.at - burst_at, 2), "from": e.replicas_from, "to": e.replicas_to}
                    for e in scaler.events
                ],
            }
        result["texts"] = {job.id: (job.payload, job.max_tokens, (job.result or {}).get("text")) for job in final}
        return result
    finally:
        if scaler is not None:
            scaler.stop()
        worker_pool.stop()
        model.close()


def run_shard_autoscale_bench(
    settings: Settings,
    *,
    model_id: str = "tiny-random-qwen2",
    stages: int = 2,
    burst: int = 60,
    trickle_per_s: float = 2.0,
    trickle_s: float = 10.0,
    tokens: int = 16,
    workers: int = 4,
    policy: ScalingPolicy | None = None,
    baseline: bool = True,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """The autoscaler on replica sets of a real shard pool (`qcl bench autoscale --shards N`): reaction, a set
    drained back to the minimum with no job lost, every job's text against the same model in one process (greedy:
    identical tokens whatever set and failover served it), node-seconds against a fixed pool of the maximum."""
    from qcl.model.loading import load_model
    from qcl.model.params import GenerationParams
    from qcl.model.service import GenerationService

    policy = policy or ScalingPolicy(
        min_replicas=1, max_replicas=2, target_wait_s=2.0, scale_down_after_s=5.0, interval_s=0.5
    )
    load = {"burst": burst, "trickle_per_s": trickle_per_s, "trickle_s": trickle_s, "tokens": tokens}
    run = partial(_shard_run, settings, model_id, stages=stages, policy=policy, workers=workers, load=load)
    autoscaled = run(fixed=False, progress=progress)
    fixed = run(fixed=True, progress=progress) if baseline else None
    progress("the same prompts on the model in one process")
    with GenerationService(load_model(model_id, settings, progress=None), result_cache=0, threads=1) as reference:
        for outcome in (autoscaled, fixed):
            if outcome is None:
                continue
            texts = outcome.pop("texts")
            outcome["identical_texts"] = sum(
                text
                == reference.generate(
                    payload["prompt"], GenerationParams(max_new_tokens=max_tokens, temperature=0)
                ).text
                for payload, max_tokens, text in texts.values()
            )
    result: dict[str, Any] = {
        "runtime": f"{model_id} on {stages} stage processes per replica set (fp32 wire), {workers} in-process job "
        "workers",
        "load": load,
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
        "autoscaled": autoscaled,
    }
    return _against(result, fixed)

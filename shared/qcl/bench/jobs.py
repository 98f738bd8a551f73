"""`qcl bench jobs`: the scheduler under a 10,000-job backlog, on the memory or the Redis store.

    qcl bench jobs --json                        # 10,000 jobs, memory store
    qcl bench jobs --store redis --n 10000 --json

Three parts, in one run, on one store:
1. Backlog: `n` batch-class jobs from two keys weighted 3:1 (half each), submitted in batches of 500, run by a
   worker pool on the tiny model (tiny-random-llama, 2 tokens a job; `--runtime fake` runs them on the labelled
   FAKE sleeping runtime instead). Figures: admission per job, the scheduler's own time per job (claim + outcome,
   measured inside the workers), throughput, fairness (the heavy key's share of the jobs finished while both keys
   had work, against its 75 %), and lost / duplicated jobs (every id must end done exactly once: outcomes written
   are counted by the queue's on_final hook, runs by the runtime).
2. Interactive latency on the tiny model: `probes` interactive jobs one after another on an idle system, and as
   many while a backlog of 200 background jobs keeps every worker and the model busy, alternating over 4 rounds
   (a shared machine's load drifts); p95 submit-to-outcome of each and their ratio (the target: within 2x), and
   the p95 queue wait (submission to claim) of each.
"""

from __future__ import annotations

import platform
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from qcl.compute.fake import SleepingRuntime
from qcl.compute.jobs import Job, JobRequest
from qcl.compute.placement import Runtime, Runtimes
from qcl.compute.policy import Quota
from qcl.compute.queue import JobQueue
from qcl.compute.quotas import QuotaBook
from qcl.compute.worker import WorkerPool
from qcl.config import Settings
from qcl.store.base import Store
from qcl.store.keys import JOBS_ALL

TINY_MODEL = "tiny-random-llama"
SUBMIT_BATCH = 500
UNLIMITED = Quota(tokens_per_minute=10**9, daily_tokens=10**12, max_running=10**6, max_queued=10**7)


class Outcomes:
    """The queue's on_final hook: every outcome written, in order, and a wake-up per awaited job."""

    def __init__(self) -> None:
        self.finished: list[Job] = []
        self.waiting: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def __call__(self, job: Job) -> None:
        with self._lock:
            self.finished.append(job)
            event = self.waiting.get(job.id)
        if event is not None:
            event.set()

    def expect(self, job_id: str) -> threading.Event:
        with self._lock:
            return self.waiting.setdefault(job_id, threading.Event())


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def _submit(jobs: JobQueue, key: str, prompts: list[str], **options: Any) -> list[Job]:
    body = {"kind": "completion", "prompts": prompts, **options}
    return jobs.submit(JobRequest.model_validate(body).jobs(key_id=key, now=jobs.clock()))


def _tiny_service(settings: Settings) -> Any:
    from qcl.model.loading import load_model
    from qcl.model.service import GenerationService

    loaded = load_model(TINY_MODEL, settings, progress=None)
    return GenerationService(loaded, max_batch=4, batch_window_ms=2, result_cache=0)


def backlog(store: Store, runtime: Runtime, *, n: int, workers: int, progress: Callable[[str], None]) -> dict[str, Any]:
    outcomes = Outcomes()
    jobs = JobQueue(store, QuotaBook(store, UNLIMITED), on_final=outcomes)
    jobs.quotas.set("heavy", Quota(**{**UNLIMITED.__dict__, "weight": 3.0}))
    started = time.perf_counter()
    submitted: list[Job] = []
    per_key = n // 2
    for start in range(0, per_key, SUBMIT_BATCH):
        size = min(SUBMIT_BATCH, per_key - start)
        for key in ("heavy", "light"):
            prompts = [f"job {start + i} of {key}: say hi" for i in range(size)]
            submitted += _submit(jobs, key, prompts, max_tokens=2, priority="batch")
        progress(f"submitted {len(submitted)}/{n}")
    admission_s = time.perf_counter() - started
    pool = WorkerPool(jobs, Runtimes({"runtime": runtime}), workers=workers, interactive_lane=False).start()
    started = time.perf_counter()
    try:
        while len(outcomes.finished) < len(submitted):
            time.sleep(0.5)
            progress(f"finished {len(outcomes.finished)}/{len(submitted)}")
            if time.perf_counter() - started > 3600:
                break
    finally:
        pool.stop()
    wall = time.perf_counter() - started
    # Fairness over the stretch where both keys had work: until the first key ran out.
    done_by_key: Counter[str] = Counter()
    contended: Counter[str] = Counter()
    half = len(submitted) // 2
    for job in outcomes.finished:
        done_by_key[job.key_id] += 1
        if done_by_key["heavy"] < half and done_by_key["light"] < half:
            contended[job.key_id] += 1
    heavy_share = contended["heavy"] / max(1, sum(contended.values()))
    ids = Counter(job.id for job in outcomes.finished)
    states = Counter(view.state if (view := jobs.get(job.id)) else "lost" for job in submitted)
    return {
        "jobs": len(submitted),
        "workers": workers,
        "admission_ms_per_job": round(admission_s / len(submitted) * 1000, 3),
        "scheduler_ms_per_job": round(pool.scheduling_s / max(1, pool.completed) * 1000, 3),
        "throughput_jobs_per_s": round(len(outcomes.finished) / wall, 1),
        "wall_s": round(wall, 1),
        "fairness_heavy_share": round(heavy_share, 4),
        "fairness_target_share": 0.75,
        "fairness_within_10_percent": abs(heavy_share - 0.75) <= 0.075,
        "contended_jobs": sum(contended.values()),
        "done": states.get("done", 0),
        "lost": len(submitted) - len(ids),
        "duplicated": sum(count - 1 for count in ids.values()),
        "states": dict(states),
    }


def interactive_latency(
    store: Store,
    service: Any,
    *,
    probes: int,
    background: int,
    workers: int,
    rounds: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Idle and loaded probes alternate over `rounds` rounds, so that a shared machine's load drifting during the
    run falls on both conditions alike; each probe's latency is split into queue wait (submission to claim: the
    scheduler's part) and the rest (the model's)."""
    outcomes = Outcomes()
    jobs = JobQueue(store, QuotaBook(store, UNLIMITED), on_final=outcomes)
    pool = WorkerPool(jobs, Runtimes({"tiny": service}), workers=workers).start()
    totals: dict[str, list[float]] = {"idle": [], "loaded": [], "warm-up": []}
    waits: dict[str, list[float]] = {"idle": [], "loaded": [], "warm-up": []}
    per_round = max(1, probes // rounds)

    def probe(label: str, count: int) -> None:
        for index in range(count):
            prompt = f"Is the network healthy? ({label} {index})"
            (job,) = _submit(jobs, "asker", [prompt], max_tokens=8, priority="interactive")
            done = outcomes.expect(job.id)
            while not done.wait(0.05):  # the outcome may have come before expect(): look at the job too
                view = jobs.get(job.id)
                if view is not None and view.final:
                    break
            final = jobs.get(job.id)
            assert final is not None and final.finished_at is not None and final.started_at is not None
            totals[label].append((final.finished_at - final.created_at) * 1000)
            waits[label].append((final.started_at - final.created_at) * 1000)

    def drain() -> None:
        for job_id in jobs.store.window_range(JOBS_ALL.key()):
            jobs.cancel(job_id)
        deadline = time.monotonic() + 60
        while jobs.depth()["running"] and time.monotonic() < deadline:
            time.sleep(0.01)

    backlog_left: list[int] = []
    preemptions = 0
    try:
        probe("warm-up", per_round)
        for round_number in range(rounds):
            probe("idle", per_round)
            prompts = [f"Narrate epoch {i} in detail" for i in range(background)]
            _submit(jobs, "narrator", prompts, max_tokens=64, priority="background")
            deadline = time.monotonic() + 60
            while jobs.depth()["running"] < workers and time.monotonic() < deadline:
                time.sleep(0.01)
            before = service.status().get("preemptions", 0)
            probe("loaded", per_round)
            preemptions += service.status().get("preemptions", 0) - before
            backlog_left.append(jobs.depth()["background"])
            drain()
            progress(f"interactive probes: round {round_number + 1}/{rounds}")
    finally:
        drain()
        pool.stop()
    idle, loaded = _p95(totals["idle"]), _p95(totals["loaded"])
    return {
        "probes": len(totals["idle"]),
        "rounds": rounds,
        "interactive_p95_ms_idle": round(idle, 1),
        "interactive_p95_ms_loaded": round(loaded, 1),
        "loaded_over_idle": round(loaded / idle, 2),
        "within_2x": loaded <= 2 * idle,
        "queue_wait_p95_ms_idle": round(_p95(waits["idle"]), 1),
        "queue_wait_p95_ms_loaded": round(_p95(waits["loaded"]), 1),
        "background_jobs_waiting_during_probes": min(backlog_left),
        "model_preemptions_during_loaded_probes": preemptions,
    }


def run_jobs_bench(
    settings: Settings,
    store: Store,
    *,
    n: int = 10_000,
    runtime: str = "tiny",
    workers: int = 4,
    probes: int = 20,
    background: int = 200,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    service = _tiny_service(settings)
    try:
        chosen: Runtime = service if runtime == "tiny" else SleepingRuntime(ms_per_token=1.0, slots=workers)
        store.clear()
        first = backlog(store, chosen, n=n, workers=workers, progress=progress)
        store.clear()
        second = interactive_latency(
            store, service, probes=probes, background=background, workers=workers, rounds=4, progress=progress
        )
        store.clear()
    finally:
        service.close()
    return {
        "store": store.backend,
        "runtime": TINY_MODEL if runtime == "tiny" else "FAKE sleeping runtime, 1 ms per token",
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "backlog": first,
        "interactive": second,
    }

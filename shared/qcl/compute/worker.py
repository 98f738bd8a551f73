"""Workers: threads that claim jobs from the queue, run them on the best-placed runtime and record the outcome.

    pool = WorkerPool(JobQueue(store), Runtimes({"local": service}), workers=4).start()
    pool.status()          # queue depth per class, runtimes' measured speed, the forecast
    pool.stop()            # drains: no new claims, in-flight jobs finish with their leases renewed, then it returns

One extra worker, the interactive lane, takes only interactive jobs, so an interactive job never waits for a
worker held by background work; on the model it then preempts that work between decode steps (the generation
service's priority). A keeper thread renews the leases of the jobs in flight, turns a cancel request into the
generation's cancel event (so a running generation stops at its next step), reaps expired leases and due retries,
and feeds the forecast.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from qcl.compute.jobs import Job
from qcl.compute.placement import Runtimes
from qcl.compute.queue import JobQueue
from qcl.config import Settings
from qcl.model.errors import (
    GenerationDeadlineError,
    InvalidGenerationRequestError,
    ModelBusyError,
    ModelUnavailableError,
)
from qcl.model.params import PRIORITIES, GenerationParams, GenerationResult
from qcl.store.base import Store

log = logging.getLogger(__name__)


@dataclass
class InFlight:
    job: Job
    cancel: threading.Event = field(default_factory=threading.Event)
    lost: bool = False  # the lease expired: another worker may have the job; this attempt writes nothing


class WorkerPool:
    def __init__(
        self,
        jobs: JobQueue,
        runtimes: Runtimes,
        *,
        workers: int = 4,
        interactive_lane: bool = True,
        name: str = "//qcl/jobs",
        idle_s: float = 0.02,
        keep_every_s: float = 0.2,
    ) -> None:
        self.jobs = jobs
        self.runtimes = runtimes
        self.name = name
        self.idle_s = idle_s
        self.keep_every_s = keep_every_s
        self.completed = 0
        self.scheduling_s = 0.0  # time workers spent claiming jobs and recording outcomes (the scheduler's overhead)
        self._in_flight: dict[str, InFlight] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()  # workers take no new job
        self._kept = threading.Event()  # the keeper stops: set once the workers' jobs in flight have finished
        every_class: tuple[str, ...] = PRIORITIES
        lanes = [every_class] * workers + ([("interactive",)] if interactive_lane else [])
        self._threads = [
            threading.Thread(target=self._work, args=(f"{name}/{n}", lane), name=f"qcl-job-worker-{n}", daemon=True)
            for n, lane in enumerate(lanes)
        ]
        self._keeper = threading.Thread(target=self._keep, name="qcl-job-keeper", daemon=True)

    def start(self) -> WorkerPool:
        for thread in [*self._threads, self._keeper]:
            thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """Drain: the workers take no new job and finish the ones in flight, whose leases the keeper goes on renewing
        (a job outliving its lease would be taken and run again elsewhere); then the keeper stops."""
        self._stopping.set()
        for thread in self._threads:
            if thread.ident is not None:  # started (a stop during start() finds some not yet)
                thread.join(timeout=timeout_s)
        self._kept.set()
        if self._keeper.ident is not None:
            self._keeper.join(timeout=timeout_s)

    def status(self) -> dict[str, Any]:
        return {
            "workers": len(self._threads),
            "in_flight": len(self._in_flight),
            "completed": self.completed,
            "queue": self.jobs.depth(),
            "runtimes": self.runtimes.status(),
            "forecast": self.jobs.forecast.snapshot(),
        }

    # --- workers --------------------------------------------------------------------------------------------------

    def _work(self, worker: str, priorities: tuple[str, ...]) -> None:
        while not self._stopping.is_set():
            try:
                started = time.perf_counter()
                job = self.jobs.claim(worker, priorities)
                if job is not None:
                    self._count(time.perf_counter() - started)
            except Exception:
                log.exception("jobs: %s could not claim a job; retrying", worker)
                self._stopping.wait(1.0)
                continue
            if job is None:
                self._stopping.wait(self.idle_s)
                continue
            try:
                self.run(job)
            except Exception:  # the store failed mid-job: the lease expires and the job is taken again
                log.exception("jobs: %s failed recording job %s", worker, job.id)

    def run(self, job: Job) -> None:
        """Run a claimed job to its outcome (the caller holds its lease)."""
        flight = InFlight(job)
        with self._lock:
            self._in_flight[job.id] = flight
        try:
            outcome = self._generate(job, flight)
        finally:
            with self._lock:
                self._in_flight.pop(job.id, None)
        if flight.lost:
            log.warning("jobs: lease of %s was lost while it ran; its result is dropped", job.id)
            return
        started = time.perf_counter()
        self._record(job, *outcome)
        self._count(time.perf_counter() - started)

    def _count(self, seconds: float) -> None:
        with self._lock:
            self.scheduling_s += seconds

    def _generate(self, job: Job, flight: InFlight) -> tuple[GenerationResult | None, str | None, str, bool, str]:
        """(result, error code, message, retryable, runtime name)."""
        remaining = None if job.deadline_at is None else max(0.001, job.deadline_at - self.jobs.clock())
        params = GenerationParams(
            max_new_tokens=job.max_tokens,
            temperature=job.temperature,
            stop=tuple(job.stop),
            priority=job.priority,
            deadline_s=remaining,
            cancel=flight.cancel,
        )
        name, runtime = self.runtimes.choose(job.max_tokens)
        result: GenerationResult | None = None
        try:
            result = runtime.generate(job.messages(), params)
            return result, None, "", False, name
        except ModelBusyError as exc:
            return None, "model_busy", str(exc), True, name
        except GenerationDeadlineError as exc:
            return None, "deadline_exceeded", str(exc), False, name
        except InvalidGenerationRequestError as exc:
            return None, "invalid_request", str(exc), False, name
        except ModelUnavailableError as exc:
            return None, "runtime_unavailable", str(exc), True, name
        except Exception as exc:
            log.exception("jobs: job %s failed on %s", job.id, name)
            return None, "runtime_error", f"{type(exc).__name__}: {exc}", True, name
        finally:
            self.runtimes.record(name, result)

    def _record(
        self, job: Job, result: GenerationResult | None, code: str | None, message: str, retryable: bool, name: str
    ) -> None:
        if result is None:
            assert code is not None
            self.jobs.fail(job, code, message, retryable=retryable)
            return
        body = {
            "text": result.text,
            "tokens": result.tokens,
            "finish_reason": result.finish_reason,
            "model": result.model,
            "runtime": name,
            "latency_ms": round(result.latency_ms, 2),
            "first_token_ms": round(result.first_token_ms, 2),
        }
        if result.finish_reason == "cancelled":
            self.jobs.cancelled(job, body)
        elif result.finish_reason == "deadline":
            self.jobs.fail(
                job, "deadline_exceeded", f"its deadline passed after {result.tokens} tokens", retryable=False
            )
        elif self.jobs.finish(job, body):
            with self._lock:
                self.completed += 1

    # --- the keeper -------------------------------------------------------------------------------------------

    def _keep(self) -> None:
        last_renew = last_reap = 0.0
        while not self._kept.wait(self.keep_every_s):
            now = time.monotonic()
            try:
                with self._lock:
                    flights = list(self._in_flight.values())
                for flight in flights:
                    if not flight.cancel.is_set() and self.jobs.cancel_requested(flight.job.id):
                        flight.cancel.set()
                if now - last_renew >= self.jobs.lease_s / 3:
                    last_renew = now
                    for flight in flights:
                        if not self.jobs.renew(flight.job):
                            flight.lost = True
                            flight.cancel.set()
                if now - last_reap >= 1.0:
                    last_reap = now
                    self.jobs.reap()
                    self.jobs.observe_load()
            except Exception:
                log.exception("jobs: the keeper failed a round; it goes on")


def start_workers(settings: Settings, store: Store, generation: Any, *, name: str) -> WorkerPool | None:
    """QCL_JOBS_WORKERS workers (plus the interactive lane) on `generation`, started; None when there is no model
    here or the setting is 0. `qcl up` and the narrator service (Cloud Run, CPU always allocated) both run them."""
    from qcl.compute.quotas import open_jobs

    if generation is None or settings.jobs_workers == 0:
        return None
    runtimes = Runtimes({"local": generation})
    return WorkerPool(open_jobs(settings, store), runtimes, workers=settings.jobs_workers, name=name).start()

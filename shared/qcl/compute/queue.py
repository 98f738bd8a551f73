"""The job queue, its whole state in the store (Redis in production, memory embedded), shared by every API
instance and worker process.

    jobs = JobQueue(store, QuotaBook(store))
    accepted = jobs.submit(request.jobs(key_id=key.id, now=time.time()))   # QuotaExceeded: 429 + Retry-After
    job = jobs.claim("worker-1")              # the next job by priority class, then fair share; None when idle
    jobs.renew(job)                           # the lease; False when it was lost (the job went back to the queue)
    jobs.finish(job, {"text": ...})           # or jobs.fail(job, "model_busy", "...", retryable=True)
    jobs.cancel(job_id)                       # queued: cancelled at once; running: its worker stops it
    jobs.reap()                               # expired leases back to the queue (or dead), due retries to ready

Store layout (prefix `jobs:`): ready sets per class and key (`jobs:ready:<class>:<key>`, scored by submission
time), the fair-share virtual times per class (`jobs:vt:<class>`), one lease set (`jobs:leases`, scored by
expiry), delayed retries (`jobs:delayed`, scored by their time), running counters per key, and listings. A claim
is one atomic `window_move` from a ready set into the lease set, so two workers never take the same job and a
crash between taking and holding cannot lose it; a worker killed with kill -9 stops renewing its lease, and the
reaper moves the job back (or dead-letters it after max_attempts). The outcome is written once, with
put_if_absent: of a slow worker and the one that took its job over, the first result counts and the other is
dropped, so each job finishes exactly once.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from qcl.compute.forecast import Forecast
from qcl.compute.jobs import Job, JobState
from qcl.compute.policy import (
    Cancelled,
    Claimed,
    Failed,
    Finished,
    Refusal,
    Usage,
    admit,
    apply,
    catch_up,
    charge,
    expired,
    job_cost,
    next_key,
)
from qcl.compute.quotas import QuotaBook
from qcl.model.params import PRIORITIES
from qcl.store.base import Store
from qcl.store.keys import (
    JOB,
    JOB_CANCEL,
    JOB_OUTCOME,
    JOBS_ALL,
    JOBS_ARRIVED,
    JOBS_BY_KEY,
    JOBS_DELAYED,
    JOBS_FINISHED,
    JOBS_LEASES,
    JOBS_ORPHANS,
    JOBS_READY,
    JOBS_RUNNING,
    JOBS_TOKENS,
    JOBS_TPM,
    JOBS_VIRTUAL_TIME,
)

log = logging.getLogger(__name__)

JOB_TTL_S = 7 * 24 * 3600.0  # a job is kept a week after its last change (QCL_RETENTION_JOBS_S)
LEASES = JOBS_LEASES.key()
DELAYED = JOBS_DELAYED.key()
ALL = JOBS_ALL.key()
ARRIVED = JOBS_ARRIVED.key()
FINISHED = JOBS_FINISHED.key()


def record_key(job_id: str) -> str:
    return JOB.key(job_id=job_id)


def outcome_key(job_id: str) -> str:
    return JOB_OUTCOME.key(job_id=job_id)


def cancel_key(job_id: str) -> str:
    return JOB_CANCEL.key(job_id=job_id)


def ready_key(priority: str, key_id: str) -> str:
    return JOBS_READY.key(priority=priority, key_id=key_id)


def vt_key(priority: str) -> str:
    return JOBS_VIRTUAL_TIME.key(priority=priority)


def running_key(key_id: str) -> str:
    return JOBS_RUNNING.key(key_id=key_id)


def by_key(key_id: str) -> str:
    return JOBS_BY_KEY.key(key_id=key_id)


def tokens_key(key_id: str, now: float) -> str:
    return JOBS_TOKENS.key(key_id=key_id, day=datetime.fromtimestamp(now, UTC).date().isoformat())


class QuotaExceeded(ValueError):
    """A submission the key's quota does not allow; `refusal` says which limit and when to retry (a client error,
    not a failing store: circuit breakers let it through)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


class JobsStillRunning(RuntimeError):
    """An erasure found jobs of the key running: they were asked to stop; erase again once they have."""

    def __init__(self, key_id: str, job_ids: list[str]) -> None:
        super().__init__(
            f"key {key_id} has {len(job_ids)} running job(s) ({', '.join(job_ids[:5])}); they were cancelled: "
            "erase again once they have stopped (a worker stops at its next step)"
        )
        self.job_ids = job_ids


class JobQueue:
    def __init__(
        self,
        store: Store,
        quotas: QuotaBook | None = None,
        *,
        lease_s: float = 30.0,
        clock: Callable[[], float] = time.time,
        on_final: Callable[[Job], None] | None = None,
        ttl_s: float = JOB_TTL_S,
    ) -> None:
        self.store = store
        self.ttl_s = ttl_s  # the store forgets a job's record this long after its last change
        self.quotas = quotas or QuotaBook(store)
        self.lease_s = lease_s
        self.clock = clock
        self.on_final = on_final  # called once per job by whoever wrote its outcome (e.g. publish to a topic)
        self.forecast = Forecast()  # sampled at most once a second (observe_load) by submissions and workers
        self._sampled_at = 0.0

    # --- admission --------------------------------------------------------------------------------------------

    def usage(self, key_id: str) -> Usage:
        queued = sum(self.store.window_count(ready_key(p, key_id)) for p in PRIORITIES)
        running = int(float(self.store.get(running_key(key_id)) or 0))
        today = float(self.store.get(tokens_key(key_id, self.clock())) or 0)
        return Usage(queued=queued, running=max(0, running), tokens_today=today)

    def submit(self, jobs: list[Job]) -> list[Job]:
        """Queue the jobs of one key's submission, all or none; QuotaExceeded says why none."""
        if not jobs:
            return []
        key_id, now = jobs[0].key_id, self.clock()
        quota = self.quotas.get(key_id)
        cost = float(sum(job_cost(job) for job in jobs))
        refusal = admit(quota, self.usage(key_id), jobs=len(jobs), cost=cost, now=now) or self._reachable(jobs, now)
        if refusal is not None:
            raise QuotaExceeded(refusal)
        wait = self.store.take_tokens(
            JOBS_TPM.key(key_id=key_id),
            capacity=quota.tokens_per_minute,
            refill_per_s=quota.tokens_per_minute / 60,
            cost=cost,
        )
        if wait > 0:
            message = (
                f"the key's {quota.tokens_per_minute} tokens per minute are used up; this submission costs {cost:g}"
            )
            raise QuotaExceeded(Refusal("quota_tokens_per_minute", message, wait))
        self.store.incr(tokens_key(key_id, now), cost, ttl_s=2 * 86_400)
        for priority in {job.priority for job in jobs}:
            self._catch_up(priority, key_id)
        for job in jobs:
            self.store.put(record_key(job.id), job.model_dump_json(), ttl_s=self.ttl_s)
            self.store.window_add(by_key(key_id), job.created_at, job.id)
            self.store.window_add(ALL, job.created_at, job.id)
            self.store.window_add(ready_key(job.priority, key_id), job.created_at, job.id)
        self.store.incr(ARRIVED, len(jobs))
        for listing in (ALL, by_key(key_id)):  # listings forget jobs whose records expired
            self.store.window_trim(listing, now - self.ttl_s)
        return jobs

    def _reachable(self, jobs: list[Job], now: float) -> Refusal | None:
        """Refuse jobs whose deadline is shorter than their predicted wait (they would only fail later): the jobs
        of their class and the more urgent ones, at the measured service rate."""
        timed = [job for job in jobs if job.deadline_at is not None]
        if not timed:
            return None
        self.observe_load()
        depth = self.depth()
        for job in timed:
            assert job.deadline_at is not None
            ahead = sum(depth[priority] for priority in PRIORITIES[: job.rank + 1])
            wait = self.forecast.predicted_wait_s(queued=ahead)
            left = job.deadline_at - now
            if wait is not None and wait > left:
                message = f"a {job.priority} job's predicted wait is {wait:.1f} s, past its deadline ({left:.1f} s)"
                return Refusal("deadline_unreachable", message, wait - left)
        return None

    def observe_load(self) -> None:
        """Feed the forecast (arrivals, service, queue length), at most once a second."""
        now = self.clock()
        if now - self._sampled_at < 1.0:
            return
        self._sampled_at = now
        arrived, finished = self.totals()
        depth = self.depth()
        queued = sum(depth[priority] for priority in PRIORITIES) + depth["retrying"]
        self.forecast.observe(now, arrived_total=arrived, finished_total=finished, queued=queued)

    def _catch_up(self, priority: str, key_id: str) -> None:
        times = dict(self.store.window_items(vt_key(priority)))
        busy = [vt for key, vt in times.items() if key != key_id and self.store.window_count(ready_key(priority, key))]
        start = catch_up(times.get(key_id), busy)
        if start is not None:
            self.store.window_add(vt_key(priority), start, key_id)
        elif key_id not in times:
            self.store.window_add(vt_key(priority), 0.0, key_id)

    # --- workers --------------------------------------------------------------------------------------------------

    def claim(self, worker: str, priorities: tuple[str, ...] = PRIORITIES) -> Job | None:
        """The next job: the most urgent class with work, in it the key with the lowest virtual time (not at its
        running limit); the job is leased to `worker` for lease_s. None when nothing is ready."""
        for priority in priorities:
            times = self.store.window_items(vt_key(priority))
            tried: set[str] = set()
            while True:
                key_id = next_key(times, ready={k for k, _ in times}, blocked=tried)
                if key_id is None:
                    break
                tried.add(key_id)
                quota = self.quotas.get(key_id)
                if int(float(self.store.get(running_key(key_id)) or 0)) >= quota.max_running:
                    continue
                job_id = self.store.window_move(ready_key(priority, key_id), LEASES, self.clock() + self.lease_s)
                if job_id is None:
                    continue
                self.store.incr(running_key(key_id), 1)
                job = self._take(job_id, worker)
                if job is not None:
                    self.store.window_incr(vt_key(priority), key_id, charge(job_cost(job), quota.weight))
                    return job
        return None

    def _take(self, job_id: str, worker: str) -> Job | None:
        """The claimed job, running; None (lease released) when it ended meanwhile, was cancelled or expired."""
        now = self.clock()
        job = self._record(job_id)
        if job is None or self.store.get(outcome_key(job_id)) is not None:
            self._release(job_id, job.key_id if job else None)
            return None
        if job.state != "queued":  # a lost worker's job, taken over: it counts as a new attempt
            job = job.model_copy(update={"state": "queued"})
        if self.store.get(cancel_key(job_id)) is not None:
            self._end(apply(job, Cancelled(now)))
            return None
        job = apply(job, Claimed(worker, now))
        if expired(job, now):
            self._end(apply(job, Failed("deadline_exceeded", "its deadline passed while it waited", False, now)))
            return None
        self.store.put(record_key(job_id), job.model_dump_json(), ttl_s=self.ttl_s)
        return job

    def renew(self, job: Job) -> bool:
        """Extend the job's lease; False when it was lost (reaped: another worker may run the job now)."""
        current = self._record(job.id)
        if current is None or current.attempts != job.attempts or current.final:
            return False  # taken over by a later attempt (whose lease has the same member), or ended
        return self.store.window_move(LEASES, LEASES, self.clock() + self.lease_s, member=job.id) is not None

    def cancel_requested(self, job_id: str) -> bool:
        return self.store.get(cancel_key(job_id)) is not None

    def finish(self, job: Job, result: dict[str, Any]) -> bool:
        """Record the result; False when the job had an outcome already (another attempt's result counts)."""
        return self._end(apply(job, Finished(result, self.clock())))

    def cancelled(self, job: Job, partial: dict[str, Any] | None = None) -> bool:
        return self._end(apply(job, Cancelled(self.clock(), partial)))

    def fail(self, job: Job, code: str, message: str, *, retryable: bool) -> Job:
        """A failed attempt: queued again after a backoff (retryable, attempts left), else failed or dead."""
        after = apply(job, Failed(code, message, retryable, self.clock()))
        if after.final:
            self._end(after)
            return after
        assert after.not_before is not None
        self.store.put(record_key(job.id), after.model_dump_json(), ttl_s=self.ttl_s)
        if self.store.window_move(LEASES, DELAYED, after.not_before, member=job.id) is not None:
            self.store.incr(running_key(job.key_id), -1)
        return after

    def _end(self, job: Job) -> bool:
        """Write the final outcome once, release the lease; True when this call wrote it."""
        wrote = self.store.put_if_absent(outcome_key(job.id), job.model_dump_json(), ttl_s=self.ttl_s)
        if wrote:
            self.store.put(record_key(job.id), job.model_dump_json(), ttl_s=self.ttl_s)
            self.store.incr(FINISHED, 1)
        self._release(job.id, job.key_id)
        if wrote and self.on_final is not None:
            try:
                self.on_final(job)
            except Exception:  # the outcome is recorded; a failed notification must not undo it
                log.exception("jobs: notifying the outcome of %s failed", job.id)
        return wrote

    def _release(self, job_id: str, key_id: str | None) -> None:
        if self.store.window_remove(LEASES, job_id) and key_id is not None:
            self.store.incr(running_key(key_id), -1)

    def reap(self) -> int:
        """Jobs whose lease expired go back to their ready set (or dead, attempts spent); due retries become ready.
        Returns how many moved. Any process may run it; each job is moved by one of them."""
        now, moved = self.clock(), 0
        for job_id in self.store.window_range(LEASES, max_score=now):
            job = self._record(job_id)
            if job is None:
                self.store.window_remove(LEASES, job_id)
                continue
            if job.attempts >= job.max_attempts:
                if self.store.window_remove(LEASES, job_id):
                    self.store.incr(running_key(job.key_id), -1)
                    lost = job.model_copy(update={"state": "running"})
                    message = f"its worker stopped renewing the lease ({self.lease_s:g} s)"
                    self._end(apply(lost, Failed("worker_lost", message, True, now)))
                    moved += 1
                continue
            if self.store.window_move(LEASES, ready_key(job.priority, job.key_id), job.created_at, member=job_id):
                self.store.incr(running_key(job.key_id), -1)
                requeued = job.model_copy(update={"state": "queued", "worker": None})
                self.store.put(record_key(job_id), requeued.model_dump_json(), ttl_s=self.ttl_s)
                log.warning("jobs: lease of %s expired (worker %s); queued again", job_id, job.worker)
                moved += 1
        for job_id in self.store.window_range(DELAYED, max_score=now):
            job = self._record(job_id)
            target = ready_key(job.priority, job.key_id) if job else JOBS_ORPHANS.key()
            if self.store.window_move(DELAYED, target, job.created_at if job else now, member=job_id):
                moved += 1
        return moved

    # --- reading ----------------------------------------------------------------------------------------------

    def _record(self, job_id: str) -> Job | None:
        raw = self.store.get(record_key(job_id))
        return Job.model_validate_json(raw) if raw else None

    def get(self, job_id: str) -> Job | None:
        """The job as it stands: its outcome once it has one, else its record."""
        raw = self.store.get(outcome_key(job_id)) or self.store.get(record_key(job_id))
        return Job.model_validate_json(raw) if raw else None

    def list(self, key_id: str | None, *, state: JobState | None = None, limit: int = 100) -> list[Job]:
        """Newest first: the key's jobs (None: everyone's), optionally only those in `state`."""
        ids = self.store.window_range(ALL if key_id is None else by_key(key_id))
        found: list[Job] = []
        for job_id in reversed(ids[-max(limit * 20, 1000) :]):
            job = self.get(job_id)
            if job is not None and (state is None or job.state == state):
                found.append(job)
                if len(found) >= limit:
                    break
        return found

    def cancel(self, job_id: str) -> Job | None:
        """Ask for the job to stop: a waiting one is cancelled here, a running one by its worker (at its next step).
        Returns the job as it stands afterwards; None when there is no such job."""
        job = self.get(job_id)
        if job is None or job.final:
            return job
        self.store.put(cancel_key(job_id), "1", ttl_s=self.ttl_s)
        waiting = self.store.window_remove(ready_key(job.priority, job.key_id), job_id)
        waiting = self.store.window_remove(DELAYED, job_id) or waiting
        if waiting:
            self._end(apply(job.model_copy(update={"state": "queued"}), Cancelled(self.clock())))
        return self.get(job_id)

    def erase_key(self, key_id: str) -> int:
        """Delete every job of `key_id` and what the queue keeps about the key (its usage, quota override, fair-share
        times); returns how many jobs went. A running job would write its outcome after the erasure, so while any
        runs nothing is deleted: the waiting and running ones are cancelled and JobsStillRunning names them."""
        job_ids = self.store.window_range(by_key(key_id))
        running = [job_id for job_id in job_ids if (job := self.get(job_id)) is not None and job.state == "running"]
        if running:
            for job_id in job_ids:
                self.cancel(job_id)
            raise JobsStillRunning(key_id, running)
        erased = 0
        for job_id in job_ids:
            erased += self.get(job_id) is not None
            for key in (record_key(job_id), outcome_key(job_id), cancel_key(job_id)):
                self.store.delete(key)
            for window in (ALL, LEASES, DELAYED, JOBS_ORPHANS.key()):
                self.store.window_remove(window, job_id)
        for priority in PRIORITIES:
            self.store.delete(ready_key(priority, key_id))
            self.store.window_remove(vt_key(priority), key_id)
        tokens = JOBS_TOKENS.key(key_id=key_id, day="")
        for entry in self.store.scan(lambda key: key.startswith(tokens)):
            self.store.delete(entry.key)
        for key in (by_key(key_id), running_key(key_id), JOBS_TPM.key(key_id=key_id)):
            self.store.delete(key)
        self.quotas.forget(key_id)
        return erased

    def depth(self) -> dict[str, int]:
        """Jobs waiting per priority class (ready sets), running (leases) and waiting to retry."""
        found: dict[str, int] = {
            priority: sum(
                self.store.window_count(ready_key(priority, key))
                for key, _ in self.store.window_items(vt_key(priority))
            )
            for priority in PRIORITIES
        }
        return {**found, "running": self.store.window_count(LEASES), "retrying": self.store.window_count(DELAYED)}

    def totals(self) -> tuple[float, float]:
        """Jobs ever submitted and ever finished (all processes), for the forecast."""
        return float(self.store.get(ARRIVED) or 0), float(self.store.get(FINISHED) or 0)


def retry_after(refusal: Refusal) -> int | None:
    return None if refusal.retry_after_s is None else max(1, math.ceil(refusal.retry_after_s))

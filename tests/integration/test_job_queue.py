"""The job queue over every store backend (memory, redis): priority, fair share, quotas, leases, retries,
cancellation, deadlines and exactly-once outcomes; then the worker pool on a labelled fake runtime."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest

from qcl.compute.fake import SleepingRuntime
from qcl.compute.jobs import Job, JobRequest
from qcl.compute.placement import Runtimes
from qcl.compute.policy import Quota
from qcl.compute.queue import JobQueue, QuotaExceeded
from qcl.compute.quotas import QuotaBook
from qcl.compute.worker import WorkerPool
from qcl.store.base import Store
from tests.backends import wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 1_764_800_000.0

    def __call__(self) -> float:
        return self.now


def _queue(store: Store, clock: Clock | None = None, **quota: Any) -> JobQueue:
    return JobQueue(store, QuotaBook(store, Quota(**quota)), lease_s=10.0, clock=clock or time.time)


def _submit(jobs: JobQueue, key: str, n: int = 1, **options: Any) -> list[Job]:
    body = {"kind": "completion", "prompts": [f"prompt {i}" for i in range(n)], "max_tokens": 4, **options}
    return jobs.submit(JobRequest.model_validate(body).jobs(key_id=key, now=jobs.clock()))


def test_jobs_are_claimed_by_priority_class_then_submission(store: Store) -> None:
    clock = Clock()
    jobs = _queue(store, clock)
    background = _submit(jobs, "k1", 2, priority="background")
    clock.now += 1
    interactive = _submit(jobs, "k1", 1, priority="interactive")
    standard = _submit(jobs, "k2", 1, priority="standard")
    order = [jobs.claim("w") for _ in range(5)]
    assert [job.id if job else None for job in order] == [
        interactive[0].id,
        standard[0].id,
        background[0].id,
        background[1].id,
        None,
    ]
    assert order[0] is not None and (order[0].state, order[0].attempts) == ("running", 1)


def test_two_keys_share_a_class_in_proportion_to_their_weights(store: Store) -> None:
    jobs = _queue(store)
    jobs.quotas.set("heavy", Quota(weight=3.0))
    _submit(jobs, "heavy", 200)
    _submit(jobs, "light", 200)
    served: Counter[str] = Counter()
    for _ in range(100):
        job = jobs.claim("w")
        assert job is not None
        served[job.key_id] += 1
        jobs.finish(job, {"text": ""})
    assert abs(served["heavy"] - 75) <= 1 and served["heavy"] + served["light"] == 100  # 3:1, give or take a job


def test_a_key_at_its_running_limit_is_skipped_for_another_key(store: Store) -> None:
    jobs = _queue(store, max_running=1)
    _submit(jobs, "busy", 3)
    first = jobs.claim("w")
    assert first is not None and first.key_id == "busy"
    assert jobs.claim("w") is None
    _submit(jobs, "other", 1)
    second = jobs.claim("w")
    assert second is not None and second.key_id == "other"
    jobs.finish(first, {"text": ""})
    third = jobs.claim("w")
    assert third is not None and third.key_id == "busy"


def test_tokens_per_minute_refuse_with_the_seconds_until_refilled(store: Store) -> None:
    jobs = _queue(store, tokens_per_minute=60)  # 1 token a second; a job of 4 tokens + 2 of prompt costs 6
    _submit(jobs, "k1", 10)
    with pytest.raises(QuotaExceeded) as refused:
        _submit(jobs, "k1", 1)
    assert refused.value.refusal.code == "quota_tokens_per_minute"
    assert 0 < (refused.value.refusal.retry_after_s or 0) <= 6.5
    _submit(jobs, "k2", 1)  # another key's bucket is its own


def test_the_daily_budget_refuses_until_midnight_and_counts_nothing_refused(store: Store) -> None:
    jobs = _queue(store, daily_tokens=20)
    _submit(jobs, "k1", 3)  # 18 tokens
    with pytest.raises(QuotaExceeded) as refused:
        _submit(jobs, "k1", 1)
    assert refused.value.refusal.code == "quota_daily" and refused.value.refusal.retry_after_s
    assert jobs.usage("k1").tokens_today == 18


def test_the_queue_limit_refuses_a_submission_as_a_whole(store: Store) -> None:
    jobs = _queue(store, max_queued=5)
    _submit(jobs, "k1", 4)
    with pytest.raises(QuotaExceeded, match="4 jobs waiting"):
        _submit(jobs, "k1", 2)
    assert jobs.usage("k1").queued == 4


def test_an_expired_lease_sends_the_job_back_then_dead_letters_it(store: Store) -> None:
    clock = Clock()
    jobs = _queue(store, clock)
    (job,) = _submit(jobs, "k1", 1, max_attempts=2)
    assert jobs.claim("w1") is not None
    clock.now += 11  # w1 died: nobody renewed the lease
    assert jobs.reap() == 1
    assert jobs.get(job.id).state == "queued"  # type: ignore[union-attr]
    again = jobs.claim("w2")
    assert again is not None and (again.attempts, again.worker) == (2, "w2")
    clock.now += 11
    jobs.reap()
    dead = jobs.get(job.id)
    assert dead is not None and dead.state == "dead" and dead.error is not None
    assert dead.error.code == "worker_lost" and "dead after 2 attempt(s)" in dead.error.message
    assert jobs.usage("k1").running == 0


def test_a_renewed_lease_is_not_reaped(store: Store) -> None:
    clock = Clock()
    jobs = _queue(store, clock)
    _submit(jobs, "k1", 1)
    job = jobs.claim("w1")
    assert job is not None
    clock.now += 8
    assert jobs.renew(job)
    clock.now += 8
    assert jobs.reap() == 0
    assert jobs.finish(job, {"text": "ok"})


def test_of_a_slow_worker_and_its_successor_only_the_first_result_counts(store: Store) -> None:
    clock = Clock()
    jobs = _queue(store, clock)
    (submitted,) = _submit(jobs, "k1", 1)
    slow = jobs.claim("slow")
    clock.now += 11
    jobs.reap()
    successor = jobs.claim("successor")
    assert slow is not None and successor is not None
    assert jobs.renew(slow) is False  # the slow worker learns it lost the job
    assert jobs.finish(successor, {"text": "first"}) is True
    assert jobs.finish(slow, {"text": "second"}) is False
    final = jobs.get(submitted.id)
    assert final is not None and final.result == {"text": "first"} and final.state == "done"
    assert jobs.totals()[1] == 1


def test_a_retryable_failure_waits_its_backoff_before_it_is_ready_again(store: Store) -> None:
    clock = Clock()
    jobs = _queue(store, clock)
    _submit(jobs, "k1", 1)
    job = jobs.claim("w")
    assert job is not None
    retried = jobs.fail(job, "model_busy", "model busy, retry after 1 s", retryable=True)
    assert retried.state == "queued" and retried.not_before == clock.now + 1
    assert jobs.claim("w") is None
    jobs.reap()
    assert jobs.claim("w") is None  # not yet due
    clock.now += 1.5
    jobs.reap()
    again = jobs.claim("w")
    assert again is not None and again.attempts == 2


def test_a_job_whose_deadline_passed_in_the_queue_fails_with_the_reason(store: Store) -> None:
    clock = Clock()
    jobs = _queue(store, clock)
    (job,) = _submit(jobs, "k1", 1, deadline_s=5)
    clock.now += 6
    assert jobs.claim("w") is None
    failed = jobs.get(job.id)
    assert failed is not None and failed.state == "failed" and failed.error is not None
    assert failed.error.code == "deadline_exceeded"


def test_a_deadline_shorter_than_the_predicted_wait_is_refused_but_not_behind_a_lower_class(store: Store) -> None:
    clock = Clock()
    jobs = _queue(store, clock)
    _submit(jobs, "k1", 40, priority="background")
    jobs.observe_load()
    for _ in range(4):  # 4 jobs a second served
        claimed = jobs.claim("w")
        assert claimed is not None
        jobs.finish(claimed, {"text": ""})
    clock.now += 1
    jobs.observe_load()
    assert jobs.forecast.predicted_wait_s() == pytest.approx(9.0)  # 36 waiting at 4 a second
    with pytest.raises(QuotaExceeded) as refused:
        _submit(jobs, "k2", 1, priority="background", deadline_s=5)
    assert refused.value.refusal.code == "deadline_unreachable"
    assert refused.value.refusal.retry_after_s == pytest.approx(4.0)
    _submit(jobs, "k2", 1, priority="interactive", deadline_s=5)  # nothing of its class waits


def test_cancelling_a_waiting_job_ends_it_and_it_is_never_claimed(store: Store) -> None:
    jobs = _queue(store)
    (job,) = _submit(jobs, "k1", 1)
    cancelled = jobs.cancel(job.id)
    assert cancelled is not None and cancelled.state == "cancelled"
    assert jobs.claim("w") is None
    assert jobs.cancel(job.id).state == "cancelled"  # type: ignore[union-attr]  # again: no change


def test_listing_shows_a_keys_own_jobs_newest_first_by_state(store: Store) -> None:
    clock = Clock()
    jobs = _queue(store, clock)
    mine = _submit(jobs, "mine", 3)
    _submit(jobs, "theirs", 2)
    claimed = jobs.claim("w")
    assert claimed is not None and claimed.key_id == "mine"
    jobs.finish(claimed, {"text": "x"})
    assert [job.id for job in jobs.list("mine", state="done")] == [claimed.id]
    assert {job.id for job in jobs.list("mine")} == {job.id for job in mine}
    assert len(jobs.list(None)) == 5


# -- the worker pool on the fake runtime ------------------------------------------------------------------------


def test_the_worker_pool_runs_every_job_exactly_once(store: Store) -> None:
    jobs = _queue(store)
    runtime = SleepingRuntime(ms_per_token=1.0)
    submitted = _submit(jobs, "k1", 40) + _submit(jobs, "k2", 20, priority="interactive")
    pool = WorkerPool(jobs, Runtimes({"fake": runtime}), workers=3).start()
    try:
        assert wait_for(lambda: jobs.totals()[1] == 60, timeout_s=30)
    finally:
        pool.stop()
    states = Counter(jobs.get(job.id).state for job in submitted)  # type: ignore[union-attr]
    assert states == {"done": 60}
    assert runtime.served == 60 and pool.completed == 60


def test_stopping_the_pool_drains_a_job_longer_than_its_lease_without_losing_it(store: Store) -> None:
    # A worker leaving (a scale-down, a SIGTERM) finishes its job in flight; its lease is renewed meanwhile, so a
    # second worker that reaps and claims all the while never gets the job.
    jobs = JobQueue(store, QuotaBook(store, Quota()), lease_s=1.0)
    (job,) = _submit(jobs, "k1", 1, max_tokens=50)  # 50 x 50 ms: 2.5 s, past the 1 s lease
    pool = WorkerPool(jobs, Runtimes({"fake": SleepingRuntime(ms_per_token=50.0)}), workers=1, keep_every_s=0.05)
    pool.start()
    taken: list[Job] = []
    stop = threading.Event()

    def other_worker() -> None:
        while not stop.wait(0.1):
            jobs.reap()
            if (claimed := jobs.claim("other")) is not None:
                taken.append(claimed)

    assert wait_for(lambda: jobs.get(job.id).state == "running")  # type: ignore[union-attr]
    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        pool.stop()
    finally:
        stop.set()
        thread.join()
    final = jobs.get(job.id)
    assert final is not None and final.state == "done" and final.attempts == 1
    assert final.result is not None and final.result["tokens"] == 50
    assert taken == []


def test_cancelling_a_running_job_stops_its_generation(store: Store) -> None:
    jobs = _queue(store)
    runtime = SleepingRuntime(ms_per_token=20.0)
    (job,) = _submit(jobs, "k1", 1, max_tokens=1000)  # 20 s if nothing stops it
    pool = WorkerPool(jobs, Runtimes({"fake": runtime}), workers=1, keep_every_s=0.05).start()
    try:
        assert wait_for(lambda: jobs.get(job.id).state == "running")  # type: ignore[union-attr]
        started = time.monotonic()
        jobs.cancel(job.id)
        assert wait_for(lambda: jobs.get(job.id).state == "cancelled", timeout_s=5)  # type: ignore[union-attr]
        assert time.monotonic() - started < 2
    finally:
        pool.stop()
    cancelled = jobs.get(job.id)
    assert cancelled is not None and cancelled.result is not None
    assert 0 < cancelled.result["tokens"] < 1000  # the text so far


def test_a_busy_runtime_makes_the_job_retry_then_finish(store: Store) -> None:
    from qcl.model.errors import ModelBusyError

    class BusyOnce(SleepingRuntime):
        calls = 0

        def generate(self, messages: Any, params: Any = None) -> Any:
            BusyOnce.calls += 1
            if BusyOnce.calls == 1:
                raise ModelBusyError(1.0, 16)
            return super().generate(messages, params)

    jobs = JobQueue(store, QuotaBook(store), lease_s=10.0)
    (job,) = _submit(jobs, "k1", 1)
    pool = WorkerPool(jobs, Runtimes({"fake": BusyOnce(0.0)}), workers=1).start()
    try:
        assert wait_for(lambda: jobs.get(job.id).state == "done", timeout_s=10)  # type: ignore[union-attr]
    finally:
        pool.stop()
    assert jobs.get(job.id).attempts == 2  # type: ignore[union-attr]

"""The scheduler's rules as pure functions: transitions, backoff, quotas, fair share, placement, the forecast."""

from __future__ import annotations

import pytest

from qcl.compute.forecast import Forecast, Holt
from qcl.compute.jobs import Job, JobRequest
from qcl.compute.placement import Load, best
from qcl.compute.policy import (
    Cancelled,
    Claimed,
    Failed,
    Finished,
    Quota,
    TransitionError,
    Usage,
    admit,
    apply,
    backoff_s,
    catch_up,
    charge,
    job_cost,
    next_key,
    seconds_to_midnight,
)

NOW = 1_764_800_000.0  # 2025-12-03 22:13:20 UTC


def _job(**overrides: object) -> Job:
    fields: dict[str, object] = {
        "id": "j1",
        "key_id": "k1",
        "kind": "completion",
        "payload": {"prompt": "x" * 40},
        "max_tokens": 10,
        "created_at": NOW,
        "max_attempts": 3,
    }
    return Job.model_validate({**fields, **overrides})


def test_a_claimed_job_runs_as_its_first_attempt() -> None:
    job = apply(_job(), Claimed("w1", NOW))
    assert (job.state, job.attempts, job.worker, job.started_at) == ("running", 1, "w1", NOW)


def test_a_retryable_failure_queues_the_job_again_after_an_exponential_backoff() -> None:
    job = _job()
    waits = []
    for _ in range(2):
        job = apply(apply(job, Claimed("w1", NOW)), Failed("model_busy", "busy", True, NOW))
        assert job.state == "queued" and job.error is not None and job.error.code == "model_busy"
        waits.append(job.not_before - NOW if job.not_before else None)
    assert waits == [1.0, 2.0]


def test_the_last_retryable_failure_dead_letters_the_job_with_its_reason() -> None:
    job = _job(max_attempts=1)
    dead = apply(apply(job, Claimed("w1", NOW)), Failed("worker_lost", "lease expired", True, NOW))
    assert dead.state == "dead" and dead.error is not None
    assert dead.error.message == "dead after 1 attempt(s); last: lease expired"


def test_a_failure_not_worth_retrying_fails_at_once() -> None:
    failed = apply(apply(_job(), Claimed("w1", NOW)), Failed("invalid_request", "prompt too long", False, NOW))
    assert (failed.state, failed.attempts) == ("failed", 1)


def test_a_final_job_takes_no_more_events() -> None:
    done = apply(apply(_job(), Claimed("w1", NOW)), Finished({"text": "hi"}, NOW))
    with pytest.raises(TransitionError, match="is done"):
        apply(done, Cancelled(NOW))


def test_only_a_running_job_finishes() -> None:
    with pytest.raises(TransitionError, match="only a running job"):
        apply(_job(), Finished({}, NOW))


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff_s(n, base_s=1, cap_s=5) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]


def test_cost_counts_the_tokens_to_generate_and_the_prompt() -> None:
    assert job_cost(_job()) == 10 + 10


def test_admission_refuses_past_the_queue_limit_with_a_retry_after() -> None:
    refusal = admit(Quota(max_queued=5), Usage(queued=4, running=0, tokens_today=0), jobs=2, cost=10, now=NOW)
    assert refusal is not None and refusal.code == "quota_queued" and refusal.retry_after_s


def test_admission_refuses_past_the_daily_budget_until_midnight_utc() -> None:
    refusal = admit(Quota(daily_tokens=100), Usage(queued=0, running=0, tokens_today=95), jobs=1, cost=10, now=NOW)
    assert refusal is not None and refusal.code == "quota_daily"
    assert refusal.retry_after_s == pytest.approx(seconds_to_midnight(NOW)) == pytest.approx(6400.0)


def test_a_submission_bigger_than_the_per_minute_quota_can_never_pass() -> None:
    refusal = admit(Quota(tokens_per_minute=50), Usage(0, 0, 0), jobs=1, cost=60, now=NOW)
    assert refusal is not None and (refusal.code, refusal.retry_after_s) == ("too_large", None)


def test_admission_within_every_limit_passes() -> None:
    assert admit(Quota(), Usage(queued=3, running=1, tokens_today=500), jobs=10, cost=640, now=NOW) is None


def test_the_key_with_the_lowest_virtual_time_and_ready_work_is_next() -> None:
    times = [("a", 3.0), ("b", 1.0), ("c", 0.5)]
    assert next_key(times, ready={"a", "b"}, blocked=set()) == "b"
    assert next_key(times, ready={"a", "b"}, blocked={"b"}) == "a"
    assert next_key(times, ready=set(), blocked=set()) is None


def test_weighted_virtual_time_shares_service_in_proportion_to_weight() -> None:
    weights, vt, served = {"heavy": 3.0, "light": 1.0}, {"heavy": 0.0, "light": 0.0}, {"heavy": 0, "light": 0}
    for _ in range(400):
        key = next_key(vt.items(), ready=set(vt), blocked=set())
        assert key is not None
        served[key] += 1
        vt[key] += charge(10, weights[key])
    assert served == {"heavy": 300, "light": 100}


def test_a_key_back_from_idle_starts_at_the_busy_keys_virtual_time() -> None:
    assert catch_up(2.0, [50.0, 70.0]) == 50.0
    assert catch_up(None, [50.0]) == 50.0
    assert catch_up(80.0, [50.0]) is None
    assert catch_up(2.0, []) is None


def test_placement_prefers_the_faster_runtime_until_its_queue_outweighs_the_speed() -> None:
    fast_idle, slow_idle = Load(10.0, 0, 0, 4), Load(30.0, 0, 0, 4)
    assert best({"slow": slow_idle, "fast": fast_idle}, tokens=64) == "fast"
    fast_busy = Load(10.0, 16, 4, 4)  # five rounds of work ahead of the job
    assert best({"slow": slow_idle, "fast": fast_busy}, tokens=64) == "slow"


def test_an_unmeasured_runtime_is_tried_at_the_best_measured_speed() -> None:
    assert best({"measured": Load(20.0, 1, 0, 1), "new": Load(None, 0, 0, 1)}, tokens=8) == "new"


def test_holt_follows_a_rising_trend() -> None:
    holt = Holt()
    for value in range(0, 20, 2):
        holt.update(float(value))
    assert holt.trend > 1.0
    assert holt.forecast(5) > holt.forecast(0) > 15


def test_the_forecast_predicts_wait_and_a_growing_queue_when_arrivals_outpace_service() -> None:
    forecast = Forecast()
    for second in range(10):
        forecast.observe(float(second), arrived_total=20.0 * second, finished_total=10.0 * second, queued=10 * second)
    snapshot = forecast.snapshot(horizon_s=10)
    assert snapshot["arrival_rate"] == pytest.approx(20.0, rel=0.01)
    assert snapshot["service_rate"] == pytest.approx(10.0, rel=0.01)
    assert forecast.predicted_wait_s() == pytest.approx(9.0, rel=0.01)  # 90 waiting at 10 per second
    assert snapshot["predicted_queue"] == pytest.approx(190.0, rel=0.02)  # +10 per second for 10 s


def test_a_batch_request_becomes_one_job_per_prompt_sharing_its_options() -> None:
    request = JobRequest.model_validate(
        {"kind": "completion", "prompts": ["a", "b", "c"], "max_tokens": 8, "priority": "background"}
    )
    jobs = request.jobs(key_id="k1", now=NOW)
    assert [job.payload for job in jobs] == [{"prompt": "a"}, {"prompt": "b"}, {"prompt": "c"}]
    assert {job.batch_id for job in jobs} != {None} and len({job.batch_id for job in jobs}) == 1
    assert {(job.priority, job.max_tokens, job.state) for job in jobs} == {("background", 8, "queued")}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"kind": "completion", "messages": [{"role": "user", "content": "hi"}]}, "messages: not allowed"),
        ({"kind": "chat", "prompt": "hi"}, "prompt: not allowed"),
        ({"kind": "completion"}, "prompt: give exactly one of prompt or prompts"),
        ({"kind": "completion", "prompt": "a", "prompts": ["b"]}, "give exactly one"),
        ({"kind": "completion", "prompts": ["ok", "  "]}, "prompts.1: expected"),
    ],
)
def test_a_request_with_the_wrong_inputs_for_its_kind_is_refused(body: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        JobRequest.model_validate(body)

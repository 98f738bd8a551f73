"""The scheduler's rules as pure functions: job transitions, quotas, costs, fair shares, retry backoff.

    job = apply(job, Claimed(worker="w1", at=now))             # queued -> running (attempt 1)
    job = apply(job, Failed("model_busy", "...", retryable=True, at=now))   # -> queued again, not before now + 1 s
    refusal = admit(Quota(), usage, cost=300, now=now)         # None, or why not and for how long (429 Retry-After)
    key = next_key([("a", 3.0), ("b", 1.5)], ready={"a", "b"}, blocked=set())   # "b": lowest virtual time

Fair sharing is weighted virtual time (start-time fair queueing): each key in a class has a virtual time; the key
with the lowest one and ready work is served next, and serving a job of cost c advances its key by c / weight, so
over a contended period each key's served cost is proportional to its weight. A key that returns from idle starts
at the lowest virtual time of the keys that have work (`catch_up`), so idleness earns no burst.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from qcl.compute.jobs import Job, JobError

# --- transitions ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    worker: str
    at: float


@dataclass(frozen=True)
class Finished:
    result: dict[str, object]
    at: float


@dataclass(frozen=True)
class Failed:
    code: str
    message: str
    retryable: bool
    at: float


@dataclass(frozen=True)
class Cancelled:
    at: float
    partial: dict[str, object] | None = None


Event = Claimed | Finished | Failed | Cancelled


class TransitionError(ValueError):
    """An event that cannot happen to a job in its state (e.g. finishing a job nobody claimed)."""


def backoff_s(attempt: int, *, base_s: float = 1.0, cap_s: float = 60.0) -> float:
    """Seconds before retry number `attempt` (1, 2, 4, ... capped): exponential backoff."""
    return float(min(cap_s, base_s * 2 ** max(0, attempt - 1)))


def apply(job: Job, event: Event) -> Job:
    """The job after `event`; raises TransitionError for an event its state does not allow."""
    if job.final:
        raise TransitionError(f"job {job.id} is {job.state}; it takes no more events ({type(event).__name__})")
    if isinstance(event, Claimed):
        if job.state != "queued":
            raise TransitionError(f"job {job.id} is {job.state}; only a queued job is claimed")
        return job.model_copy(
            update={
                "state": "running",
                "attempts": job.attempts + 1,
                "worker": event.worker,
                "started_at": event.at,
                "not_before": None,
            }
        )
    if isinstance(event, Cancelled):
        error = JobError(code="cancelled", message="cancelled by its owner")
        return job.model_copy(
            update={"state": "cancelled", "finished_at": event.at, "error": error, "result": event.partial}
        )
    if job.state != "running":
        raise TransitionError(f"job {job.id} is {job.state}; only a running job finishes or fails")
    if isinstance(event, Finished):
        return job.model_copy(update={"state": "done", "finished_at": event.at, "result": event.result, "error": None})
    error = JobError(code=event.code, message=event.message)
    if not event.retryable:
        return job.model_copy(update={"state": "failed", "finished_at": event.at, "error": error})
    if job.attempts >= job.max_attempts:
        message = f"dead after {job.attempts} attempt(s); last: {event.message}"
        return job.model_copy(
            update={"state": "dead", "finished_at": event.at, "error": JobError(code=event.code, message=message)}
        )
    return job.model_copy(
        update={"state": "queued", "worker": None, "error": error, "not_before": event.at + backoff_s(job.attempts)}
    )


def expired(job: Job, now: float) -> bool:
    return job.deadline_at is not None and now >= job.deadline_at


# --- quotas -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quota:
    """What one key may use; defaults from QCL_JOBS_* settings, overrides per key in the store."""

    tokens_per_minute: int = 200_000  # admitted cost per minute (a token bucket: this burst, refilled per second)
    daily_tokens: int = 20_000_000  # admitted cost per UTC day
    max_running: int = 8  # jobs of the key running at once (the scheduler skips the key at its limit)
    max_queued: int = 20_000  # jobs of the key waiting; past it a submission is refused
    weight: float = 1.0  # its share against other keys of the same class (weighted fair sharing)


@dataclass(frozen=True)
class Usage:
    queued: int
    running: int
    tokens_today: float


@dataclass(frozen=True)
class Refusal:
    code: str  # quota_queued, quota_daily, quota_tokens_per_minute, too_large
    message: str
    retry_after_s: float | None  # None: retrying the same submission can never succeed


def job_cost(job: Job) -> int:
    """Tokens a job is charged at admission: the tokens it may generate plus its prompt (about 4 characters each)."""
    return job.max_tokens + math.ceil(job.prompt_chars() / 4)


def seconds_to_midnight(now: float) -> float:
    at = datetime.fromtimestamp(now, UTC)
    midnight = (at + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - at).total_seconds()


def admit(quota: Quota, usage: Usage, *, jobs: int, cost: float, now: float) -> Refusal | None:
    """The checks that need no token bucket: queue room, daily budget, a batch bigger than the per-minute quota."""
    if cost > quota.tokens_per_minute:
        return Refusal(
            "too_large",
            f"the submission costs {cost:g} tokens, more than the key's {quota.tokens_per_minute} tokens per minute; "
            "split it into smaller batches",
            None,
        )
    if usage.queued + jobs > quota.max_queued:
        return Refusal(
            "quota_queued",
            f"the key has {usage.queued} jobs waiting; {jobs} more would pass its limit of {quota.max_queued}",
            30.0,
        )
    if usage.tokens_today + cost > quota.daily_tokens:
        return Refusal(
            "quota_daily",
            f"the key used {usage.tokens_today:g} of its {quota.daily_tokens} tokens today; this submission "
            f"costs {cost:g}",
            seconds_to_midnight(now),
        )
    return None


# --- fair share ---------------------------------------------------------------------------------------------------


def next_key(virtual_times: Iterable[tuple[str, float]], *, ready: set[str], blocked: set[str]) -> str | None:
    """The key to serve next: lowest virtual time among keys with ready work that are not at a limit."""
    candidates = [(vt, key) for key, vt in virtual_times if key in ready and key not in blocked]
    return min(candidates)[1] if candidates else None


def charge(cost: float, weight: float) -> float:
    """How far serving a job of `cost` advances its key's virtual time."""
    return cost / max(weight, 1e-9)


def catch_up(own: float | None, others_with_work: Iterable[float]) -> float | None:
    """The virtual time a key returning with work starts at; None when it keeps its own."""
    floor = min(others_with_work, default=None)
    if floor is None or (own is not None and own >= floor):
        return None
    return floor

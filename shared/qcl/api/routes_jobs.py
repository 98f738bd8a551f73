"""Jobs: submit inference work (one prompt or a batch), follow it, cancel it; quotas per key.

    POST /api/jobs {"kind": "completion", "prompts": ["...", "..."], "max_tokens": 64, "priority": "batch"}
         -> 202 {"jobs": ["<id>", ...], "batch_id": "..."}; 429 + Retry-After past a quota
    GET  /api/jobs/<id>                  -> the job: queued | running | done | failed | cancelled | dead
    GET  /api/jobs?state=done&limit=50   -> the key's jobs, newest first (an admin's: everyone's)
    POST /api/jobs/<id>/cancel           -> the job as it stands (a running one stops at its next decode step)
    GET  /api/quotas                     -> usage against quota: the key's own (an admin's: every key's)

A key sees and cancels only its own jobs: another key's job answers 404, as a job that does not exist (no
existence leak); an admin sees all. Workers (qcl.compute.worker) run the jobs wherever the store is shared.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import flask
from pydantic import BaseModel, Field

from qcl.api.access import sees
from qcl.api.errors import ApiError, unavailable
from qcl.api.routing import ApiRoutes
from qcl.api.schemas import ID_PATTERN, Role, _Query
from qcl.compute.jobs import Job, JobRequest, JobState
from qcl.compute.queue import JobQueue, QuotaExceeded
from qcl.obs.logging import audit

if TYPE_CHECKING:
    from qcl.api.context import ApiContext


class JobsAccepted(BaseModel):
    jobs: list[str]  # ids, in the order of the prompts
    batch_id: str | None


class JobList(BaseModel):
    jobs: list[Job]


class JobsQuery(_Query):
    state: JobState | None = None
    limit: int = Field(default=50, ge=1, le=500)


class KeyUsage(BaseModel):
    key_id: str
    quota: dict[str, Any]
    queued: int
    running: int
    tokens_today: float


class QuotaReport(BaseModel):
    keys: list[KeyUsage]
    queue: dict[str, int]  # waiting per class, running, retrying
    forecast: dict[str, float | None]  # the predictive signal: arrival and service rates, predicted queue and wait


def register(routes: ApiRoutes, ctx: ApiContext) -> None:
    services = ctx.services

    def queue() -> JobQueue:
        jobs: JobQueue | None = services.jobs
        if jobs is None:
            raise unavailable("jobs", "no job queue is configured for this API instance")
        return jobs

    def visible(job_id: str) -> Job:
        job = services.breakers.call("store", queue().get, job_id)
        if job is None or not sees(flask.g.key, job.key_id):
            raise ApiError(404, "not_found", f"no job {job_id!r} (jobs are kept for 7 days)")
        return job

    @routes.route(
        "POST",
        "/api/jobs",
        role=Role.OPERATOR,
        tag="jobs",
        summary="Submit a completion or chat job, or a batch of them",
        body=JobRequest,
        responses={202: JobsAccepted, 422: None, 429: None, 503: None},
    )
    def submit_jobs(body: JobRequest) -> Any:
        """`prompt` or `prompts` (kind completion), `messages` or `conversations` (kind chat), with shared options:
        max_tokens, temperature, stop, priority (interactive > standard > batch > background), deadline_s,
        max_attempts. The whole submission is admitted or refused: 429 with Retry-After past the key's tokens per
        minute, daily budget or queued jobs, or when its deadline is shorter than the predicted wait; 422 when it
        costs more than the key's per-minute quota (split it)."""
        key = flask.g.key
        jobs = body.jobs(key_id=key.id, now=services.now().timestamp())
        try:
            accepted = services.breakers.call("store", queue().submit, jobs, retries=0)  # not twice: it charges
        except QuotaExceeded as exc:
            refusal = exc.refusal
            audit("jobs.submitted", actor=key.id, target=f"{len(jobs)} jobs", outcome="refused", code=refusal.code)
            if refusal.retry_after_s is None:
                raise ApiError(422, refusal.code, refusal.message, field="prompts") from None
            raise ApiError(429, refusal.code, refusal.message, retry_after_s=refusal.retry_after_s) from None
        audit("jobs.submitted", actor=key.id, target=accepted[0].batch_id or accepted[0].id, jobs=len(accepted))
        answer = JobsAccepted(jobs=[job.id for job in accepted], batch_id=accepted[0].batch_id)
        return answer, 202, {"Location": f"/api/jobs/{accepted[0].id}"}

    @routes.route(
        "GET",
        "/api/jobs/{job_id}",
        role=Role.VIEWER,
        tag="jobs",
        summary="A job with its state, and its result or error",
        responses={200: Job, 404: None},
        path_params={"job_id": {"type": "string", "pattern": ID_PATTERN}},
    )
    def get_job(job_id: str) -> Job:
        return visible(job_id)

    @routes.route(
        "GET",
        "/api/jobs",
        role=Role.VIEWER,
        tag="jobs",
        summary="The key's jobs, newest first, optionally in one state",
        query=JobsQuery,
        responses={200: JobList},
    )
    def list_jobs(query: JobsQuery) -> JobList:
        key = flask.g.key
        owner = None if key.role == Role.ADMIN else key.id
        return JobList(jobs=services.breakers.call("store", queue().list, owner, state=query.state, limit=query.limit))

    @routes.route(
        "POST",
        "/api/jobs/{job_id}/cancel",
        role=Role.OPERATOR,
        tag="jobs",
        summary="Cancel a job: a waiting one at once, a running one at its next decode step",
        responses={200: Job, 404: None},
        path_params={"job_id": {"type": "string", "pattern": ID_PATTERN}},
    )
    def cancel_job(job_id: str) -> Job:
        visible(job_id)
        job = services.breakers.call("store", queue().cancel, job_id)
        audit("jobs.cancelled", actor=flask.g.key.id, target=job_id)
        assert job is not None
        return job

    @routes.route(
        "GET",
        "/api/quotas",
        role=Role.VIEWER,
        tag="jobs",
        summary="Usage against quota per key (an admin sees every key), the queue and its forecast",
        responses={200: QuotaReport},
    )
    def quotas() -> QuotaReport:
        key, jobs = flask.g.key, queue()
        ids = [record.id for record in services.keys.list()] if key.role == Role.ADMIN else [key.id]
        usage = []
        for key_id in ids:
            used = services.breakers.call("store", jobs.usage, key_id)
            quota = dataclasses.asdict(jobs.quotas.get(key_id))
            usage.append(KeyUsage(key_id=key_id, quota=quota, **dataclasses.asdict(used)))
        jobs.observe_load()
        return QuotaReport(keys=usage, queue=jobs.depth(), forecast=jobs.forecast.snapshot())

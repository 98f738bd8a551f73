"""Tasks: submit an AI or oracle job, then follow it until it is done or failed.

    POST /api/tasks {"kind": "question", "question": "網路健康嗎？"}   -> 202, Location: /api/tasks/<id>
    POST /api/tasks {"kind": "oracle", "task": "analysis.health_score"}   (window: the last hour by default)
    GET  /api/tasks/<id>                                            -> queued | running | done | failed

A key sees only the tasks it submitted (an admin sees all), over GET and on the WebSocket stream alike.

A narration or question goes onto `ai-requests` (the narrator answers on `ai-insights` with the task id as request
id); an oracle job is filed with qcl.oracle.scheduler (the window's observations pinned by content hash, a sequence
claimed atomically in the store) onto `oracle-requests`, and its job id is the task id. The task lives on the task
board (qcl.tasks): created here before the job goes out (the answer may come back before we return), moved on by
the worker; one with no outcome after QCL_TASK_TIMEOUT_S reads as failed. Submitting is audited.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import flask

from qcl.api.access import sees
from qcl.api.errors import ApiError, unavailable
from qcl.api.routing import ApiRoutes
from qcl.api.schemas import ID_PATTERN, OracleTask, Role, TaskRequest, TaskView
from qcl.events import AI_REQUESTS, AIRequest, OracleRequest
from qcl.obs.logging import audit
from qcl.oracle.jobs import analysis_spec
from qcl.oracle.scheduler import claim_job, publish_job
from qcl.qubic.types import Observation
from qcl.store.keys import ANALYZER_WINDOW
from qcl.tasks import TaskError

if TYPE_CHECKING:
    from qcl.api.context import ApiContext


def register(routes: ApiRoutes, ctx: ApiContext) -> None:
    services, state = ctx.services, ctx.state

    def oracle_job(body: OracleTask) -> OracleRequest:
        """The job over the window's observations, its input stored and its sequence claimed (not yet filed)."""
        window = body.window
        if window is not None and window.from_ > window.to:
            raise ApiError(422, "validation_error", "window.from: must not be after window.to", field="window.from")
        if window is None:  # the hour (QCL_ORACLE_WINDOW_S) up to the newest analysed observation
            latest = state.latest_report()
            if latest is None:
                raise ApiError(404, "no_observations", "the analyzer has not analysed an observation yet")
            end = latest.observed_at.timestamp()
            start = end - services.settings.oracle_window_s
        else:
            start, end = window.from_.timestamp(), window.to.timestamp()
        lines = services.breakers.call("store", services.store.window_range, ANALYZER_WINDOW.key(), start, end)
        if not lines:
            raise ApiError(404, "no_observations", "the analyzer holds no observations in that window")
        blob = ("\n".join(lines) + "\n").encode()
        subject = f"window/{_z(_observed_at(lines[0]))}/{_z(_observed_at(lines[-1]))}"
        spec = analysis_spec(body.task, blob, subject=subject)
        request: OracleRequest = services.breakers.call("store", claim_job, services.store, spec, blob)
        return request

    @routes.route(
        "POST",
        "/api/tasks",
        role=Role.OPERATOR,
        tag="tasks",
        summary="Submit a narration, question or oracle job",
        body=TaskRequest,
        responses={202: TaskView, 404: None, 503: None},
    )
    def submit_task(body: Any) -> Any:
        """An oracle job names its task and, optionally, the window of stored observations it runs over; the job
        ({job_id: sha256(spec), sequence, spec}) is in the answer's `job`, and its job id is the task id: the same job
        submitted twice answers 409. 404 `no_observations` when the analyzer holds none in the window."""
        job = oracle_job(body) if isinstance(body, OracleTask) else None
        task = submit_task_of(ctx, body, job)
        return task, 202, {"Location": f"/api/tasks/{task.id}"}

    @routes.route(
        "GET",
        "/api/tasks/{task_id}",
        role=Role.VIEWER,
        tag="tasks",
        summary="A task's state, with its result or error",
        responses={200: TaskView, 404: None},
        path_params={"task_id": {"type": "string", "pattern": ID_PATTERN}},
    )
    def get_task(task_id: str) -> TaskView:
        """A key sees its own tasks (their questions are its user's); another key's task answers 404, as one that
        does not exist; an admin sees all."""
        task = state.task(task_id)
        if task is None or not sees(flask.g.key, task.submitted_by):
            raise ApiError(404, "not_found", f"no task {task_id!r} (tasks are kept for 7 days)")
        return task


def submit_task_of(ctx: ApiContext, body: Any, job: OracleRequest | None = None) -> TaskView:
    """File `body` (a narration, question or, with its `job`, oracle task) on the task board and its topic."""
    services, state = ctx.services, ctx.state
    actor = flask.g.key.id
    if services.bus is None:
        raise unavailable("bus", "no event bus is configured for this API instance")
    task_id = job.job_id if job is not None else uuid.uuid4().hex
    now = services.now()
    task = TaskView(
        id=task_id,
        kind=body.kind,
        state="queued",
        created_at=now,
        updated_at=now,
        submitted_by=actor,
        request=body.model_dump(mode="json", by_alias=True),
        job=job,
    )
    if not state.create_task(task):
        raise ApiError(409, "task_exists", f"task {task_id!r} was already submitted; follow /api/tasks/{task_id}")
    # On the stream before the job goes out: a worker that answers at once must not be heard before "queued".
    ctx.log.append("task", task.model_dump(mode="json"))
    try:
        if job is not None:
            services.breakers.call("bus", publish_job, services.bus, job, source=services.source, retries=2)
        else:
            question = getattr(body, "question", None)
            ai = AIRequest(request_id=task_id, kind=body.kind, question=question, language=body.language)
            services.publish(AI_REQUESTS, AI_REQUESTS.event(ai, source=services.source, subject=f"task/{task_id}"))
    except ApiError as exc:
        state.forget_task(task_id)
        failed = task.model_copy(update={"state": "failed", "error": TaskError(code=exc.code, message=exc.message)})
        ctx.log.append("task", failed.model_dump(mode="json"))
        ctx.broadcaster.poke()
        audit("task.submitted", actor=actor, target=task_id, outcome="failed", kind=body.kind)
        raise
    audit("task.submitted", actor=actor, target=task_id, kind=body.kind)
    ctx.broadcaster.poke()
    return task


def _observed_at(line: str) -> float:
    return Observation.model_validate_json(line).observed_at.timestamp()


def _z(unix_s: float) -> str:
    return datetime.fromtimestamp(unix_s, UTC).isoformat().replace("+00:00", "Z")

"""Tasks: submit an AI or oracle job, then follow it until it is done or failed.

    POST /api/tasks {"kind": "question", "question": "網路健康嗎？"}   -> 202, Location: /api/tasks/<id>
    GET  /api/tasks/<id>                                            -> queued | running | done | failed

A narration or question goes onto `ai-requests` (the narrator answers on `ai-insights` with the task id as
request id); an oracle job onto `oracle-requests` (the committee answers on `oracle-results` with the task id as
job id). The task's state lives in the store; ApiIngest completes it when the answer arrives, and a task with no
answer after QCL_TASK_TIMEOUT_S reads as failed. Submitting is audited.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import flask

from qcl.api.errors import ApiError
from qcl.api.routing import ApiRoutes
from qcl.api.schemas import ID_PATTERN, OracleTask, Role, TaskRequest, TaskView
from qcl.events import AI_REQUESTS, ORACLE_REQUESTS, AIRequest, Envelope, Topic
from qcl.obs.logging import audit

if TYPE_CHECKING:
    from qcl.api.app import ApiContext


def register(routes: ApiRoutes, ctx: ApiContext) -> None:
    services, state = ctx.services, ctx.state

    @routes.route(
        "POST",
        "/api/tasks",
        role=Role.OPERATOR,
        tag="tasks",
        summary="Submit a narration, question or oracle job",
        body=TaskRequest,
        responses={202: TaskView, 503: None},
    )
    def submit_task(body: Any) -> Any:
        """An oracle job is given as the committee reads it (`job`, an oracle-requests event's data); its job id
        becomes the task id, and submitting the same job twice answers 409."""
        actor = flask.g.key.id
        if isinstance(body, OracleTask):
            task_id = body.job.job_id
            event: Envelope[Any] = ORACLE_REQUESTS.event(body.job, source=services.source, subject=f"task/{task_id}")
            topic: Topic[Any] = ORACLE_REQUESTS
        else:
            task_id = uuid.uuid4().hex
            question = getattr(body, "question", None)
            ai = AIRequest(request_id=task_id, kind=body.kind, question=question, language=body.language)
            event, topic = AI_REQUESTS.event(ai, source=services.source, subject=f"task/{task_id}"), AI_REQUESTS
        now = services.now()
        task = TaskView(
            id=task_id,
            kind=body.kind,
            state="queued",
            created_at=now,
            updated_at=now,
            submitted_by=actor,
            request=body.model_dump(mode="json"),
        )
        if not state.claim_task(task):  # saved before publishing: the answer may come back before we return
            raise ApiError(409, "task_exists", f"task {task_id!r} was already submitted; follow /api/tasks/{task_id}")
        try:
            services.publish(topic, event)
        except ApiError:
            services.breakers.call("store", services.store.delete, f"api:task:{task_id}")
            audit("task.submitted", actor=actor, target=task_id, outcome="failed", kind=body.kind)
            raise
        audit("task.submitted", actor=actor, target=task_id, kind=body.kind)
        ctx.log.append("task", task.model_dump(mode="json"))
        ctx.broadcaster.poke()
        return task, 202, {"Location": f"/api/tasks/{task_id}"}

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
        task = state.task(task_id)
        if task is None:
            raise ApiError(404, "not_found", f"no task {task_id!r} (tasks are kept for 7 days)")
        return task

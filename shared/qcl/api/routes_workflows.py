"""Workflows over HTTP: deploy revisions, start and follow executions, cancel them; and the connector route that
the Cloud Workflows version of a workflow calls for each qcl.* step (qcl.workflows.gcp).

    POST /api/workflows {"name": "epoch-report", "source": "<YAML>", "triggers": []}   -> 201 revision
    GET  /api/workflows | /api/workflows/<name>
    POST /api/workflows/<name>/executions {"argument": {...}, "wait_s": 10}          -> 202 (200 once finished)
    GET  /api/workflows/<name>/executions | /api/workflows/executions/<id>           (with its steps)
    POST /api/workflows/executions/<id>/cancel
    POST /api/workflows/connectors/<connector> {args}                                 -> {"result": ...}

An invalid file answers 422 with `field` "source" and the message "line N: reason". The executions run on this
API instance's embedded executor (the same store-backed, resumable one `qcl workflows` uses).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

import flask
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from qcl.api.errors import ApiError
from qcl.api.routing import ApiRoutes
from qcl.api.schemas import ID_PATTERN, Role
from qcl.obs.logging import audit
from qcl.workflows.connectors import QCL_CONNECTORS, LocalConnectors
from qcl.workflows.errors import LimitExceeded, UnknownWorkflowError, WorkflowRaised, WorkflowSyntaxError
from qcl.workflows.service import WorkflowService

if TYPE_CHECKING:
    from qcl.api.context import ApiContext

NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
MAX_SOURCE_CHARS = 128 * 1024  # Cloud Workflows' limit on a workflow's source


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeployRequest(_Body):
    name: str = Field(pattern=NAME_PATTERN)
    source: str = Field(min_length=1, max_length=MAX_SOURCE_CHARS)
    triggers: list[dict[str, JsonValue]] = Field(default_factory=list, max_length=16)


class RunRequest(_Body):
    argument: JsonValue = None
    wait_s: float = Field(default=0.0, ge=0, le=60)  # answer once finished, or after this long with 202


class RevisionView(BaseModel):
    workflow: str
    revision: int
    revision_id: str
    digest: str
    source: str
    triggers: list[dict[str, JsonValue]]
    created_at: float
    created: bool | None = None  # on deploy: False when this source was already the revision


class WorkflowSummary(BaseModel):
    name: str
    revision: int
    revision_id: str
    triggers: list[dict[str, JsonValue]]


class WorkflowsResponse(BaseModel):
    workflows: list[WorkflowSummary]


class WorkflowDetail(BaseModel):
    latest: RevisionView
    revisions: list[int]


class ExecutionView(BaseModel):
    id: str
    workflow: str
    revision: int
    revision_id: str
    state: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    trigger: str
    argument: JsonValue
    result: JsonValue
    error: JsonValue
    created_at: float
    started_at: float | None
    ended_at: float | None
    steps_done: int


class ExecutionsResponse(BaseModel):
    executions: list[ExecutionView]


class StepView(BaseModel):
    path: str
    step: str
    kind: str
    started_at: float
    ended_at: float
    outcome: Literal["next", "return", "error"]
    next: str | None = None
    result: JsonValue = None
    error: JsonValue = None
    variables: dict[str, JsonValue]


class ExecutionDetail(ExecutionView):
    steps: list[StepView]


class ConnectorResult(BaseModel):
    result: JsonValue


def build_service(ctx: ApiContext) -> WorkflowService:
    services = ctx.services
    connectors = LocalConnectors(
        store=services.store, bus=services.bus, narrator=services.narrator, generation=services.generation
    )
    settings = services.settings
    env = {"QCL_API_BASE": f"http://{settings.host}:{settings.port}"}
    return WorkflowService(services.store, connectors, lease_s=settings.workflow_lease_s, env=env)


def step_view(entry: dict[str, Any]) -> StepView:
    variables: dict[str, Any] = {}
    for frame in entry.get("frames", []):
        variables.update(frame)
    outcome = "error" if "error" in entry else "return" if "return" in entry else "next"
    return StepView(
        path=entry["path"],
        step=entry["step"],
        kind=entry["kind"],
        started_at=entry["started_at"],
        ended_at=entry["ended_at"],
        outcome=outcome,
        next=entry.get("next"),
        result=entry.get("return", entry.get("result")),
        error=entry.get("error"),
        variables=variables,
    )


def register(routes: ApiRoutes, ctx: ApiContext) -> None:
    service = ctx.services.workflows or build_service(ctx)
    ctx.services.workflows = service
    name_param = {"name": {"type": "string", "pattern": NAME_PATTERN}}
    missing = service.connectors.available() if isinstance(service.connectors, LocalConnectors) else {}
    runnable = [name for name in QCL_CONNECTORS if missing.get(name) is None]
    id_param = {"execution_id": {"type": "string", "pattern": ID_PATTERN}}

    def not_found(exc: Exception) -> ApiError:
        return ApiError(404, "not_found", str(exc))

    @routes.route(
        "POST",
        "/api/workflows",
        role=Role.OPERATOR,
        tag="workflows",
        summary="Deploy a workflow: a new immutable revision",
        body=DeployRequest,
        responses={201: RevisionView, 200: RevisionView},
    )
    def deploy_workflow(body: DeployRequest) -> Any:
        """The source is Cloud Workflows YAML or JSON; an invalid one answers 422 naming its line and the reason.
        Deploying the same source and triggers again answers 200 with the revision that holds them."""
        try:
            revision = service.deploy(body.name, body.source, triggers=body.triggers)
        except WorkflowSyntaxError as exc:
            raise ApiError(422, "invalid_workflow", str(exc), field="source") from None
        audit("workflow.deployed", actor=flask.g.key.id, target=body.name, revision=revision["revision"])
        return RevisionView.model_validate(revision), 201 if revision["created"] else 200

    @routes.route(
        "GET", "/api/workflows", role=Role.VIEWER, tag="workflows", summary="Deployed workflows",
        responses={200: WorkflowsResponse},
    )  # fmt: skip
    def list_workflows() -> WorkflowsResponse:
        rows = []
        for name in service.repo.names():
            latest = service.repo.revision(name)
            if latest is not None:
                rows.append(
                    WorkflowSummary(name=name, **{k: latest[k] for k in ("revision", "revision_id", "triggers")})
                )
        return WorkflowsResponse(workflows=rows)

    @routes.route(
        "GET", "/api/workflows/{name}", role=Role.VIEWER, tag="workflows", summary="A workflow's latest revision",
        responses={200: WorkflowDetail, 404: None}, path_params=name_param,
    )  # fmt: skip
    def show_workflow(name: str) -> WorkflowDetail:
        try:
            latest = service.revision(name)
        except UnknownWorkflowError as exc:
            raise not_found(exc) from None
        numbers = [r["revision"] for r in service.repo.revisions(name)]
        return WorkflowDetail(latest=RevisionView.model_validate(latest), revisions=numbers)

    @routes.route(
        "POST", "/api/workflows/{name}/executions", role=Role.OPERATOR, tag="workflows",
        summary="Run a workflow's latest revision", body=RunRequest,
        responses={202: ExecutionView, 200: ExecutionView, 404: None, 413: None}, path_params=name_param,
    )  # fmt: skip
    def run_workflow(name: str, body: RunRequest) -> Any:
        """202 with the execution (follow /api/workflows/executions/<id>); 200 when it finished within wait_s."""
        try:
            record = service.start(name, body.argument)
        except UnknownWorkflowError as exc:
            raise not_found(exc) from None
        except LimitExceeded as exc:
            raise ApiError(413, "payload_too_large", str(exc), field="argument") from None
        assert record is not None
        audit("workflow.started", actor=flask.g.key.id, target=name, execution=record["id"])
        if body.wait_s > 0:
            record = service.wait(record["id"], body.wait_s)
        finished = record["state"] in ("succeeded", "failed", "cancelled")
        location = {"Location": f"/api/workflows/executions/{record['id']}"}
        return ExecutionView.model_validate(record), 200 if finished else 202, location

    @routes.route(
        "GET", "/api/workflows/{name}/executions", role=Role.VIEWER, tag="workflows",
        summary="A workflow's executions, newest first", responses={200: ExecutionsResponse}, path_params=name_param,
    )  # fmt: skip
    def workflow_executions(name: str) -> ExecutionsResponse:
        return ExecutionsResponse(executions=[ExecutionView.model_validate(r) for r in service.repo.executions(name)])

    @routes.route(
        "GET", "/api/workflows/executions/{execution_id}", role=Role.VIEWER, tag="workflows",
        summary="An execution with its finished steps", responses={200: ExecutionDetail, 404: None},
        path_params=id_param,
    )  # fmt: skip
    def workflow_execution(execution_id: str) -> ExecutionDetail:
        try:
            record = service.execution(execution_id)
        except UnknownWorkflowError as exc:
            raise not_found(exc) from None
        steps = [step_view(e) for e in service.steps(execution_id)]
        return ExecutionDetail(**ExecutionView.model_validate(record).model_dump(), steps=steps)

    @routes.route(
        "POST", "/api/workflows/executions/{execution_id}/cancel", role=Role.OPERATOR, tag="workflows",
        summary="Cancel an execution (it stops before its next step)", responses={202: ExecutionView, 404: None},
        path_params=id_param,
    )  # fmt: skip
    def cancel_execution(execution_id: str) -> Any:
        try:
            record = service.cancel(execution_id)
        except UnknownWorkflowError as exc:
            raise not_found(exc) from None
        audit("workflow.cancelled", actor=flask.g.key.id, target=execution_id)
        deadline = time.monotonic() + 2.0
        while record["state"] not in ("succeeded", "failed", "cancelled") and time.monotonic() < deadline:
            time.sleep(0.05)
            record = service.execution(execution_id)
        return ExecutionView.model_validate(record), 202

    @routes.route(
        "POST", "/api/workflows/connectors/{connector}", role=Role.OPERATOR, tag="workflows",
        summary="Run one qcl.* connector (what a workflow deployed on Cloud Workflows calls)",
        body=dict[str, JsonValue], responses={200: ConnectorResult, 400: None, 404: None, 503: None},
        # Every connector, whatever this instance runs: the contract a client is generated from stays one.
        path_params={"connector": {"type": "string", "enum": [c.removeprefix("qcl.") for c in QCL_CONNECTORS]}},
    )  # fmt: skip
    def run_connector(connector: str, body: dict[str, Any]) -> ConnectorResult:
        name = f"qcl.{connector}"
        if name not in QCL_CONNECTORS:
            raise ApiError(404, "not_found", f"no connector {name}; these exist: {', '.join(QCL_CONNECTORS)}")
        if name not in runnable:
            why = f"{name} cannot run on this instance: {missing[name]}; these can: {', '.join(runnable)}"
            raise ApiError(503, "unavailable", why)
        try:
            result = service.connectors.call(name, body)
        except WorkflowRaised as exc:
            value = exc.value if isinstance(exc.value, dict) else {}
            code = value.get("code") if isinstance(value.get("code"), int) else 500
            status = code if code in (400, 404, 503) else 502
            raise ApiError(status, "connector_failed", str(value.get("message", exc)), field=None) from None
        return ConnectorResult(result=result)

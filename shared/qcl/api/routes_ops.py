"""Operations: /healthz (and /api/health), /readyz, /metrics, the OpenAPI document and docs, the WebSocket, the UI.

/healthz says the process answers (nothing else is touched, so a slow dependency never gets it restarted);
/readyz says it can serve: the store answers, the bus is not failing, the model answers a tiny forward pass when a
model runtime is configured, and the instance is not shutting down.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import flask
import pybreaker

from qcl.api.errors import ApiError
from qcl.api.live import WS_DECISION
from qcl.api.openapi import build_spec, docs_page
from qcl.api.routing import ApiRoutes
from qcl.api.schemas import CheckResult, HealthResponse, ReadyResponse, Role, StreamQuery
from qcl.api.security import is_websocket_upgrade
from qcl.model.params import PRIORITIES
from qcl.obs import metrics

if TYPE_CHECKING:
    from qcl.api.context import ApiContext

log = logging.getLogger(__name__)

# Close codes of a refused key (4000-4999 are the application's, RFC 6455 §7.4.2): HTTP's status plus 4000.
WS_CLOSE_UNAUTHORIZED = 4401
WS_CLOSE_FORBIDDEN = 4403


def register(routes: ApiRoutes, ctx: ApiContext) -> None:
    services = ctx.services

    @routes.route(
        "GET",
        "/healthz",
        role=None,
        tag="ops",
        summary="The process is alive",
        responses={200: HealthResponse},
        rate_limited=False,
    )
    def healthz() -> HealthResponse:
        return HealthResponse(status="ok")

    @routes.route(
        "GET",
        "/api/health",
        role=None,
        tag="ops",
        summary="The process is alive (/healthz on Cloud Run, whose front end reserves paths ending in z)",
        responses={200: HealthResponse},
        rate_limited=False,
    )
    def health() -> HealthResponse:
        return HealthResponse(status="ok")

    @routes.route(
        "GET",
        "/readyz",
        role=None,
        tag="ops",
        summary="The instance can serve",
        responses={200: ReadyResponse, 503: None},
        rate_limited=False,
    )
    def readyz() -> Any:
        """503 (in the error shape, failing checks in the message) when any check fails."""
        checks = _checks(ctx)
        failing = [f"{name}: {check.detail}" for name, check in checks.items() if not check.ok]
        if failing:
            raise ApiError(503, "not_ready", "not ready: " + "; ".join(failing), retry_after_s=5)
        return ReadyResponse(ready=True, checks=checks)

    @routes.route(
        "GET",
        "/metrics",
        role=Role.VIEWER,
        tag="ops",
        summary="Prometheus metrics",
        responses={200: "text/plain"},
        rate_limited=False,
    )
    def prometheus_metrics() -> flask.Response:
        refresh_gauges(ctx)
        body, content_type = metrics.render()
        return flask.Response(body, content_type=content_type)

    spec_cache: dict[str, Any] = {}

    def spec() -> dict[str, Any]:
        if not spec_cache:
            spec_cache.update(build_spec(routes.routes, version=services.version))
        return spec_cache

    @routes.route(
        "GET",
        "/api/openapi.json",
        role=None,
        tag="ops",
        summary="This API's OpenAPI 3.1 document",
        responses={200: "application/json"},
    )
    def openapi() -> flask.Response:
        return flask.Response(json.dumps(spec(), ensure_ascii=False), mimetype="application/json")

    @routes.route(
        "GET", "/api/docs", role=None, tag="ops", summary="This API's documentation page", responses={200: "text/html"}
    )
    def docs() -> flask.Response:
        return flask.Response(docs_page(spec()), mimetype="text/html")

    @routes.route(
        "GET",
        "/api/ws",
        role=Role.VIEWER,
        tag="live",
        summary="Live analysis, insights, node events and task updates (WebSocket)",
        query=StreamQuery,
        responses={101: None, 426: None},
        websocket=True,
    )
    def websocket(query: StreamQuery) -> Any:
        """Messages are JSON: {seq, type: analysis|insight|node|task|oracle|resync, time, data}. Reconnect with
        ?last_seq=N (or the Last-Event-ID header) to receive everything after N that is still kept (15 min);
        a `resync` message means events were missed: reload the REST views. Browsers, which cannot set headers
        on a WebSocket, offer the key as the subprotocol `bearer.<key>` next to `qcl.v1`. A missing, unknown or
        revoked key gets the handshake and then close code 4401; a key whose role is too low 4403; the close
        reason says why. Reconnecting with the same key is pointless. A key already holding its limit of open
        streams on the instance (QCL_WS_PER_KEY_MAX, 16) gets 4429: close one, or retry later."""
        if not is_websocket_upgrade(flask.request):
            raise ApiError(
                426, "websocket_required", "this URL speaks WebSocket only", headers={"Upgrade": "websocket"}
            )
        decision: dict[str, Any] | None = flask.request.environ.get(WS_DECISION)
        if decision is None:  # a WSGI-only host (functions-framework): the stream needs the API server
            raise ApiError(501, "websocket_unavailable", "WebSockets are served by qcl up and containers/api")
        refusal: ApiError | None = flask.g.pop("ws_refusal", None)
        if refusal is not None:
            code = WS_CLOSE_UNAUTHORIZED if refusal.status == 401 else WS_CLOSE_FORBIDDEN
            decision["refusal"] = (code, refusal.message)
            return flask.Response(status=204)
        last = query.last_seq
        header = flask.request.headers.get("Last-Event-ID", "")
        if last is None and header.isdigit():
            last = int(header)
        decision.update(_start_at(ctx, last), caller=flask.g.key)  # the hub sends it only what the key may see
        return flask.Response(status=204)  # the server opens the WebSocket (qcl.api.live)

    @routes.route(
        "GET",
        "/",
        role=None,
        tag="dashboard",
        summary="The dashboard (web/dist), or a page saying it is not built",
        responses={200: "text/html"},
    )
    def index() -> flask.Response:
        return _dashboard_file(services.settings.web_dist, "index.html")

    @routes.route(
        "GET",
        "/assets/{path}",
        role=None,
        tag="dashboard",
        summary="The dashboard's built assets",
        responses={200: "application/octet-stream", 404: None},
        path_params={"path": {"type": "string", "pattern": r"^[A-Za-z0-9._-]{1,200}$"}},
    )
    def assets(path: str) -> flask.Response:
        return _dashboard_file(services.settings.web_dist / "assets", path, fallback=False)

    @routes.route(
        "GET",
        "/{name}",
        role=None,
        tag="dashboard",
        summary="The dashboard's top-level files (icons, manifest)",
        responses={200: "application/octet-stream", 404: None},
        path_params={"name": {"type": "string", "pattern": r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$"}},
    )
    def dashboard_file(name: str) -> flask.Response:
        return _dashboard_file(services.settings.web_dist, name, fallback=False)


def _checks(ctx: ApiContext) -> dict[str, CheckResult]:
    services = ctx.services
    checks = {"serving": CheckResult(ok=not ctx.draining, detail="shutting down" if ctx.draining else "ok")}
    try:
        store_ok = services.store.ping()
    except Exception as exc:  # a broken connection may raise instead of answering False
        store_ok = False
        checks["store"] = CheckResult(ok=False, detail=f"{services.store.backend}: {type(exc).__name__}")
    else:
        checks["store"] = CheckResult(ok=store_ok, detail=services.store.backend if store_ok else "no answer")
    bus_state = services.breakers.by_name["bus"].current_state
    if services.bus is None:
        checks["bus"] = CheckResult(ok=False, detail="no bus configured")
    else:
        bus_ok = bus_state != pybreaker.STATE_OPEN and services.bus.ping()
        checks["bus"] = CheckResult(ok=bus_ok, detail=f"{services.bus.backend}, breaker {bus_state}")
    if services.generation is not None:
        try:
            model_ok = bool(services.generation.health_check())
            detail = "tiny forward pass answered" if model_ok else "tiny forward pass failed"
        except Exception as exc:
            model_ok, detail = False, f"{type(exc).__name__}: {exc}"
        model_id = str(getattr(services.generation, "model_id", "unknown"))
        metrics.MODEL_UP.labels(model=model_id).set(1 if model_ok else 0)
        checks["model"] = CheckResult(ok=model_ok, detail=detail)
    return checks


def refresh_gauges(ctx: ApiContext) -> None:
    """Mirror other services' state into gauges at scrape time (they keep no Prometheus metrics themselves)."""
    services = ctx.services
    backlog = getattr(services.bus, "backlog", None)
    if callable(backlog):  # the memory bus knows its backlog; Pub/Sub's is in Cloud Monitoring
        metrics.QUEUE_DEPTH.labels(queue="bus").set(backlog())
    if services.jobs is not None:
        try:
            depth = services.jobs.depth()
        except Exception:  # the store did not answer: the gauges keep their last values, /readyz says why
            depth = {}
        for priority in PRIORITIES:
            if priority in depth:
                metrics.JOBS_QUEUED.labels(priority=priority).set(depth[priority])
        if "running" in depth:
            metrics.JOBS_RUNNING.set(depth["running"])
    if services.generation is not None:
        try:
            status = services.generation.status()
        except Exception:
            status = {}
        if isinstance(status.get("queue_depth"), int | float):
            metrics.QUEUE_DEPTH.labels(queue="model").set(status["queue_depth"])
        if isinstance(status.get("tokens_per_s"), int | float):
            metrics.MODEL_TOKENS_PER_S.labels(model=str(status.get("model", "unknown"))).set(status["tokens_per_s"])
    try:
        nodes = ctx.state.nodes()
    except ApiError:
        return
    counts: dict[tuple[str, str], int] = {(r, s): 0 for r in ("shard", "oracle") for s in ("up", "down", "left")}
    for node in nodes:
        counts[(node.role, node.state)] += 1
    for (role, state), count in counts.items():
        metrics.NODES.labels(role=role, state=state).set(count)


def _start_at(ctx: ApiContext, last: int | None) -> dict[str, Any]:
    """Where a subscriber starts: after `last`, or live (a new client, or one from before the store was reset)."""
    head = ctx.log.head()
    first = []
    if last is None or last > head:
        if last is not None:
            resync = {"seq": head, "type": "resync", "data": {"reason": f"sequence {last} is unknown here"}}
            first.append(json.dumps(resync))
        last = head
    first.append(json.dumps({"seq": last, "type": "hello", "data": {"head": head}}))
    return {"last": last, "first": first}


def _dashboard_file(folder: Path, name: str, fallback: bool = True) -> flask.Response:
    if (folder / name).is_file():
        return flask.send_from_directory(folder.resolve(), name, max_age=300 if name != "index.html" else 0)
    if not fallback:
        raise ApiError(404, "not_found", f"no dashboard file {name!r}")
    return flask.Response(_NOT_BUILT, mimetype="text/html")


_NOT_BUILT = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Qubic AI Compute Layer</title>"
    "<style>body{font-family:system-ui,sans-serif;margin:3rem;max-width:44rem}</style>"
    "<h1>Qubic AI Compute Layer</h1><p>The dashboard is not built (no <code>web/dist</code>). "
    "Build it with <code>npm ci &amp;&amp; npm run build</code> in <code>web/</code>.</p>"
    "<p>The API answers meanwhile: <a href=/api/docs>/api/docs</a>, <a href=/api/openapi.json>/api/openapi.json"
    "</a>, <a href=/healthz>/healthz</a>. Authenticate with <code>Authorization: Bearer $(cat .qcl/admin.key)"
    "</code>.</p></html>"
)

"""Operations: /healthz, /readyz, /metrics, the OpenAPI document and docs page, the WebSocket, the dashboard.

/healthz says the process answers (nothing else is touched, so a slow dependency never gets it restarted);
/readyz says it can serve: the store answers, the bus is not failing, the model answers a tiny forward pass when a
model runtime is configured, and the instance is not shutting down.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import flask
import pybreaker
from simple_websocket import ConnectionClosed, Server
from wsproto.events import CloseConnection

from qcl.api.errors import ApiError
from qcl.api.openapi import build_spec, docs_page
from qcl.api.routing import ApiRoutes
from qcl.api.schemas import CheckResult, HealthResponse, ReadyResponse, Role, StreamQuery
from qcl.api.security import is_websocket_upgrade
from qcl.obs import metrics

if TYPE_CHECKING:
    from qcl.api.app import ApiContext

log = logging.getLogger(__name__)

WS_SUBPROTOCOL = "qcl.v1"
WS_PING_S = 25.0  # keeps idle connections open through proxies; finds dead clients
# Close codes of a refused key (4000-4999 are the application's, RFC 6455 §7.4.2): HTTP's status plus 4000.
WS_CLOSE_UNAUTHORIZED = 4401
WS_CLOSE_FORBIDDEN = 4403
_CLOSE_REASON_BYTES = 123  # a close frame's reason is at most 123 bytes of UTF-8
WS_CLOSE_WAIT_S = 2.0  # how long a refused client gets to answer our close frame


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
        _refresh_gauges(ctx)
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
        reason says why. Reconnecting with the same key is pointless."""
        if not is_websocket_upgrade(flask.request):
            raise ApiError(
                426, "websocket_required", "this URL speaks WebSocket only", headers={"Upgrade": "websocket"}
            )
        refusal: ApiError | None = flask.g.pop("ws_refusal", None)
        if refusal is not None:
            ws = Server.accept(flask.request.environ, subprotocols=[WS_SUBPROTOCOL])
            code = WS_CLOSE_UNAUTHORIZED if refusal.status == 401 else WS_CLOSE_FORBIDDEN
            _close_cleanly(ws, code, refusal.message)
            return _after_websocket(ws)
        last = query.last_seq
        header = flask.request.headers.get("Last-Event-ID", "")
        if last is None and header.isdigit():
            last = int(header)
        ws = Server.accept(flask.request.environ, subprotocols=[WS_SUBPROTOCOL], ping_interval=WS_PING_S)
        _stream_to(ws, ctx, last)
        return _after_websocket(ws)

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
        metrics.MODEL_UP.set(1 if model_ok else 0)
        checks["model"] = CheckResult(ok=model_ok, detail=detail)
    return checks


def _refresh_gauges(ctx: ApiContext) -> None:
    """Mirror other services' state into gauges at scrape time (they keep no Prometheus metrics themselves)."""
    services = ctx.services
    backlog = getattr(services.bus, "backlog", None)
    if callable(backlog):  # the memory bus knows its backlog; Pub/Sub's is in Cloud Monitoring
        metrics.QUEUE_DEPTH.labels(queue="bus").set(backlog())
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


def _stream_to(ws: Server, ctx: ApiContext, last: int | None) -> None:
    """Once accepted, the connection is the WebSocket's: whatever happens ends in a close, never an HTTP answer."""
    code, reason = 1001, "server shutting down; reconnect with last_seq"
    metrics.WEBSOCKET_CONNECTIONS.inc()
    try:
        head = ctx.log.head()
        if last is None or last > head:  # new client, or one from before the store was reset: start live
            if last is not None:
                resync = {"seq": head, "type": "resync", "data": {"reason": f"sequence {last} is unknown here"}}
                ws.send(json.dumps(resync))
            last = head
        ws.send(json.dumps({"seq": last, "type": "hello", "data": {"head": head}}))
        while ws.connected and not ctx.broadcaster.stopping:
            for event in ctx.broadcaster.after(last, timeout_s=1.0):
                ws.send(json.dumps(event, ensure_ascii=False))
                last = event["seq"]
            ws.receive(timeout=0)  # drains client frames (pings are answered by the library)
    except ConnectionClosed:
        pass  # the client closed, possibly before our first frame
    except Exception as exc:  # the store is down, or a bug: the client is told and may reconnect
        log.exception("websocket: stream failed")
        code, reason = 1011, f"stream failed ({type(exc).__name__}); reconnect with last_seq"
    finally:
        metrics.WEBSOCKET_CONNECTIONS.dec()
        if ws.connected:
            _close_cleanly(ws, code, reason)
        else:  # the client closed (its close frame was answered): end the TCP connection, or it idles as keep-alive
            _end_connection(ws)


def _close_cleanly(ws: Server, code: int, message: str) -> None:
    """Send a close frame and wait (up to WS_CLOSE_WAIT_S) for the client's: a socket dropped before the closing
    handshake completes reads as 1006 in browsers, without our code and reason (simple_websocket's `close` drops it
    at once)."""
    encoded = message.encode()
    if len(encoded) > _CLOSE_REASON_BYTES:
        message = encoded[: _CLOSE_REASON_BYTES - 3].decode(errors="ignore") + "..."
    ws.sock.send(ws.ws.send(CloseConnection(code, message)))
    deadline = time.monotonic() + WS_CLOSE_WAIT_S
    while ws.connected and time.monotonic() < deadline:  # the reader thread sees the client's close frame
        ws.event.wait(0.05)
    ws.connected = False
    _end_connection(ws)


def _end_connection(ws: Server) -> None:
    """After the closing handshake the server closes the TCP connection first (RFC 6455 §7.1.1); otherwise the HTTP
    server waits on it for a next request and the client for the end of the connection. A client that was quicker
    leaves nothing to shut down."""
    with contextlib.suppress(OSError):
        ws.sock.shutdown(socket.SHUT_RDWR)


def _after_websocket(ws: Server) -> flask.Response:
    """The connection was handed over to the WebSocket: tell the server not to write an HTTP answer on it (an
    answer written after the frames reaches a browser as garbage on the socket: it drops the connection as 1006 and
    loses the close code). Werkzeug treats a ConnectionError as a dropped connection and writes nothing; Gunicorn
    stops at StopIteration."""

    class Handled(flask.Response):
        def __call__(self, environ: Any, start_response: Any) -> Any:
            if ws.mode == "gunicorn":
                raise StopIteration()
            if ws.mode == "werkzeug":
                raise ConnectionError("the WebSocket has the connection; no HTTP answer")
            return super().__call__(environ, start_response)

    return Handled()


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

"""The Flask app: `create_app(services)` builds it; every request passes the same gate, in this order.

    from qcl.api import build_services, create_app
    app = create_app(build_services(settings, store=store, bus=bus))

1. a request id (the client's X-Request-Id when it is sane, else a new one), the trace of Google's front end
   (X-Cloud-Trace-Context) and the client's network (its address cut to /24 or /48 unless QCL_ANONYMIZE_IP=false)
   are bound to the request's log lines and audit entries;
2. the client address against the IP deny and allow lists (403);
3. CORS preflights are answered here, before any key is asked for;
4. the per-IP rate limit (429 + Retry-After) and the body size limit (413);
5. the route's role: no key or a bad one 401 (an expired one too), a role too low or a route outside the key's
   scope (its route tags) 403; then the per-key rate limit (429). Without an Authorization header, the dashboard's
   session cookie counts (qcl.api.sessions: a change needs its CSRF header too). The rate limits are the runtime
   settings' current version (qcl.api.runtime_settings). A WebSocket
   upgrade with a refused key is let through to its view, which completes the handshake and closes the socket with
   4401 or 4403 and the reason (browsers never see an HTTP status of a refused upgrade). A bearer that is a JWT is
   a Google ID token, not a key (qcl.api.oidc: deployed Cloud Workflows call with one).
After the view, every answer gets the security headers, CORS headers for allowed origins, its request id, and
is counted in the request metrics. Errors of any kind leave in the one error shape (qcl.api.errors).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any, Literal

import flask
from werkzeug.middleware.proxy_fix import ProxyFix

from qcl.api.access import IpLists
from qcl.api.context import ApiContext
from qcl.api.errors import ApiError, error_response, register_error_handlers
from qcl.api.keys import KeyRecord
from qcl.api.oidc import IdTokens, looks_like_jwt, not_accepted
from qcl.api.routing import ApiRoutes, Route
from qcl.api.security import add_cors_headers, add_security_headers, is_preflight, is_websocket_upgrade
from qcl.api.services import ApiServices
from qcl.api.state import ApiState
from qcl.api.stream import Broadcaster, EventLog
from qcl.obs import metrics
from qcl.obs.logging import bind_request, configure_audit_trail, unbind_request
from qcl.privacy.anonymize import client_address

log = logging.getLogger(__name__)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_TRACE = re.compile(r"^([0-9a-fA-F]{32})(?:/(\d+))?")


def create_app(services: ApiServices, *, start_stream: bool = True) -> flask.Flask:
    """The API app; `start_stream` starts the WebSocket stream's poller (tests of plain HTTP may skip it)."""
    from qcl.api import (
        routes_admin,
        routes_ai,
        routes_alerts,
        routes_auth,
        routes_data,
        routes_jobs,
        routes_logs,
        routes_nodes,
        routes_openai,
        routes_ops,
        routes_privacy,
        routes_tasks,
        routes_workflows,
    )

    settings = services.settings
    app = flask.Flask("qcl.api", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Traditional Chinese stays readable
    if settings.trusted_proxy_hops:
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    event_log = EventLog(services)
    ctx = ApiContext(services, ApiState(services), event_log, Broadcaster(event_log), ApiRoutes())
    for module in (
        routes_ops,
        routes_data,
        routes_ai,
        routes_openai,
        routes_tasks,
        routes_jobs,
        routes_admin,
        routes_privacy,
        routes_nodes,
        routes_auth,
        routes_workflows,
        routes_alerts,
        routes_logs,
    ):
        module.register(ctx.routes, ctx)
    ctx.routes.register(app)
    app.extensions["qcl"] = ctx
    register_error_handlers(app)
    configure_audit_trail(services.audit)
    if start_stream:
        ctx.broadcaster.start()
    metrics.BUILD_INFO.info({"version": services.version})

    by_endpoint = ctx.routes.by_endpoint()
    ip_lists = IpLists(settings.ip_allow, settings.ip_deny)
    id_tokens = IdTokens.from_settings(settings)  # Google ID tokens (deployed workflows), when an audience is set

    @app.before_request
    def gate() -> Any:
        request = flask.request
        flask.g.started = time.perf_counter()
        metrics.HTTP_IN_FLIGHT.inc()
        given = request.headers.get("X-Request-Id", "")
        flask.g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        trace, span = _trace(request.headers.get("X-Cloud-Trace-Context", ""), settings.project)
        client_ip = client_address(request.remote_addr, anonymize=settings.anonymize_ip)
        flask.g.log_token = bind_request(flask.g.request_id, trace=trace, span_id=span, client_ip=client_ip)

        refusal = ip_lists.refusal(request.remote_addr)
        if refusal:
            metrics.AUTH_FAILURES.labels(reason="ip_refused").inc()
            raise ApiError(403, "ip_refused", refusal)
        if is_preflight(request):
            return flask.Response(status=204)
        route = by_endpoint.get(request.endpoint or "")
        limited = route is None or route.rate_limited
        if limited:
            _limit("ip", f"ip:{request.remote_addr}")
        if request.content_length is not None and request.content_length > settings.max_request_bytes:
            raise ApiError(413, "payload_too_large", f"the body may be at most {settings.max_request_bytes} bytes")
        if route is not None and route.role is not None:
            try:
                flask.g.key = _authorise(route)
            except ApiError as exc:
                if not (route.websocket and exc.status in (401, 403) and is_websocket_upgrade(request)):
                    raise
                flask.g.ws_refusal = exc  # the view closes the socket with it
                return None
            if limited:
                _limit("key", f"key:{flask.g.key.id}")
        return None

    def _limit(scope: Literal["ip", "key"], bucket: str) -> None:
        def wait_s() -> float:  # the limit of the settings' current version, then its bucket: one store call
            return services.runtime.current().values.rate_limit(scope).wait_s(services.store, bucket)

        wait = services.breakers.call("store", wait_s)
        if wait > 0:
            metrics.RATE_LIMITED.labels(scope=scope).inc()
            raise ApiError(429, "rate_limited", f"too many requests for this {scope}; retry later", retry_after_s=wait)

    def _authorise(route: Route) -> Any:
        header = flask.request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        protocols = flask.request.headers.get("Sec-WebSocket-Protocol", "")
        if not header:  # browsers cannot set headers on a WebSocket: they offer the key as a subprotocol
            offered = [p.strip() for p in protocols.split(",")]
            presented = next((p.removeprefix("bearer.") for p in offered if p.startswith("bearer.")), "")
            scheme = "Bearer" if presented else ""
        challenge = {"WWW-Authenticate": 'Bearer realm="qcl"'}
        session = None if header or presented else services.sessions.from_cookie(flask.request)
        if session is not None:
            return _check_role(route, session)
        if scheme.lower() != "bearer" or not presented.strip():
            metrics.AUTH_FAILURES.labels(reason="missing").inc()
            raise ApiError(
                401, "unauthorized", "an API key is required: Authorization: Bearer <key>", headers=challenge
            )
        presented = presented.strip()
        if looks_like_jwt(presented):  # a Google ID token; its refusals name what is wrong with it
            if id_tokens is None:
                raise not_accepted()
            record: Any = id_tokens.verify(presented)
        else:
            record = services.breakers.call("store", services.keys.verify, presented)
        if record is None:
            metrics.AUTH_FAILURES.labels(reason="invalid").inc()
            raise ApiError(401, "unauthorized", "the API key is unknown or revoked", headers=challenge)
        return _check_role(route, record)

    def _check_role(route: Route, record: Any) -> Any:
        assert route.role is not None
        if isinstance(record, KeyRecord):
            _check_scope(record, route)
        if record.role.rank < route.role.rank:
            metrics.AUTH_FAILURES.labels(reason="forbidden").inc()
            raise ApiError(
                403, "forbidden", f"this needs the {route.role.value} role; key {record.id} is {record.role.value}"
            )
        return record

    def _check_scope(record: KeyRecord, route: Route) -> None:
        """An expired key is refused like a revoked one (401); a route outside the key's tags is forbidden (403)."""
        if record.expires_at is not None and record.expired(services.keys.now()):
            metrics.AUTH_FAILURES.labels(reason="expired").inc()
            raise ApiError(
                401,
                "key_expired",
                f"API key {record.id} expired at {record.expires_at.isoformat()}",
                headers={"WWW-Authenticate": 'Bearer realm="qcl", error="invalid_token"'},
            )
        if not record.reaches(route.tag):
            metrics.AUTH_FAILURES.labels(reason="out_of_scope").inc()
            raise ApiError(
                403,
                "out_of_scope",
                f"key {record.id} may reach only routes tagged {', '.join(record.tags or [])}; "
                f"{route.method} {route.path} is tagged {route.tag}",
            )

    @app.after_request
    def finish(response: flask.Response) -> flask.Response:
        add_security_headers(response)
        add_cors_headers(
            response, flask.request.headers.get("Origin"), settings.cors_origins, preflight=is_preflight(flask.request)
        )
        response.headers["X-Request-Id"] = flask.g.get("request_id", "")
        return response

    @app.teardown_request
    def account(exc: BaseException | None) -> None:
        started = flask.g.pop("started", None)
        if started is None:
            return
        metrics.HTTP_IN_FLIGHT.dec()
        request = flask.request
        rule = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
        status = str(flask.g.get("status", 500 if exc else 200))
        elapsed = time.perf_counter() - started
        metrics.HTTP_REQUESTS.labels(route=rule, method=request.method, status=status).inc()
        metrics.HTTP_LATENCY.labels(route=rule, method=request.method, status=status).observe(elapsed)
        token = flask.g.pop("log_token", None)
        if token is not None:
            unbind_request(token)

    @app.after_request
    def remember_status(response: flask.Response) -> flask.Response:
        flask.g.status = response.status_code
        if response.status_code >= 500:
            log.warning("%s %s answered %s", flask.request.method, flask.request.path, response.status_code)
        return response

    return app


def _trace(header: str, project: str) -> tuple[str | None, str | None]:
    """X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=1 -> ("projects/P/traces/TRACE_ID", SPAN_ID)."""
    match = _TRACE.match(header)
    if match is None:
        return None, None
    return f"projects/{project}/traces/{match.group(1).lower()}", match.group(2)


def context(app: flask.Flask) -> ApiContext:
    ctx: ApiContext = app.extensions["qcl"]
    return ctx


def shutdown(app: flask.Flask) -> None:
    """Stop the stream's poller and tell WebSocket clients to go (they resume elsewhere); /readyz turns 503."""
    ctx = context(app)
    ctx.draining = True
    ctx.broadcaster.stop()


__all__ = ["ApiContext", "context", "create_app", "error_response", "shutdown"]

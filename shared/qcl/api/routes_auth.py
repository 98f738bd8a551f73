"""The dashboard's sign-in: the one-time login URL `qcl up` prints becomes a session cookie (qcl.api.sessions)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import flask

from qcl.api.routing import ApiRoutes
from qcl.api.schemas import LoginRequest, LoginResponse, LogoutResponse, Role
from qcl.api.sessions import SESSION_COOKIE, Session, clear_cookie, set_cookie
from qcl.obs.logging import audit

if TYPE_CHECKING:
    from qcl.api.context import ApiContext


def register(routes: ApiRoutes, ctx: ApiContext) -> None:
    services = ctx.services

    @routes.route(
        "POST",
        "/api/auth/login",
        role=None,
        tag="auth",
        summary="Exchange a one-time login token for a session cookie",
        body=LoginRequest,
        responses={200: LoginResponse, 401: None},
    )
    def login(body: LoginRequest) -> flask.Response:
        """The token of the URL `qcl up` printed, good once and for minutes; 401 says whether it was used, expired or
        unknown. The answer sets the HttpOnly session cookie; the dashboard then calls like any client, adding the
        X-QCL-CSRF header to every change."""
        session_id, session = services.breakers.call("store", services.sessions.redeem, body.token)
        audit("session.opened", actor=session.id, target=session.role.value)
        answer = LoginResponse(role=session.role, session=session.id, expires_at=session.expires_at)
        response = flask.Response(answer.model_dump_json(), mimetype="application/json")
        set_cookie(response, session_id, services.sessions.session_ttl_s, secure=flask.request.is_secure)
        return response

    @routes.route(
        "POST",
        "/api/auth/logout",
        role=Role.VIEWER,
        tag="auth",
        summary="End the dashboard session (the cookie is cleared)",
        responses={200: LogoutResponse},
    )
    def logout() -> flask.Response:
        caller = flask.g.key
        ended = isinstance(caller, Session)
        if ended:
            services.sessions.end(flask.request.cookies[SESSION_COOKIE])
            audit("session.ended", actor=caller.id)
        response = flask.Response(LogoutResponse(signed_out=ended).model_dump_json(), mimetype="application/json")
        clear_cookie(response, secure=flask.request.is_secure)
        return response

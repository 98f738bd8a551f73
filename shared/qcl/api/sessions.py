"""Dashboard sessions: `qcl up` prints a one-time login URL; opening it signs the browser in as admin.

    token = sessions.issue_login()                  # qcl up: open http://127.0.0.1:8080/?login=<token>
    session_id, session = sessions.redeem(token)    # POST /api/auth/login {token} -> Set-Cookie: qcl_session=...

A login token is 32 random bytes, good once and for QCL_LOGIN_TOKEN_TTL_S (10 minutes); a session lasts
QCL_SESSION_TTL_S or until POST /api/auth/logout. The store keeps only sha256 digests of both (a copy of the store
cannot sign anyone in; plain sha256, not a keyed hash, because both carry 256 random bits and live minutes to
hours). Redeeming claims the token with put_if_absent, so of two browsers opening the same URL exactly one is
signed in, on Redis across instances too.

The session travels as a cookie: HttpOnly (scripts cannot read it), SameSite=Strict (other sites' pages never send
it) and Secure when the request came over https. Against cross-site request forgery a cookie-authenticated request
that changes something must also carry the header X-QCL-CSRF (any value): SameSite=Strict already keeps the cookie
off cross-site requests in current browsers, and the header is the second lock for older ones and for sibling
subdomains, which count as same-site: a form or an image cannot set a header, and a script on another origin can
only send one after a CORS preflight this API refuses. A custom header rather than a double-submit token: nothing
to store, hand out or rotate, and the dashboard's one request function adds it everywhere.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import flask

from qcl.api.errors import ApiError
from qcl.api.schemas import Role
from qcl.obs import metrics
from qcl.store.base import Store
from qcl.store.keys import SESSION, SESSION_LOGIN, SESSION_LOGIN_USED

SESSION_COOKIE = "qcl_session"
CSRF_HEADER = "X-QCL-CSRF"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
USED_MEMORY_S = 86400.0  # how long a used token is remembered, so a second use is told "used", not "unknown"


class LoginRefused(ApiError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(401, code, message)


@dataclass(frozen=True)
class Session:
    """A signed-in browser; stands where an API key's record stands (`id`, `role`, `name`)."""

    id: str  # "session:<first 8 hex of the cookie's digest>": the actor in audit lines, the rate-limit bucket
    role: Role
    name: str
    expires_at: datetime

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "role": self.role.value}


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Sessions:
    def __init__(
        self,
        store: Store,
        *,
        login_ttl_s: float,
        session_ttl_s: float,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.login_ttl_s = login_ttl_s
        self.session_ttl_s = session_ttl_s
        self._clock = clock or (lambda: datetime.now(UTC))

    def issue_login(self, role: Role = Role.ADMIN) -> str:
        token = secrets.token_urlsafe(32)
        expires = self._clock() + timedelta(seconds=self.login_ttl_s)
        record = json.dumps({"role": role.value, "expires_at": expires.isoformat()})
        self.store.put(SESSION_LOGIN.key(digest=_digest(token)), record, ttl_s=self.login_ttl_s)
        return token

    def redeem(self, token: str) -> tuple[str, Session]:
        """A new session for a live, unused login token; LoginRefused (401) saying which of those it is not."""
        digest = _digest(token)
        used_key = SESSION_LOGIN_USED.key(digest=digest)
        if self.store.get(used_key) is not None:
            raise _refused("login_used", "this login link was already used; `qcl up` prints a new one when restarted")
        raw = self.store.get(SESSION_LOGIN.key(digest=digest))
        if raw is None:
            raise _refused(
                "login_invalid", "this login link is unknown or expired; use the newest one `qcl up` printed"
            )
        record = json.loads(raw)
        if self._clock() >= datetime.fromisoformat(record["expires_at"]):
            raise _refused("login_expired", "this login link has expired (it is good for minutes after `qcl up`)")
        if not self.store.put_if_absent(used_key, "1", ttl_s=USED_MEMORY_S):
            raise _refused("login_used", "this login link was already used; `qcl up` prints a new one when restarted")
        self.store.delete(SESSION_LOGIN.key(digest=digest))
        session_id = secrets.token_urlsafe(32)
        expires = self._clock() + timedelta(seconds=self.session_ttl_s)
        body = json.dumps({"role": record["role"], "expires_at": expires.isoformat()})
        self.store.put(SESSION.key(digest=_digest(session_id)), body, ttl_s=self.session_ttl_s)
        return session_id, self._session(_digest(session_id), Role(record["role"]), expires)

    def verify(self, session_id: str) -> Session | None:
        """The live session of this cookie value, or None (unknown, ended or expired)."""
        digest = _digest(session_id)
        raw = self.store.get(SESSION.key(digest=digest))
        if raw is None:
            return None
        record = json.loads(raw)
        expires = datetime.fromisoformat(record["expires_at"])
        return None if self._clock() >= expires else self._session(digest, Role(record["role"]), expires)

    def end(self, session_id: str) -> None:
        self.store.delete(SESSION.key(digest=_digest(session_id)))

    @staticmethod
    def _session(digest: str, role: Role, expires: datetime) -> Session:
        return Session(id=f"session:{digest[:8]}", role=role, name="dashboard (login URL)", expires_at=expires)

    def from_cookie(self, request: flask.Request) -> Session | None:
        """The request's session, when it carries the cookie (None: no cookie); 401 for a dead one, 403 for a
        change without the CSRF header."""
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        session = self.verify(cookie)
        if session is None:
            metrics.AUTH_FAILURES.labels(reason="session_invalid").inc()
            raise ApiError(
                401, "session_expired", "the dashboard session has ended or expired; open a new login URL or use a key"
            )
        if request.method not in SAFE_METHODS and not request.headers.get(CSRF_HEADER):
            metrics.AUTH_FAILURES.labels(reason="csrf").inc()
            raise ApiError(403, "csrf", f"a change made with the session cookie needs the {CSRF_HEADER} header")
        return session


def set_cookie(response: flask.Response, session_id: str, ttl_s: float, *, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE, session_id, max_age=int(ttl_s), path="/", httponly=True, samesite="Strict", secure=secure
    )


def clear_cookie(response: flask.Response, *, secure: bool) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Strict", secure=secure)


def _refused(code: str, message: str) -> LoginRefused:
    metrics.AUTH_FAILURES.labels(reason=code).inc()
    return LoginRefused(code, message)

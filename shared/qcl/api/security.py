"""Response headers every answer carries, and CORS for the origins the settings allow.

The Content-Security-Policy is exactly what the dashboard needs (React + Material UI + Monaco, served from this
origin; web/README.md, measured by its browser tests, which fail on any violation): scripts, images, fonts (Monaco's
codicon file) and workers (Monaco's editor workers, built as files) from this origin only, nothing as data: or
blob:; inline styles allowed because Material UI (emotion) and Monaco inject style elements at run time; API and
WebSocket calls to this origin only ('self' covers ws:/wss: to the same host in CSP Level 3 browsers); no framing,
no plugins. web/csp.ts holds the same policy for `vite preview`. The microphone stays available to this origin for
the dashboard's voice input.
"""

from __future__ import annotations

import flask

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",  # two years; browsers ignore it on http
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), geolocation=(), payment=(), microphone=(self)",
}
CORS_ALLOW_HEADERS = "Authorization, Content-Type, X-Request-Id, Last-Event-ID"
CORS_MAX_AGE_S = "600"


def add_security_headers(response: flask.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if response.mimetype == "application/json":
        response.headers.setdefault("Cache-Control", "no-store")  # answers can carry keys or private data


def is_preflight(request: flask.Request) -> bool:
    return (
        request.method == "OPTIONS"
        and "Origin" in request.headers
        and "Access-Control-Request-Method" in request.headers
    )


def is_websocket_upgrade(request: flask.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def add_cors_headers(response: flask.Response, origin: str | None, allowed: list[str], *, preflight: bool) -> None:
    """Allow `origin` when the settings list it; an origin not listed gets no CORS headers (the browser refuses)."""
    response.vary.add("Origin")
    if origin is None or origin not in allowed:
        return
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = "X-Request-Id, Retry-After"
    if preflight:
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, PATCH, DELETE, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = CORS_ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = CORS_MAX_AGE_S

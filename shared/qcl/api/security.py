"""Response headers every answer carries, and CORS for the origins the settings allow.

The Content-Security-Policy fits the dashboard (React + Material UI + Monaco, served from this origin): scripts
only from this origin; inline styles allowed because Material UI (emotion) injects style elements at run time;
workers from this origin or blob: (Monaco's editor workers); API and WebSocket calls to this origin only
('self' covers ws:/wss: to the same host in CSP Level 3 browsers); no framing, no plugins. The microphone stays
available to this origin for the dashboard's voice input.
"""

from __future__ import annotations

import flask

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
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


def add_cors_headers(response: flask.Response, origin: str | None, allowed: list[str], *, preflight: bool) -> None:
    """Allow `origin` when the settings list it; an origin not listed gets no CORS headers (the browser refuses)."""
    response.vary.add("Origin")
    if origin is None or origin not in allowed:
        return
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = "X-Request-Id, Retry-After"
    if preflight:
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = CORS_ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = CORS_MAX_AGE_S

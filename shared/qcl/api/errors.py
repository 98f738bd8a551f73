"""One error shape for every 4xx and 5xx: `{"error": {"code", "message", "field"?, "request_id"}}`.

Except under /v1/, the OpenAI-compatible routes, where the same errors leave in OpenAI's shape
(`{"error": {"message", "type", "param", "code"}}`, qcl.api.openai_schemas) so that OpenAI's clients read them.

Raise `ApiError` anywhere in a request; Werkzeug's HTTP errors (404, 405, 413, ...) and anything unexpected are
mapped to the same shape at one boundary (`register_error_handlers`). An unexpected exception is logged with its
stack trace and answered 500 with the request id; the client never sees the trace.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import flask
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from qcl.api.openai_schemas import OPENAI_PREFIX, openai_error_body

log = logging.getLogger(__name__)

# Codes for Werkzeug's own errors; our own errors name theirs where they are raised.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    411: "length_required",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    429: "rate_limited",
    431: "headers_too_large",
    500: "internal_error",
    501: "not_implemented",
    503: "unavailable",
}


class ApiError(Exception):
    """An answer other than success, with what the client needs to act on it."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        retry_after_s: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})
        if retry_after_s is not None:
            self.headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))


def unavailable(what: str, detail: str, retry_after_s: float | None = None) -> ApiError:
    """503 for a piece the endpoint needs that is absent or failing (`what`: narrator, store, bus, model...)."""
    return ApiError(503, f"{what}_unavailable", detail, retry_after_s=retry_after_s)


def from_validation_error(exc: ValidationError, *, location: str = "") -> ApiError:
    """422 naming the first invalid field (dotted path, prefixed by `location` such as "query")."""
    first = exc.errors()[0]
    if first["type"] == "json_invalid":
        return ApiError(400, "invalid_json", f"request body is not valid JSON: {first['ctx'].get('error', '')}")
    path = ".".join(str(part) for part in first["loc"] if part not in ("function-after", "tagged-union"))
    field = ".".join(part for part in (location, path) if part) or None
    more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
    return ApiError(422, "validation_error", f"{field or 'body'}: {first['msg']}{more}", field=field)


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    error["request_id"] = flask.g.get("request_id", "")
    return {"error": error}


def error_response(
    status: int, code: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> flask.Response:
    if flask.request.path.startswith(OPENAI_PREFIX):
        status, body = openai_error_body(status, code, message, field, flask.g.get("request_id", ""))
        response = flask.jsonify(body)
    else:
        response = flask.jsonify(error_body(code, message, field))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def register_error_handlers(app: flask.Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> flask.Response:
        return error_response(exc.status, exc.code, exc.message, exc.field, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> flask.Response:
        status = exc.code or 500
        headers = {name: value for name, value in exc.get_headers() if name.lower() in ("allow", "retry-after")}
        message = exc.description or exc.name
        return error_response(status, _HTTP_CODES.get(status, "http_error"), message, headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> flask.Response:
        log.exception("unexpected error answering %s %s", flask.request.method, flask.request.path)
        request_id = flask.g.get("request_id", "")
        return error_response(500, "internal_error", f"internal error; quote request id {request_id} when reporting it")

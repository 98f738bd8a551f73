"""The OpenAPI 3.1 document, generated from the route declarations and their pydantic models, and a docs page.

    curl http://127.0.0.1:8080/api/openapi.json      # the contract the dashboard and schemathesis use
    open http://127.0.0.1:8080/api/docs              # the same, as a page people read

Pydantic writes JSON Schema 2020-12, which OpenAPI 3.1 uses as is; request models are described as they
validate, response models as they serialise. Every operation documents its error answers with the one error
shape (`default`), 401/403 where it needs a key, 429 with Retry-After where it is rate limited.
"""

from __future__ import annotations

import html
from typing import Any

from pydantic import TypeAdapter

from qcl.api.openai_schemas import OPENAI_PREFIX, OpenAIErrorBody
from qcl.api.routing import Route
from qcl.api.schemas import ErrorBody

_ERROR = {"$ref": "#/components/schemas/ErrorBody"}
_OPENAI_ERROR = {"$ref": "#/components/schemas/OpenAIErrorBody"}  # the /v1 routes answer errors as OpenAI does
_STATUS_TEXT = {
    101: "Switching Protocols: the WebSocket is open",
    200: "OK",
    201: "Created",
    202: "Accepted",
    400: "The body is not valid JSON",
    401: "No API key, or one that is unknown or revoked",
    403: "The key's role may not do this, or the client address is refused",
    404: "Not found",
    409: "Conflicts with the current state; the message says what to do",
    413: "The body is larger than the limit",
    415: "The body is not JSON",
    422: "A field is invalid; `field` names it",
    426: "Upgrade Required: this URL speaks WebSocket only",
    429: "Rate limited; retry after Retry-After seconds",
    503: "A dependency is unavailable or busy; Retry-After when known",
}


def _media(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _non_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent rather than null: drop the null branch pydantic writes for optional fields."""
    options = schema.get("anyOf")
    if options:
        rest = [option for option in options if option != {"type": "null"}]
        if len(rest) == 1:
            return {**{k: v for k, v in schema.items() if k not in ("anyOf", "default")}, **rest[0]}
    return {k: v for k, v in schema.items() if k != "default" or v is not None}


def build_spec(routes: list[Route], *, version: str, title: str = "Qubic AI Compute Layer API") -> dict[str, Any]:
    inputs: list[tuple[Any, Any, TypeAdapter[Any]]] = [
        ("error", "serialization", TypeAdapter(ErrorBody)),
        ("openai_error", "serialization", TypeAdapter(OpenAIErrorBody)),
    ]
    for route in routes:
        if route.query is not None:
            inputs.append((("query", route.endpoint), "validation", TypeAdapter(route.query)))
        if route.body is not None:
            inputs.append((("body", route.endpoint), "validation", TypeAdapter(route.body)))
        for status, model in route.responses.items():
            if model is not None and _media(model) is None:
                inputs.append((("response", route.endpoint, status), "serialization", TypeAdapter(model)))
    schemas, defs = TypeAdapter.json_schemas(inputs, ref_template="#/components/schemas/{model}")
    components = defs.get("$defs", {})

    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Network health, grounded AI narration, tasks, oracle attestations and nodes of the "
            "Qubic AI Compute Layer. Authenticate with `Authorization: Bearer <key>` (`qcl keys create`).",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "an API key"}},
        },
    }


def _operation(route: Route, schemas: dict[Any, Any], components: dict[str, Any]) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": schema} for name, schema in route.path_params.items()
    ]
    if route.query is not None:
        ref = schemas[(("query", route.endpoint), "validation")]["$ref"].rsplit("/", 1)[-1]
        query_schema = components[ref]
        required = set(query_schema.get("required", []))
        for name, prop in query_schema.get("properties", {}).items():
            parameters.append({"name": name, "in": "query", "required": name in required, "schema": _non_null(prop)})
    operation: dict[str, Any] = {
        "operationId": route.endpoint,
        "summary": route.summary,
        "tags": [route.tag],
        "security": [] if route.role is None else [{"bearer": []}],
        "responses": {},
    }
    if route.description:
        operation["description"] = route.description
    if route.role is not None:
        operation["description"] = f"{operation.get('description', '')}\n\nRole: {route.role.value} or above.".strip()
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas[(("body", route.endpoint), "validation")]}},
        }
    responses = operation["responses"]
    for status, model in route.responses.items():
        entry: dict[str, Any] = {"description": _STATUS_TEXT.get(status, "OK")}
        if _media(model):
            entry["content"] = {model: {"schema": {"type": "string"}}}
        elif model is not None:
            entry["content"] = {
                "application/json": {"schema": schemas[(("response", route.endpoint, status), "serialization")]}
            }
        if status == 200 and route.event_stream:
            entry.setdefault("content", {})["text/event-stream"] = {"schema": {"type": "string"}}
        responses[str(status)] = entry
    error_schema = _OPENAI_ERROR if route.path.startswith(OPENAI_PREFIX) else _ERROR
    errors = [401, 403] if route.role is not None else [403]
    errors += [429] if route.rate_limited else []
    errors += [400, 413, 415, 422] if route.body is not None else []
    errors += [422] if route.query is not None or route.path_params else []
    if error_schema is _OPENAI_ERROR:  # OpenAI answers an invalid field 400, not 422
        errors = [400 if status == 422 else status for status in errors]
    for status in errors:
        entry = {"description": _STATUS_TEXT[status], "content": {"application/json": {"schema": error_schema}}}
        if status == 429:
            entry["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
        responses.setdefault(str(status), entry)
    responses["default"] = {
        "description": "Any other error, in the one error shape",
        "content": {"application/json": {"schema": error_schema}},
    }
    return operation


def docs_page(spec: dict[str, Any]) -> str:
    """The document as a plain page (no scripts: the CSP forbids foreign ones, and none are needed)."""
    rows = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            params = ", ".join(p["name"] for p in op.get("parameters", []))
            body = "JSON body" if "requestBody" in op else ""
            role = "public" if not op["security"] else op.get("description", "").rsplit("Role: ", 1)[-1]
            statuses = ", ".join(code for code in op["responses"] if code != "default")
            rows.append(
                f"<tr><td><code>{method.upper()} {html.escape(path)}</code></td><td>{html.escape(op['summary'])}"
                f"</td><td>{html.escape(role)}</td><td>{html.escape(' '.join(x for x in (params, body) if x))}</td>"
                f"<td>{statuses}</td></tr>"
            )
    title = html.escape(spec["info"]["title"])
    return (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem}td,th{padding:.3rem .6rem;text-align:left;"
        "border-bottom:1px solid #ddd}code{white-space:nowrap}</style>"
        f"<h1>{title} <small>{html.escape(spec['info']['version'])}</small></h1>"
        f"<p>{html.escape(spec['info']['description'])} Machine-readable: <a href=/api/openapi.json>"
        "/api/openapi.json</a> (OpenAPI 3.1). Errors: <code>{error: {code, message, field?, request_id}}</code>.</p>"
        "<table><tr><th>endpoint</th><th>what</th><th>role</th><th>input</th><th>answers</th></tr>"
        + "".join(rows)
        + "</table></html>"
    )

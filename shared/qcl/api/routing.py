"""Routes that declare everything about themselves: role, query and body models, responses.

    routes = ApiRoutes()

    @routes.route("GET", "/api/insights", role=Role.VIEWER, tag="ai", summary="Recent narratives and answers",
                  query=LimitQuery, responses={200: InsightsResponse})
    def insights(query: LimitQuery) -> InsightsResponse: ...

The declaration is used three times: Flask's URL map, the authorisation check before every request (a route
without a role is public), and the OpenAPI document (qcl.api.openapi). A view receives its parsed `query` and
`body`; what it returns (a pydantic model, optionally with a status and headers) is serialised as JSON.
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import flask
from pydantic import BaseModel, TypeAdapter, ValidationError

from qcl.api.errors import ApiError, from_validation_error
from qcl.api.schemas import Role

View = Callable[..., Any]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as OpenAPI writes it: /api/tasks/{task_id}
    endpoint: str
    role: Role | None  # None: public
    tag: str
    summary: str
    description: str
    query: type[BaseModel] | None
    body: Any  # a model, a union of models, or None
    responses: dict[int, Any]  # status -> model, or a media type string for non-JSON bodies
    path_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    rate_limited: bool = True
    websocket: bool = False  # also matched for WebSocket upgrades (Werkzeug routes those to websocket rules only)
    event_stream: bool = False  # 200 may also be text/event-stream, when the client's Accept asks for it

    @property
    def flask_rule(self) -> str:
        return re.sub(r"\{(\w+)\}", r"<\1>", self.path)


class ApiRoutes:
    def __init__(self) -> None:
        self.routes: list[Route] = []
        self._views: dict[str, View] = {}

    def route(
        self,
        method: str,
        path: str,
        *,
        role: Role | None,
        tag: str,
        summary: str,
        responses: dict[int, Any],
        query: type[BaseModel] | None = None,
        body: Any = None,
        path_params: dict[str, dict[str, Any]] | None = None,
        rate_limited: bool = True,
        websocket: bool = False,
        event_stream: bool = False,
    ) -> Callable[[View], View]:
        def decorator(view: View) -> View:
            route = Route(
                method=method,
                path=path,
                endpoint=view.__name__,
                role=role,
                tag=tag,
                summary=summary,
                description=inspect.cleandoc(view.__doc__ or ""),
                query=query,
                body=body,
                responses=responses,
                path_params=path_params or {},
                rate_limited=rate_limited,
                websocket=websocket,
                event_stream=event_stream,
            )
            self.routes.append(route)
            self._views[route.endpoint] = view
            return view

        return decorator

    def by_endpoint(self) -> dict[str, Route]:
        return {route.endpoint: route for route in self.routes}

    def register(self, app: flask.Flask) -> None:
        for route in self.routes:
            view = _wrap(route, self._views[route.endpoint])
            app.add_url_rule(route.flask_rule, route.endpoint, view, methods=[route.method])
            if route.websocket:
                app.add_url_rule(route.flask_rule, route.endpoint, view, methods=[route.method], websocket=True)


def _wrap(route: Route, view: View) -> View:
    body_parser = _body_parser(route.body) if route.body is not None else None

    def handler(**path_values: str) -> Any:
        for name, value in path_values.items():
            pattern = route.path_params.get(name, {}).get("pattern")
            if pattern and not re.fullmatch(pattern.strip("^$"), value):
                raise ApiError(422, "validation_error", f"{name}: must match {pattern}", field=name)
        kwargs: dict[str, Any] = dict(path_values)
        if route.query is not None:
            try:
                kwargs["query"] = route.query.model_validate(flask.request.args.to_dict())
            except ValidationError as exc:
                raise from_validation_error(exc) from None
        if body_parser is not None:
            kwargs["body"] = body_parser()
        return _to_response(view(**kwargs))

    handler.__name__ = route.endpoint
    return handler


def _members(body: Any) -> list[type[BaseModel]]:
    """The models of a plain union (A | B); [] for anything else."""
    if isinstance(body, types.UnionType) or typing.get_origin(body) is typing.Union:
        return [m for m in typing.get_args(body) if isinstance(m, type) and issubclass(m, BaseModel)]
    return []


def _body_parser(body: Any) -> Callable[[], Any]:
    adapter: TypeAdapter[Any] = TypeAdapter(body)
    members = _members(body)

    def parse() -> Any:
        request = flask.request
        if request.mimetype != "application/json":
            raise ApiError(
                415, "unsupported_media_type", "the request body must be JSON (Content-Type: application/json)"
            )
        raw = request.get_data(cache=False)
        try:
            return adapter.validate_json(raw)
        except ValidationError as exc:
            if members:
                raise _union_error(members, raw) from None
            raise _tagged_error(exc, raw) from None

    return parse


def _union_error(members: list[type[BaseModel]], raw: bytes) -> ApiError:
    """For `A | B`, the error of the member the body was meant to be (the one whose required fields it names)."""
    try:
        body = json.loads(raw)
    except ValueError as exc:
        return ApiError(400, "invalid_json", f"request body is not valid JSON: {exc}")
    choices = [m for m in members if isinstance(body, dict) and _required(m) & set(body)]
    if len(choices) == 1:
        try:
            choices[0].model_validate(body)
        except ValidationError as exc:
            return from_validation_error(exc)
    wanted = " or ".join(sorted("+".join(sorted(_required(m))) for m in members))
    return ApiError(
        422, "validation_error", f"body: give exactly one of: {wanted}", field=sorted(_required(members[0]))[0]
    )


def _required(model: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items() if info.is_required()}


def _tagged_error(exc: ValidationError, raw: bytes) -> ApiError:
    """A discriminated union puts the tag first in an error's location: drop it; a bad tag names the tag field."""
    first = exc.errors()[0]
    if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
        tag = str(first.get("ctx", {}).get("discriminator", "kind")).strip("'")
        return ApiError(422, "validation_error", f"{tag}: {first['msg']}", field=tag)
    error = from_validation_error(exc)
    try:
        body = json.loads(raw)
    except ValueError:
        return error
    loc = first["loc"]
    if isinstance(body, dict) and len(loc) > 1 and loc[0] in body.values() and error.field:
        field_path = ".".join(str(part) for part in loc[1:])
        return ApiError(422, "validation_error", f"{field_path}: {first['msg']}", field=field_path)
    return error


def _to_response(result: Any) -> Any:
    status: int = 200
    headers: dict[str, str] = {}
    if isinstance(result, tuple):
        result, status, *rest = result
        headers = rest[0] if rest else {}
    if isinstance(result, BaseModel):
        response = flask.Response(result.model_dump_json(), status=status, mimetype="application/json")
    elif isinstance(result, flask.Response):
        response = result
        response.status_code = status if status != 200 else response.status_code
    else:
        response = flask.Response(json.dumps(result, ensure_ascii=False), status=status, mimetype="application/json")
    for name, value in headers.items():
        response.headers[name] = value
    return response

"""Keys: who the caller is (any role); admin: API keys and the effective settings. Every change is audited with
the acting key's id."""

from __future__ import annotations

from typing import TYPE_CHECKING

import flask
from pydantic import SecretStr

from qcl.api.errors import ApiError
from qcl.api.keys import KeyRecord, UnknownKeyError
from qcl.api.routing import ApiRoutes
from qcl.api.schemas import KeyCreated, KeyCreateRequest, KeysResponse, KeyView, Role, SettingsResponse, WhoAmI

if TYPE_CHECKING:
    from qcl.api.app import ApiContext

_KEY_ID = {"type": "string", "pattern": r"^[0-9a-f]{8}$"}


def _view(record: KeyRecord) -> KeyView:
    return KeyView.model_validate(record.public())


def register(routes: ApiRoutes, ctx: ApiContext) -> None:
    services = ctx.services

    @routes.route(
        "GET",
        "/api/auth/whoami",
        role=Role.VIEWER,
        tag="auth",
        summary="The key in use: its id and role",
        responses={200: WhoAmI},
    )
    def whoami() -> WhoAmI:
        """What a client may do with its key (the dashboard asks this instead of trying an admin-only route)."""
        return WhoAmI(key_id=flask.g.key.id, role=flask.g.key.role)

    @routes.route(
        "GET",
        "/api/admin/keys",
        role=Role.ADMIN,
        tag="admin",
        summary="API keys (never the keys themselves)",
        responses={200: KeysResponse},
    )
    def list_keys() -> KeysResponse:
        return KeysResponse(keys=[_view(r) for r in services.keys.list()])

    @routes.route(
        "POST",
        "/api/admin/keys",
        role=Role.ADMIN,
        tag="admin",
        summary="Create an API key; the key is shown once",
        body=KeyCreateRequest,
        responses={201: KeyCreated},
    )
    def create_key(body: KeyCreateRequest) -> tuple[KeyCreated, int]:
        record, key = services.keys.create(body.role, body.name, created_by=f"key:{flask.g.key.id}")
        return KeyCreated(**_view(record).model_dump(), key=key), 201

    @routes.route(
        "DELETE",
        "/api/admin/keys/{key_id}",
        role=Role.ADMIN,
        tag="admin",
        summary="Revoke an API key",
        responses={200: KeyView, 404: None},
        path_params={"key_id": _KEY_ID},
    )
    def revoke_key(key_id: str) -> KeyView:
        try:
            record = services.keys.revoke(key_id, revoked_by=f"key:{flask.g.key.id}")
        except UnknownKeyError as exc:
            raise ApiError(404, "not_found", str(exc)) from None
        return _view(record)

    @routes.route(
        "GET",
        "/api/admin/settings",
        role=Role.ADMIN,
        tag="admin",
        summary="The effective settings (secrets redacted)",
        responses={200: SettingsResponse},
    )
    def show_settings() -> SettingsResponse:
        values = {}
        for name, value in services.settings:
            values[name] = "**redacted**" if isinstance(value, SecretStr) else value
        return SettingsResponse(settings=values)

"""Keys: who the caller is (any role); admin: API keys (with their scope), the effective settings, the runtime
settings' versions (change, diff, roll back) and the hash-chained audit trail. Every change is audited with the acting
key's id."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import flask
from pydantic import SecretStr

from qcl.api.errors import ApiError
from qcl.api.keys import KeyRecord, RevokedKeyError, UnknownKeyError
from qcl.api.routing import ApiRoutes
from qcl.api.runtime_settings import SettingError, SettingsVersion, UnknownVersionError, diff
from qcl.api.schemas import (
    AuditEntry,
    AuditQuery,
    AuditResponse,
    AuditVerifyResponse,
    KeyCreated,
    KeyCreateRequest,
    KeysResponse,
    KeyUpdateRequest,
    KeyView,
    Role,
    RuntimeSettingsChange,
    SettingChange,
    SettingsDiffQuery,
    SettingsDiffResponse,
    SettingsResponse,
    SettingsVersionsResponse,
    WhoAmI,
)

if TYPE_CHECKING:
    from qcl.api.context import ApiContext

_KEY_ID = {"type": "string", "pattern": r"^[0-9a-f]{8}$"}
_VERSION = {"type": "string", "pattern": r"^[0-9]{1,9}$"}


def _view(record: KeyRecord) -> KeyView:
    return KeyView.model_validate(record.public())


def register(routes: ApiRoutes, ctx: ApiContext) -> None:
    services = ctx.services

    def check_scope(expires_at: datetime | None, tags: list[str] | None) -> None:
        """A scope that names a tag no route has, or an expiry already past, is a mistake: 422 naming it."""
        if expires_at is not None and expires_at <= services.keys.now():
            raise ApiError(422, "validation_error", "expires_at: must be in the future", field="expires_at")
        known = sorted({route.tag for route in routes.routes})
        unknown = sorted(set(tags or []) - set(known))
        if unknown:
            message = f"tags: no route is tagged {', '.join(unknown)}; tags: {', '.join(known)}"
            raise ApiError(422, "validation_error", message, field="tags")

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
        """A key may be scoped: `expires_at` (refused with 401 from then on) and `tags` (the route tags it may reach,
        403 elsewhere; /api/auth/whoami always)."""
        check_scope(body.expires_at, body.tags)
        record, key = services.keys.create(
            body.role, body.name, created_by=f"key:{flask.g.key.id}", expires_at=body.expires_at, tags=body.tags
        )
        return KeyCreated(**_view(record).model_dump(), key=key), 201

    @routes.route(
        "PATCH",
        "/api/admin/keys/{key_id}",
        role=Role.ADMIN,
        tag="admin",
        summary="Change an API key's name, role or scope",
        body=KeyUpdateRequest,
        responses={200: KeyView, 404: None, 409: None},
        path_params={"key_id": _KEY_ID},
    )
    def update_key(key_id: str, body: KeyUpdateRequest) -> KeyView:
        """Only the fields given change; `expires_at: null` or `tags: null` lift that limit. A revoked key: 409."""
        changes = body.model_dump(include=body.model_fields_set)
        if changes.get("role", "") is None or changes.get("name", "") is None:
            field = "role" if changes.get("role", "") is None else "name"
            raise ApiError(422, "validation_error", f"{field}: may not be null", field=field)
        check_scope(body.expires_at, body.tags)
        try:
            record = services.keys.update(key_id, changes, updated_by=f"key:{flask.g.key.id}")
        except UnknownKeyError as exc:
            raise ApiError(404, "not_found", str(exc)) from None
        except RevokedKeyError as exc:
            raise ApiError(409, "key_revoked", str(exc)) from None
        return _view(record)

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
        """The process's settings with the runtime settings' current version over them (what applies now)."""
        values = {}
        for name, value in services.settings:
            values[name] = "**redacted**" if isinstance(value, SecretStr) else value
        return SettingsResponse(settings=values | services.runtime.current().values.model_dump())

    def _version(number: str) -> SettingsVersion:
        try:
            return services.runtime.version(int(number))
        except UnknownVersionError as exc:
            raise ApiError(404, "not_found", str(exc)) from None

    @routes.route(
        "GET",
        "/api/admin/settings/versions",
        role=Role.ADMIN,
        tag="admin",
        summary="The runtime settings' versions: who changed what, when",
        responses={200: SettingsVersionsResponse},
    )
    def settings_versions() -> SettingsVersionsResponse:
        current = services.runtime.current()
        return SettingsVersionsResponse(current=current.version, versions=services.runtime.versions())

    @routes.route(
        "POST",
        "/api/admin/settings/versions",
        role=Role.ADMIN,
        tag="admin",
        summary="Change runtime settings (a new version; applies to the next request)",
        body=RuntimeSettingsChange,
        responses={201: SettingsVersion, 400: None},
    )
    def change_settings(body: RuntimeSettingsChange) -> tuple[SettingsVersion, int]:
        """Rate limits (per key, per IP) and the log level; a bad or unknown setting is a 400 naming it."""
        try:
            return services.runtime.change(body.values, by=f"key:{flask.g.key.id}"), 201
        except SettingError as exc:
            raise ApiError(400, "invalid_setting", str(exc), field=exc.setting) from None

    @routes.route(
        "GET",
        "/api/admin/settings/versions/{version}",
        role=Role.ADMIN,
        tag="admin",
        summary="One runtime settings version",
        responses={200: SettingsVersion, 404: None},
        path_params={"version": _VERSION},
    )
    def settings_version(version: str) -> SettingsVersion:
        return _version(version)

    @routes.route(
        "POST",
        "/api/admin/settings/versions/{version}/rollback",
        role=Role.ADMIN,
        tag="admin",
        summary="Roll back to a version (recorded as a new version with its values)",
        responses={201: SettingsVersion, 404: None},
        path_params={"version": _VERSION},
    )
    def rollback_settings(version: str) -> tuple[SettingsVersion, int]:
        target = _version(version)
        return services.runtime.rollback(target.version, by=f"key:{flask.g.key.id}"), 201

    @routes.route(
        "GET",
        "/api/admin/settings/diff",
        role=Role.ADMIN,
        tag="admin",
        summary="The settings that differ between two versions",
        query=SettingsDiffQuery,
        responses={200: SettingsDiffResponse, 404: None},
    )
    def settings_diff(query: SettingsDiffQuery) -> SettingsDiffResponse:
        before, after = _version(str(query.from_)), _version(str(query.to))
        changes = [SettingChange(**change) for change in diff(before, after)]
        return SettingsDiffResponse(from_version=before.version, to_version=after.version, changes=changes)

    @routes.route(
        "GET",
        "/api/admin/audit",
        role=Role.ADMIN,
        tag="admin",
        summary="The audit trail's entries, oldest first, filtered by time, actor and action",
        query=AuditQuery,
        responses={200: AuditResponse},
    )
    def audit_entries(query: AuditQuery) -> AuditResponse:
        entries = services.audit.entries(since=query.since, actor=query.actor, action=query.action)
        return AuditResponse(entries=[AuditEntry.model_validate(e) for e in entries[-query.limit :]])

    @routes.route(
        "GET",
        "/api/admin/audit/verify",
        role=Role.ADMIN,
        tag="admin",
        summary="Check the audit trail's hash chain: ok, or the first broken entry",
        responses={200: AuditVerifyResponse},
    )
    def audit_verify() -> AuditVerifyResponse:
        """What `qcl audit verify` says: every entry's hash and link, and whether entries are missing at the end."""
        return AuditVerifyResponse.model_validate(services.audit.verify().__dict__)

"""API keys' scope (expiry, route tags), changing a key (PATCH) and revoking it, through the real request gate."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from qcl.api.schemas import Role
from tests.integration.test_api_fixtures import Api, TemplateNarrator, make_api


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    instance = make_api(tmp_path, narrator=TemplateNarrator())
    yield instance
    instance.bus.close()


def _create(api: Api, **body: Any) -> dict[str, Any]:
    response = api.client.post(
        "/api/admin/keys", headers=api.headers(Role.ADMIN), json={"role": "viewer", "name": "scoped", **body}
    )
    assert response.status_code == 201, response.json
    created: dict[str, Any] = response.json
    return created


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _patch(api: Api, key_id: str, body: dict[str, Any]) -> Any:
    return api.client.patch(f"/api/admin/keys/{key_id}", headers=api.headers(Role.ADMIN), json=body)


def test_a_key_limited_to_tags_reaches_those_and_whoami_and_is_refused_elsewhere(api: Api) -> None:
    created = _create(api, tags=["nodes"])
    assert created["tags"] == ["nodes"]
    assert api.client.get("/api/nodes", headers=_bearer(created["key"])).status_code == 200
    assert api.client.get("/api/auth/whoami", headers=_bearer(created["key"])).json["key_id"] == created["id"]
    refused = api.client.get("/api/insights", headers=_bearer(created["key"]))
    assert refused.status_code == 403
    error = refused.json["error"]
    assert error["code"] == "out_of_scope"
    assert "tagged nodes" in error["message"] and "/api/insights is tagged ai" in error["message"]


def test_a_scope_does_not_lift_the_role(api: Api) -> None:
    created = _create(api, tags=["admin"])
    refused = api.client.get("/api/admin/keys", headers=_bearer(created["key"]))
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"


def test_an_expired_key_is_refused_with_401_saying_when_it_expired(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    expires = datetime.now(UTC) + timedelta(minutes=5)
    created = _create(api, expires_at=expires.isoformat())
    assert api.client.get("/api/nodes", headers=_bearer(created["key"])).status_code == 200
    monkeypatch.setattr(api.services.keys, "_clock", lambda: expires + timedelta(seconds=1))
    refused = api.client.get("/api/nodes", headers=_bearer(created["key"]))
    assert refused.status_code == 401
    assert refused.json["error"]["code"] == "key_expired"
    assert expires.isoformat()[:19] in refused.json["error"]["message"]
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"tags": ["nodes", "nosuchtag"]}, "tags", "no route is tagged nosuchtag"),
        ({"tags": []}, "tags", "at least 1"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at", "must be in the future"),
        ({"expires_at": "2099-01-01T00:00:00"}, "expires_at", "timezone"),
    ],
)
def test_a_bad_scope_is_a_422_naming_the_field_and_creates_nothing(
    api: Api, body: dict[str, Any], field: str, words: str
) -> None:
    before = len(api.services.keys.list())
    response = api.client.post(
        "/api/admin/keys", headers=api.headers(Role.ADMIN), json={"role": "viewer", "name": "bad", **body}
    )
    assert response.status_code == 422
    assert response.json["error"]["field"] == field and words in response.json["error"]["message"]
    assert len(api.services.keys.list()) == before


def test_patch_changes_role_and_scope_and_the_gate_follows_at_once(api: Api) -> None:
    created = _create(api)
    assert api.client.get("/api/admin/keys", headers=_bearer(created["key"])).status_code == 403
    changed = _patch(api, created["id"], {"role": "admin", "tags": ["admin"]})
    assert changed.status_code == 200 and changed.json["role"] == "admin" and changed.json["tags"] == ["admin"]
    assert api.client.get("/api/admin/keys", headers=_bearer(created["key"])).status_code == 200
    assert api.client.get("/api/nodes", headers=_bearer(created["key"])).status_code == 403
    lifted = _patch(api, created["id"], {"tags": None})
    assert lifted.json["tags"] is None and lifted.json["name"] == "scoped"  # fields not given stay
    assert api.client.get("/api/nodes", headers=_bearer(created["key"])).status_code == 200


def test_patch_is_audited_with_the_acting_key_and_the_change(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    created = _create(api)
    admin_id = api.keys[Role.ADMIN].split("_")[1]
    with caplog.at_level(logging.INFO, logger="qcl.audit"):
        _patch(api, created["id"], {"role": "operator", "name": "renamed"})
    entries = [getattr(r, "audit", {}) for r in caplog.records]
    entries = [entry for entry in entries if entry.get("action") == "api_key.updated"]
    assert entries == [
        {
            "action": "api_key.updated",
            "actor": f"key:{admin_id}",
            "target": created["id"],
            "outcome": "ok",
            "role": "operator",
            "name": "renamed",
            "expires_at": None,
            "tags": None,
            "ip": "127.0.0.0",  # the test client's 127.0.0.1 cut to its /24 (QCL_ANONYMIZE_IP)
        }
    ]


def test_patch_refuses_null_role_a_revoked_key_and_an_unknown_id(api: Api) -> None:
    created = _create(api)
    null_role = _patch(api, created["id"], {"role": None})
    assert null_role.status_code == 422 and null_role.json["error"]["field"] == "role"
    assert _patch(api, created["id"], {"colour": "red"}).status_code == 422
    assert api.client.delete(f"/api/admin/keys/{created['id']}", headers=api.headers(Role.ADMIN)).status_code == 200
    revoked = _patch(api, created["id"], {"role": "admin"})
    assert revoked.status_code == 409 and revoked.json["error"]["code"] == "key_revoked"
    assert api.client.get("/api/nodes", headers=_bearer(created["key"])).status_code == 401
    assert _patch(api, "0badc0de", {"role": "admin"}).status_code == 404


def test_the_scope_is_stored_with_the_key_across_instances(api: Api, tmp_path: Path) -> None:
    created = _create(api, tags=["nodes", "network"], expires_at="2099-01-01T00:00:00+00:00")
    stored = json.loads((tmp_path / "state" / "api-keys.json").read_text())
    record = next(k for k in stored["keys"] if k["id"] == created["id"])
    assert record["tags"] == ["nodes", "network"] and record["expires_at"].startswith("2099-01-01")
    listed = api.client.get("/api/admin/keys", headers=api.headers(Role.ADMIN)).json["keys"]
    assert next(k for k in listed if k["id"] == created["id"])["expires_at"].startswith("2099-01-01")

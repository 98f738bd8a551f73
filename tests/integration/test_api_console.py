"""The admin console's API: the one-time login URL and its session cookie (CSRF, logout, expiry), the runtime
settings' versions (applied to the next request, diff, rollback, errors naming the setting) and the audit trail.

.venv/bin/pytest tests/integration/test_api_console.py
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from qcl.api.schemas import Role
from qcl.api.sessions import CSRF_HEADER, SESSION_COOKIE, Sessions
from qcl.store.memory import MemoryStore
from qcl.store.redis import RedisStore
from tests.backends import unique
from tests.integration.test_api_fixtures import Api, make_api

CSRF = {CSRF_HEADER: "1"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def api(tmp_path: Path, clock: Clock) -> Iterator[Api]:
    instance = make_api(tmp_path)
    instance.services.sessions = Sessions(instance.store, login_ttl_s=600, session_ttl_s=3600, clock=clock)
    yield instance
    instance.bus.close()


def _login(api: Api, token: str | None = None) -> tuple[int, dict[str, object], str]:
    response = api.client.post("/api/auth/login", json={"token": token or api.services.sessions.issue_login()})
    return response.status_code, response.json, response.headers.get("Set-Cookie", "")


def test_a_login_token_opens_an_http_only_strict_session_once(api: Api) -> None:
    token = api.services.sessions.issue_login()
    status, body, cookie = _login(api, token)
    assert status == 200 and body["role"] == "admin"
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain http (loopback)
    again = api.client.post("/api/auth/login", json={"token": token})
    assert again.status_code == 401 and again.json["error"]["code"] == "login_used"


def test_a_login_token_expires(api: Api, clock: Clock) -> None:
    token = api.services.sessions.issue_login()
    clock.now += timedelta(minutes=11)
    status, body, cookie = _login(api, token)
    assert status == 401 and body["error"]["code"] == "login_expired" and not cookie  # type: ignore[index]


def test_an_unknown_login_token_is_refused(api: Api) -> None:
    status, body, _ = _login(api, "not-a-token")
    assert status == 401 and body["error"]["code"] == "login_invalid"  # type: ignore[index]


def test_over_https_the_cookie_is_secure(api: Api) -> None:
    token = api.services.sessions.issue_login()
    response = api.client.post("/api/auth/login", json={"token": token}, base_url="https://localhost")
    assert "Secure" in response.headers["Set-Cookie"]


def test_the_session_cookie_authenticates_an_admin_route(api: Api) -> None:
    _login(api)
    assert api.client.get("/api/admin/keys").status_code == 200
    me = api.client.get("/api/auth/whoami").json
    assert me["role"] == "admin" and me["key_id"].startswith("session:")


def test_a_change_with_the_cookie_needs_the_csrf_header(api: Api) -> None:
    _login(api)
    refused = api.client.post("/api/admin/keys", json={"role": "viewer", "name": "x"})
    assert refused.status_code == 403 and refused.json["error"]["code"] == "csrf"
    assert api.client.post("/api/admin/keys", json={"role": "viewer", "name": "x"}, headers=CSRF).status_code == 201


def test_logout_ends_the_session(api: Api) -> None:
    _login(api)
    out = api.client.post("/api/auth/logout", headers=CSRF)
    assert out.status_code == 200 and out.json == {"signed_out": True}
    assert f"{SESSION_COOKIE}=;" in out.headers["Set-Cookie"]
    api.client.set_cookie(SESSION_COOKIE, "the-old-value")  # a browser that kept it anyway
    refused = api.client.get("/api/admin/keys")
    assert refused.status_code == 401 and refused.json["error"]["code"] == "session_expired"


def test_a_session_expires(api: Api, clock: Clock) -> None:
    _login(api)
    clock.now += timedelta(hours=2)
    assert api.client.get("/api/admin/keys").status_code == 401


def test_a_bearer_key_wins_over_a_dead_cookie(api: Api) -> None:
    api.client.set_cookie(SESSION_COOKIE, "stale")
    assert api.client.get("/api/admin/keys", headers=api.headers(Role.ADMIN)).status_code == 200
    assert api.client.post("/api/auth/logout", headers=api.headers(Role.VIEWER)).json == {"signed_out": False}


# -- runtime settings ------------------------------------------------------------------------------------------------


def _change(api: Api, **values: object) -> tuple[int, dict[str, object]]:
    response = api.client.post("/api/admin/settings/versions", json={"values": values}, headers=api.headers(Role.ADMIN))
    return response.status_code, response.json


def test_a_changed_rate_limit_applies_to_the_next_request(api: Api) -> None:
    viewer = api.headers(Role.VIEWER)
    assert [api.client.get("/api/nodes", headers=viewer).status_code for _ in range(3)] == [200] * 3
    status, version = _change(api, rate_limit_key_burst=2, rate_limit_key_per_s=0.01)
    assert status == 201 and version["version"] == 1
    assert version["changed"] == ["rate_limit_key_per_s", "rate_limit_key_burst"]
    assert [api.client.get("/api/nodes", headers=viewer).status_code for _ in range(3)] == [200, 200, 429]
    effective = api.client.get("/api/admin/settings", headers=api.headers(Role.ADMIN)).json["settings"]
    assert effective["rate_limit_key_burst"] == 2


@pytest.mark.redis
def test_another_instance_sharing_the_store_applies_the_change(tmp_path: Path, redis_server_url: str) -> None:
    prefix = unique("qcl-test-console:") + ":"
    shared: dict[str, Any] = {"api_keys": "store", "api_key_pepper": "p" * 32}
    first = make_api(tmp_path / "a", store=RedisStore(redis_server_url, prefix=prefix), **shared)
    second = make_api(tmp_path / "b", store=RedisStore(redis_server_url, prefix=prefix), **shared)
    try:
        assert _change(first, rate_limit_ip_burst=1, rate_limit_ip_per_s=0.01)[0] == 201
        statuses = [second.client.get("/nothing", environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code for _ in "ab"]
        assert statuses == [404, 429]
        assert (
            second.client.get("/api/admin/settings/versions", headers=second.headers(Role.ADMIN)).json["current"] == 1
        )
    finally:
        first.store.clear()


def test_versions_diff_and_rollback(api: Api) -> None:
    admin = api.headers(Role.ADMIN)
    _change(api, rate_limit_key_burst=7)
    _change(api, log_level="WARNING")
    try:
        diff = api.client.get("/api/admin/settings/diff?from=0&to=2", headers=admin).json
        assert diff["from_version"] == 0 and {c["setting"] for c in diff["changes"]} == {
            "rate_limit_key_burst",
            "log_level",
        }
        back = api.client.post("/api/admin/settings/versions/0/rollback", headers=admin)
        assert back.status_code == 201 and back.json["version"] == 3 and back.json["rolled_back_to"] == 0
        history = api.client.get("/api/admin/settings/versions", headers=admin).json
        assert history["current"] == 3 and [v["version"] for v in history["versions"]] == [0, 1, 2, 3]
        assert history["versions"][3]["values"] == history["versions"][0]["values"]
        assert all(v["by"].startswith("key:") for v in history["versions"][1:])
        assert api.client.get("/api/admin/settings/diff?from=0&to=3", headers=admin).json["changes"] == []
    finally:
        logging.getLogger().setLevel(logging.WARNING)


def test_a_log_level_change_applies_to_the_process(api: Api) -> None:
    root = logging.getLogger()
    before = root.level
    try:
        _change(api, log_level="ERROR")
        assert root.level == logging.ERROR
    finally:
        root.setLevel(before)


@pytest.mark.parametrize(
    ("values", "setting"),
    [
        ({"rate_limit_key_burst": 0}, "rate_limit_key_burst"),
        ({"rate_limit_ip_per_s": "fast"}, "rate_limit_ip_per_s"),
        ({"log_level": "LOUD"}, "log_level"),
        ({"narration": False}, "narration"),
    ],
)
def test_a_bad_setting_is_a_400_naming_it_and_nothing_changes(
    api: Api, values: dict[str, object], setting: str
) -> None:
    status, body = _change(api, **values)
    assert status == 400 and body["error"]["field"] == setting and setting in body["error"]["message"]  # type: ignore[index]
    assert api.client.get("/api/admin/settings/versions", headers=api.headers(Role.ADMIN)).json["current"] == 0


def test_an_unknown_version_is_a_404(api: Api) -> None:
    admin = api.headers(Role.ADMIN)
    assert api.client.get("/api/admin/settings/versions/9", headers=admin).status_code == 404
    assert api.client.post("/api/admin/settings/versions/9/rollback", headers=admin).status_code == 404
    assert api.client.get("/api/admin/settings/diff?from=0&to=9", headers=admin).status_code == 404


# -- the audit trail -------------------------------------------------------------------------------------------------


def test_admin_actions_land_in_the_trail_and_can_be_filtered(api: Api) -> None:
    admin = api.headers(Role.ADMIN)
    api.client.post("/api/admin/keys", json={"role": "viewer", "name": "audited"}, headers=admin)
    _change(api, rate_limit_key_burst=9)
    created = api.client.get("/api/admin/audit?action=api_key.created", headers=admin).json["entries"]
    assert created[-1]["name"] == "audited" and created[-1]["actor"].startswith("key:")
    changed = api.client.get("/api/admin/audit?action=settings.changed", headers=admin).json["entries"]
    assert changed[-1]["changed"] == {"rate_limit_key_burst": 9} and changed[-1]["target"] == "v1"
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    assert api.client.get("/api/admin/audit", query_string={"since": later}, headers=admin).json["entries"] == []
    assert api.client.get("/api/admin/audit/verify", headers=admin).json["ok"] is True


def test_verify_over_http_names_the_edited_entry(api: Api) -> None:
    admin = api.headers(Role.ADMIN)
    api.client.post("/api/admin/keys", json={"role": "viewer", "name": "one"}, headers=admin)
    path = api.services.settings.state_dir / "audit.jsonl"
    lines = path.read_text().splitlines()
    entry = json.loads(lines[-1])
    entry["name"] = "someone else"
    path.write_text("\n".join([*lines[:-1], json.dumps(entry)]) + "\n")
    verdict = api.client.get("/api/admin/audit/verify", headers=admin).json
    assert verdict["ok"] is False and verdict["broken_seq"] == len(lines) and "edited" in verdict["reason"]


def test_login_and_logout_are_audited_under_the_session(api: Api) -> None:
    _login(api)
    api.client.post("/api/auth/logout", headers=CSRF)
    actions = [(e["action"], e["actor"]) for e in api.services.audit.entries() if e["action"].startswith("session")]
    assert [a for a, _ in actions] == ["session.opened", "session.ended"] and actions[0][1] == actions[1][1]


def test_a_memory_store_is_enough_for_sessions(tmp_path: Path) -> None:
    api = make_api(tmp_path, store=MemoryStore())
    token = api.services.sessions.issue_login()
    assert api.client.post("/api/auth/login", json={"token": token}).status_code == 200


def test_any_rate_limit_a_process_may_start_with_is_version_0(tmp_path: Path) -> None:
    generous = make_api(tmp_path, rate_limit_key_per_s=1e6, rate_limit_ip_per_s=1e6, rate_limit_ip_burst=10**7)
    version = generous.client.get("/api/admin/settings/versions", headers=generous.headers(Role.ADMIN)).json
    assert version["versions"][0]["values"]["rate_limit_ip_burst"] == 10**7


def test_a_restarted_process_applies_the_newest_version_and_rolls_back_to_its_own_start(tmp_path: Path) -> None:
    before = make_api(tmp_path, rate_limit_key_burst=60)
    _change(before, rate_limit_key_burst=5)
    after = make_api(tmp_path, rate_limit_key_burst=70)  # a restart with another QCL_RATE_LIMIT_KEY_BURST
    history = after.client.get("/api/admin/settings/versions", headers=after.headers(Role.ADMIN)).json
    assert history["current"] == 1 and history["versions"][1]["values"]["rate_limit_key_burst"] == 5
    back = after.client.post("/api/admin/settings/versions/0/rollback", headers=after.headers(Role.ADMIN)).json
    assert back["values"]["rate_limit_key_burst"] == 70

"""Access control and the request gate: the whole role matrix, keys, rate limits, IP lists, headers, CORS, sizes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from qcl.api import context
from qcl.api.routing import Route
from qcl.api.schemas import Role
from qcl.api.security import SECURITY_HEADERS
from qcl.store.memory import MemoryStore
from qcl.store.redis import RedisStore
from tests.backends import unique
from tests.integration.test_api_fixtures import Api, TemplateNarrator, make_api


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    instance = make_api(tmp_path, narrator=TemplateNarrator())
    yield instance
    instance.bus.close()


SAMPLE_PATH_VALUES = {
    "task_id": "t-1",
    "job_id": "j-1",
    "key_id": "0000aaaa",
    "path": "x.js",
    "name": "x.ico",
    "model": "m-1",
    "execution_id": "e-1",
    "connector": "qcl.ask",
    "silence_id": "00000000-0000-0000-0000-000000000000",
    "node_id": "local-s0-r0",
    "action": "drain",
    "version": "0",
}


def call(api: Api, route: Route, role: Role | None) -> int:
    path = re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PATH_VALUES[m.group(1)], route.path)
    response = api.client.open(path, method=route.method, headers=api.headers(role), json={})
    return int(response.status_code)


def all_routes(api: Api) -> list[Route]:
    return context(api.app).routes.routes


def test_every_route_declares_its_role_and_the_matrix_holds(api: Api) -> None:
    """No key: 401; a role below the route's: 403; the route's role or above: neither."""
    checked = 0
    for route in all_routes(api):
        for role in [None, *Role]:
            status = call(api, route, role)
            where = f"{route.method} {route.path} as {role}"
            if route.role is None or (role is not None and role.rank >= route.role.rank):
                assert status not in (401, 403), where
            elif role is None:
                assert status == 401, where
            else:
                assert status == 403, where
            checked += 1
    assert checked == 4 * len(all_routes(api))


def test_roles_follow_the_issue(api: Api) -> None:
    roles = {(r.method, r.path): r.role for r in all_routes(api)}
    assert roles[("GET", "/api/network/latest")] is Role.VIEWER
    assert roles[("POST", "/api/ai/question")] is Role.OPERATOR
    assert roles[("POST", "/api/tasks")] is Role.OPERATOR
    assert roles[("POST", "/api/admin/keys")] is Role.ADMIN
    assert roles[("PATCH", "/api/admin/keys/{key_id}")] is Role.ADMIN
    assert roles[("POST", "/api/admin/nodes/{node_id}/{action}")] is Role.ADMIN
    assert roles[("GET", "/api/ops/logs")] is Role.OPERATOR  # log lines name users and requests
    assert roles[("GET", "/api/ops/logs/patterns")] is Role.OPERATOR
    assert roles[("GET", "/healthz")] is None and roles[("GET", "/readyz")] is None
    assert roles[("POST", "/api/auth/login")] is None  # the one-time token is the credential
    for path in ("/api/admin/audit", "/api/admin/audit/verify", "/api/admin/settings/versions"):
        assert roles[("GET", path)] is Role.ADMIN
    assert roles[("POST", "/api/admin/settings/versions/{version}/rollback")] is Role.ADMIN


def test_an_unknown_or_malformed_key_is_refused_with_a_bearer_challenge(api: Api) -> None:
    for key in ["qcl_00000000_" + "A" * 43, "not-a-key", api.keys[Role.ADMIN] + "x"]:
        response = api.client.get("/api/nodes", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_key_is_refused(api: Api) -> None:
    record, key = api.services.keys.create(Role.VIEWER, "short-lived", created_by="test")
    assert api.client.get("/api/nodes", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    api.services.keys.revoke(record.id, revoked_by="test")
    assert api.client.get("/api/nodes", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_a_websocket_key_may_come_as_a_subprotocol(api: Api) -> None:
    protocols = f"qcl.v1, bearer.{api.keys[Role.VIEWER]}"
    response = api.client.get("/api/ws", headers={"Sec-WebSocket-Protocol": protocols})
    assert response.status_code == 426  # authenticated; a plain GET is then told to upgrade


def test_per_key_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    limited = make_api(tmp_path, rate_limit_key_burst=2, rate_limit_key_per_s=0.5)
    statuses = [limited.client.get("/api/nodes", headers=limited.headers(Role.VIEWER)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = limited.client.get("/api/nodes", headers=limited.headers(Role.VIEWER))
    assert refused.json["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    assert limited.client.get("/api/nodes", headers=limited.headers(Role.ADMIN)).status_code == 200  # own bucket


def test_per_ip_rate_limit_holds_before_authentication(tmp_path: Path) -> None:
    limited = make_api(tmp_path, rate_limit_ip_burst=2, rate_limit_ip_per_s=0.5)
    statuses = [limited.client.get("/api/nodes").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    other = limited.client.get("/api/nodes", environ_base={"REMOTE_ADDR": "127.0.0.2"})
    assert other.status_code == 401  # another address has its own bucket


def test_health_probes_are_not_rate_limited(tmp_path: Path) -> None:
    limited = make_api(tmp_path, rate_limit_ip_burst=1, rate_limit_ip_per_s=0.01)
    assert {limited.client.get("/healthz").status_code for _ in range(5)} == {200}


def test_rate_limits_hold_across_instances_sharing_a_store(tmp_path: Path) -> None:
    shared = MemoryStore()
    first = make_api(tmp_path / "a", store=shared, rate_limit_ip_burst=2, rate_limit_ip_per_s=0.01)
    second = make_api(tmp_path / "b", store=shared, rate_limit_ip_burst=2, rate_limit_ip_per_s=0.01)
    statuses = [client.get("/healthz/nothing").status_code for client in (first.client, second.client, first.client)]
    assert statuses[-1] == 429


@pytest.mark.redis
def test_rate_limits_hold_across_instances_on_redis(tmp_path: Path, redis_server_url: str) -> None:
    prefix = unique("qcl-test-api:") + ":"
    stores = [RedisStore(redis_server_url, prefix=prefix) for _ in range(2)]
    first = make_api(tmp_path / "a", store=stores[0], rate_limit_ip_burst=3, rate_limit_ip_per_s=0.01)
    second = make_api(tmp_path / "b", store=stores[1], rate_limit_ip_burst=3, rate_limit_ip_per_s=0.01)
    try:
        statuses = [api.client.get("/nothing").status_code for api in (first, second, first, second)]
        assert statuses == [404, 404, 404, 429]
    finally:
        stores[0].clear()


def test_a_denied_network_is_refused_even_with_a_key(tmp_path: Path) -> None:
    denied = make_api(tmp_path, ip_deny="10.0.0.0/8")
    response = denied.client.get(
        "/api/nodes", headers=denied.headers(Role.ADMIN), environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    assert response.status_code == 403 and response.json["error"]["code"] == "ip_refused"
    assert denied.client.get("/healthz", environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code == 200


def test_an_allow_list_admits_only_its_networks(tmp_path: Path) -> None:
    allowed = make_api(tmp_path, ip_allow="192.0.2.0/24,::1/128")
    assert allowed.client.get("/healthz", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200
    assert allowed.client.get("/healthz", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert allowed.client.get("/healthz", environ_base={"REMOTE_ADDR": "198.51.100.1"}).status_code == 403


def test_forwarded_for_counts_only_behind_trusted_proxies(tmp_path: Path) -> None:
    forwarded = {"X-Forwarded-For": "10.9.9.9"}
    untrusting = make_api(tmp_path / "a", ip_deny="10.0.0.0/8")
    assert untrusting.client.get("/healthz", headers=forwarded).status_code == 200
    behind_proxy = make_api(tmp_path / "b", ip_deny="10.0.0.0/8", trusted_proxy_hops=1)
    assert behind_proxy.client.get("/healthz", headers=forwarded).status_code == 403


@pytest.mark.parametrize("path", ["/healthz", "/", "/api/nodes", "/no/such/page"])
def test_every_answer_carries_the_security_headers(api: Api, path: str) -> None:
    response = api.client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_the_csp_is_the_one_the_dashboard_runs_under_with_no_data_or_blob_sources() -> None:
    """web/csp.ts is what the dashboard's browser tests measured it needs (they fail on any violation)."""
    dashboard = Path(__file__).parents[2] / "web" / "csp.ts"
    directives = re.findall(r'^\s*"([a-z-]+ [^"]+)",?$', dashboard.read_text(), flags=re.M)
    assert SECURITY_HEADERS["Content-Security-Policy"] == "; ".join(directives)
    assert "data:" not in SECURITY_HEADERS["Content-Security-Policy"]
    assert "blob:" not in SECURITY_HEADERS["Content-Security-Policy"]


def test_the_server_header_names_no_software_version(api: Api) -> None:
    assert "Werkzeug" not in api.client.get("/healthz").headers.get("Server", "")


def test_cors_allows_only_configured_origins(tmp_path: Path) -> None:
    cors = make_api(tmp_path, cors_origins="https://dash.example")
    allowed = cors.client.get("/healthz", headers={"Origin": "https://dash.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://dash.example"
    other = cors.client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_a_cors_preflight_is_answered_without_a_key(tmp_path: Path) -> None:
    cors = make_api(tmp_path, cors_origins="https://dash.example")
    headers = {"Origin": "https://dash.example", "Access-Control-Request-Method": "POST"}
    response = cors.client.options("/api/ai/question", headers=headers)
    assert response.status_code == 204
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]


def test_a_body_over_the_size_limit_is_refused_with_413(tmp_path: Path) -> None:
    small = make_api(tmp_path, max_request_bytes=1024)
    body = {"question": "x" * 2000}
    response = small.client.post("/api/ai/question", headers=small.headers(Role.OPERATOR), json=body)
    assert response.status_code == 413 and response.json["error"]["code"] == "payload_too_large"


def test_a_sane_request_id_is_echoed_and_an_unsafe_one_replaced(api: Api) -> None:
    assert api.client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"] == "abc-123"
    replaced = api.client.get("/api/nodes", headers={"X-Request-Id": "bad id <script>"})
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-Id"])
    assert replaced.json["error"]["request_id"] == replaced.headers["X-Request-Id"]

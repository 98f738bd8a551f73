"""Response headers, CORS and the CSP on the dashboard and the API as served; path traversal against the file routes.

The header values are checked for what they must forbid (scripts from elsewhere or inline, framing, sniffing), not
copied from qcl.api.security, so a loosened policy fails here.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from qcl.api.schemas import Role
from tests.integration.test_api_fixtures import Served, make_api, serving
from tests.security.conftest import Serve, bearer

DASHBOARD_ORIGIN = "https://dashboard.example"
SECRET = "not-for-the-web"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The API serving a built dashboard (a web/dist-like folder) with a secret file beside that folder, and a log
    folder for /api/ops/logs."""
    root = tmp_path_factory.mktemp("site")
    dist = root / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>qcl</title><script src=/assets/app.js></script>")
    (dist / "assets" / "app.js").write_text("console.log('app')")
    (dist / "robots.txt").write_text("User-agent: *")
    (root / "secret.txt").write_text(SECRET)
    api = make_api(
        root / "api", start_stream=True, web_dist=dist, cors_origins=[DASHBOARD_ORIGIN], log_dir=root / "logs"
    )
    with serving(api) as served:
        yield served


def directives(csp: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in csp.split(";")) if part}


def assert_locked_down(answer: httpx.Response) -> None:
    headers = answer.headers
    csp = directives(headers["content-security-policy"])
    assert csp["default-src"] == ["'self'"] and csp["script-src"] == ["'self'"], csp  # no inline, eval or CDN
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"] and csp["base-uri"] == ["'self'"]
    assert not any("*" in source or source in ("data:", "blob:") for sources in csp.values() for source in sources)
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer" and "max-age=" in headers["strict-transport-security"]
    assert headers["server"] == "qcl"  # no software or version named


@pytest.mark.parametrize("path", ["/", "/assets/app.js", "/robots.txt", "/api/docs"])
def test_the_dashboard_and_docs_are_served_under_the_policy(site: Served, path: str) -> None:
    answer = httpx.get(site.url + path)
    assert answer.status_code == 200
    assert_locked_down(answer)


def test_the_docs_page_needs_no_script_the_policy_would_block(site: Served) -> None:
    assert "<script" not in httpx.get(site.url + "/api/docs").text.lower()


@pytest.mark.parametrize(
    ("method", "path", "role", "status"),
    [
        ("GET", "/api/health", None, 200),
        ("GET", "/api/network/latest", None, 401),
        ("GET", "/api/admin/keys", Role.VIEWER, 403),
        ("GET", "/api/no-such-route", None, 404),
        ("POST", "/api/ai/question", Role.OPERATOR, 422),
        ("GET", "/v1/models", None, 401),
    ],
)
def test_api_answers_and_errors_carry_the_headers_and_are_not_cached(
    site: Served, method: str, path: str, role: Role | None, status: int
) -> None:
    headers = bearer(site.api.keys[role]) if role else {}
    answer = httpx.request(method, site.url + path, headers=headers, json={} if method == "POST" else None)
    assert answer.status_code == status
    assert_locked_down(answer)
    assert answer.headers["cache-control"] == "no-store" and answer.headers["x-request-id"]


def test_a_request_the_server_cannot_parse_is_a_400_in_the_error_shape_with_the_headers(site: Served) -> None:
    """Answered by uvicorn before any app code runs: it must still be JSON, locked down and not cached."""
    with socket.create_connection(("127.0.0.1", site.server.port), timeout=5) as raw:
        raw.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
        reply = b""
        while chunk := raw.recv(65536):
            reply += chunk
    head, body = reply.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode().split("\r\n")
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines]
    answer = httpx.Response(int(status_line.split()[1]), headers=headers, content=body)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_request"
    assert_locked_down(answer)
    assert answer.headers["cache-control"] == "no-store"
    assert httpx.get(site.url + "/api/health").status_code == 200


def test_an_overloaded_answer_carries_the_headers_too(serve: Serve) -> None:
    served = serve(server_options={"max_pending": 0})  # every request but the health paths is shed
    answer = httpx.get(served.url + "/api/network/latest", headers=bearer(served.api.keys[Role.VIEWER]))
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "overloaded"
    assert_locked_down(answer)
    assert answer.headers["cache-control"] == "no-store" and answer.headers["retry-after"] == "1"


@pytest.mark.parametrize("origin", ["https://evil.example", "null", DASHBOARD_ORIGIN + ".evil.example", "*"])
def test_an_unlisted_origin_gets_no_cors_grant(site: Served, origin: str) -> None:
    key = bearer(site.api.keys[Role.VIEWER])
    answer = httpx.get(site.url + "/api/auth/whoami", headers={**key, "Origin": origin})
    preflight = httpx.options(
        site.url + "/api/ai/question",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    for granted in (answer, preflight):
        assert not any(name.startswith("access-control-allow") for name in granted.headers), granted.headers
        assert "origin" in granted.headers.get("vary", "").lower()


def test_a_listed_origin_is_granted_exactly_itself_without_credentials(site: Served) -> None:
    preflight = httpx.options(
        site.url + "/api/ai/question",
        headers={"Origin": DASHBOARD_ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == DASHBOARD_ORIGIN
    assert "access-control-allow-credentials" not in preflight.headers  # a cookie session never crosses origins


@pytest.mark.parametrize(
    "path",
    [
        "/assets/..%2f..%2fsecret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/assets/..",
        "/..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/assets/..%5c..%5csecret.txt",
        "/assets/%252e%252e%252fsecret.txt",
        "/../secret.txt",
        "/assets/app.js%00.png",
    ],
)
def test_path_traversal_reaches_no_file_outside_the_dashboard(site: Served, path: str) -> None:
    with httpx.Client(base_url=site.url) as http:
        answer = http.send(http.build_request("GET", path))  # sent as written, not normalised by the client
    assert answer.status_code in (404, 422) or (answer.status_code == 200 and SECRET not in answer.text)
    assert SECRET not in answer.text


@pytest.mark.parametrize(
    "query",
    [
        {"service": "../../../../etc/passwd"},
        {"service": "api' OR '1'='1"},
        {"q": '" OR 1=1 --'},
        {"request_id": "../../secret"},
    ],
)
def test_the_log_search_treats_paths_and_quotes_in_its_query_as_text(site: Served, query: dict[str, str]) -> None:
    answer = httpx.get(f"{site.url}/api/ops/logs", params=query, headers=bearer(site.api.keys[Role.OPERATOR]))
    assert answer.status_code in (200, 400, 422), answer.text
    if answer.status_code == 200:
        assert answer.json()["lines"] == []

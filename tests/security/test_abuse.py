"""Abuse of the real server: key guessing, oversized and slow requests, WebSocket floods. None of it may crash the
server or hold its resources; each is refused in the one error shape or closed."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
import time
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from qcl.api import keys as keys_module
from qcl.api.schemas import Role
from qcl.api.sessions import SESSION_COOKIE
from qcl.events import NODE_EVENTS, NodeEvent
from tests.integration.test_api_fixtures import Served
from tests.security.conftest import Serve, bearer


def guess() -> str:
    """A well-formed key that is nobody's."""
    return f"qcl_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"


# -- key guessing --------------------------------------------------------------------------------------------------


def test_guessing_keys_from_one_client_is_rate_limited_and_then_even_a_good_key_waits(serve: Serve) -> None:
    """The per-IP limit comes before the key is looked at: under a flood 429, not 401, is the right answer."""
    served = serve(rate_limit_ip_burst=10, rate_limit_ip_per_s=0.01)
    with httpx.Client(base_url=served.url) as http:
        answers = [http.get("/api/auth/whoami", headers=bearer(guess())) for _ in range(14)]
        statuses = [a.status_code for a in answers]
        assert statuses == [401] * 10 + [429] * 4
        assert all(
            a.json()["error"]["code"] == "rate_limited" and int(a.headers["Retry-After"]) >= 1 for a in answers[10:]
        )
        assert http.get("/api/auth/whoami", headers=bearer(served.api.keys[Role.ADMIN])).status_code == 429
        assert http.post("/api/auth/login", json={"token": "x" * 43}).status_code == 429  # login tokens too


def test_a_key_is_compared_as_a_keyed_hash_in_constant_time(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """Asserting the mechanism, not timing (a timing test is flaky on a shared machine): only HMAC(pepper, key) is
    stored, and the presented key's HMAC is compared to it with hmac.compare_digest."""
    keys = served.api.services.keys
    record, key = keys.create(Role.VIEWER, "timing", created_by="test")
    assert record.hash == hmac.new(keys._pepper, key.encode(), hashlib.sha256).hexdigest()
    stored = (served.api.services.settings.state_dir / keys_module.KEYS_FILE).read_text()
    assert key not in stored and key.rsplit("_", 1)[1] not in stored
    compared: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(keys_module.hmac, "compare_digest", spy)
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    answers = [httpx.get(f"{served.url}/api/auth/whoami", headers=bearer(k)).status_code for k in (key, wrong)]
    assert answers == [200, 401]
    assert [a for a, _ in compared] == [record.hash, record.hash]  # both compared whole, right or wrong


def test_a_session_cookie_is_looked_up_by_its_digest_never_by_its_value(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store lookup leaks at most how much of the SHA-256 digest matched, which says nothing of the cookie."""
    token = served.api.services.sessions.issue_login(Role.VIEWER)
    login = httpx.post(f"{served.url}/api/auth/login", json={"token": token})
    cookie = login.cookies[SESSION_COOKIE]
    asked: list[str] = []
    store = served.api.services.store
    real_get = store.get

    def get(key: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(key)
        return real_get(key, *args, **kwargs)

    monkeypatch.setattr(store, "get", get)
    whoami = httpx.get(f"{served.url}/api/auth/whoami", cookies={SESSION_COOKIE: cookie})
    assert whoami.status_code == 200
    assert any(hashlib.sha256(cookie.encode()).hexdigest() in key for key in asked)
    assert not any(cookie in key for key in asked)


# -- oversized and slow requests -----------------------------------------------------------------------------------


def test_a_body_declared_over_the_limit_is_refused_413_in_the_error_shape_before_it_is_read(serve: Serve) -> None:
    served = serve(max_request_bytes=4096)
    with socket.create_connection(("127.0.0.1", served.server.port), timeout=5) as raw:
        raw.sendall(
            b"POST /api/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000000\r\n\r\n{"  # a gigabyte announced; one byte sent
        )
        answer = b""
        while chunk := raw.recv(65536):  # the server answers and closes without waiting for the rest
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413") and b"content-security-policy" in head.lower()
    assert json.loads(body)["error"]["code"] == "payload_too_large"


def test_a_chunked_body_growing_over_the_limit_is_refused_413_in_the_error_shape(serve: Serve) -> None:
    served = serve(max_request_bytes=4096)

    def chunks() -> Any:
        for _ in range(64):
            yield b"x" * 1024

    answer = httpx.post(
        f"{served.url}/api/tasks",
        content=chunks(),
        headers={**bearer(served.api.keys[Role.OPERATOR]), "Content-Type": "application/json"},
    )
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "payload_too_large"
    assert "4096" in answer.json()["error"]["message"] and answer.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{served.url}/api/health").status_code == 200


def test_headers_sent_a_byte_at_a_time_are_cut_off_at_the_header_timeout(serve: Serve) -> None:
    """Slowloris against the API as served: each byte is on time, the request never completes; the server closes
    the connection at its header deadline (idle_s) and goes on serving."""
    served = serve(server_options={"idle_s": 1})
    with socket.create_connection(("127.0.0.1", served.server.port)) as raw:
        raw.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        started, closed = time.monotonic(), False
        while time.monotonic() - started < 4 and not closed:
            try:
                raw.sendall(b"X")
            except OSError:
                break
            raw.settimeout(0.2)
            try:
                closed = raw.recv(4096) == b""
            except TimeoutError:
                pass
            except ConnectionResetError:  # closed while our last byte was in flight: a reset, not a FIN
                closed = True
        assert time.monotonic() - started < 2.5
    assert httpx.get(f"{served.url}/api/health").status_code == 200


# -- WebSocket floods ----------------------------------------------------------------------------------------------


def test_opening_websockets_from_one_key_past_its_rate_limit_is_refused_429(serve: Serve) -> None:
    served = serve(rate_limit_key_burst=5, rate_limit_key_per_s=0.01)
    opened, refused = [], []
    for _ in range(8):
        try:
            opened.append(connect(served.ws_url, additional_headers=bearer(served.api.keys[Role.VIEWER])))
        except InvalidStatus as exc:
            refused.append(exc.response.status_code)
    try:
        assert len(opened) == 5 and refused == [429] * 3
        assert all(json.loads(ws.recv(timeout=5))["type"] == "hello" for ws in opened)
    finally:
        for ws in opened:
            ws.close()
    assert httpx.get(f"{served.url}/api/health").status_code == 200


def test_a_key_holds_at_most_its_cap_of_open_streams_and_a_freed_slot_opens_again(serve: Serve) -> None:
    served = serve(ws_per_key_max=2)
    viewer = bearer(served.api.keys[Role.VIEWER])

    def first_message(ws: Any) -> dict[str, Any]:
        return dict(json.loads(ws.recv(timeout=5)))

    held = [connect(served.ws_url, additional_headers=viewer) for _ in range(2)]
    try:
        assert [first_message(ws)["type"] for ws in held] == ["hello", "hello"]
        with connect(served.ws_url, additional_headers=viewer) as extra, pytest.raises(ConnectionClosed) as closed:
            extra.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
        assert "2 open streams" in closed.value.rcvd.reason
        with connect(served.ws_url, additional_headers=bearer(served.api.keys[Role.OPERATOR])) as other:
            assert first_message(other)["type"] == "hello"  # another key's streams are its own
        held.pop().close()
        deadline, reopened = time.monotonic() + 5, None
        while reopened is None and time.monotonic() < deadline:  # the slot frees once the server has seen the close
            ws = connect(served.ws_url, additional_headers=viewer)
            try:
                reopened = first_message(ws)
                held.append(ws)
            except ConnectionClosed:
                time.sleep(0.05)
        assert reopened is not None and reopened["type"] == "hello"
    finally:
        for ws in held:
            ws.close()


def test_a_flood_of_messages_from_a_subscriber_is_dropped_and_the_stream_goes_on(served: Served) -> None:
    ws = connect(served.ws_url, additional_headers=bearer(served.api.keys[Role.VIEWER]))
    try:
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        for n in range(2000):
            ws.send(f"flood {n}")
        event = NODE_EVENTS.event(NodeEvent(node_id="still-here", role="shard", kind="joined"), source="//t")
        served.api.bus.publish(NODE_EVENTS, event)
        message = json.loads(ws.recv(timeout=10))
        assert message["type"] == "node" and message["data"]["node_id"] == "still-here"
    finally:
        ws.close()
    assert httpx.get(f"{served.url}/api/health").status_code == 200


def test_an_oversized_websocket_message_closes_that_socket_with_1009(served: Served) -> None:
    ws = connect(served.ws_url, additional_headers=bearer(served.api.keys[Role.VIEWER]), max_size=None)
    assert json.loads(ws.recv(timeout=5))["type"] == "hello"
    ws.send("x" * (1024 * 1024))
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert httpx.get(f"{served.url}/api/health").status_code == 200

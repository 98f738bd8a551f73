"""The WebSocket on a real server over loopback: live events from the bus, resume after reconnect, shutdown."""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from qcl.api import context
from qcl.api.schemas import Role
from qcl.api.server import ApiServer
from qcl.events import NETWORK_ANALYSIS, NODE_EVENTS, NodeEvent
from qcl.store.redis import RedisStore
from tests.integration.test_api_fixtures import Served as Serving
from tests.integration.test_api_fixtures import make_api, report, serving


def offer(key: str) -> list[Subprotocol]:
    """What a browser offers: the protocol and its key (browsers cannot set headers on a WebSocket)."""
    return [Subprotocol("qcl.v1"), Subprotocol(f"bearer.{key}")]


class Served(Serving):
    def ws(self, query: str = "", protocol_key: bool = False) -> ClientConnection:
        key = self.api.keys[Role.VIEWER]
        if protocol_key:
            return connect(self.ws_url + query, subprotocols=offer(key))
        return connect(self.ws_url + query, additional_headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    # The tests' subscribers share one key; the per-key limit has its own test (tests/security/test_abuse.py).
    with serving(make_api(tmp_path, start_stream=True, ws_per_key_max=100)) as running:
        yield Served(running.api, running.server, running.ingest)


def receive(ws: ClientConnection, kind: str, timeout_s: float = 10.0) -> dict[str, Any]:
    """The next message of type `kind` (others are skipped)."""
    while True:
        try:
            raw = ws.recv(timeout=timeout_s)
        except TimeoutError:
            raise AssertionError(f"no {kind} message within {timeout_s} s") from None
        message: dict[str, Any] = json.loads(raw)
        if message["type"] == kind:
            return message


def publish_node(served: Served, node_id: str) -> None:
    event = NODE_EVENTS.event(NodeEvent(node_id=node_id, role="shard", kind="joined"), source="//test")
    served.api.bus.publish(NODE_EVENTS, event)


def test_a_client_receives_analysis_published_on_the_bus(served: Served) -> None:
    ws = served.ws()
    hello = receive(ws, "hello")
    served.api.bus.publish(NETWORK_ANALYSIS, NETWORK_ANALYSIS.event(report(55), source="//test/analyzer"))
    message = receive(ws, "analysis")
    assert message["data"]["health_score"] == 55 and message["seq"] == hello["seq"] + 1
    ws.close()


def test_permessage_deflate_offered_by_the_client_is_declined(served: Served) -> None:
    ws = served.ws()  # websockets offers permessage-deflate by default, as browsers do
    assert ws.response is not None
    assert "Sec-WebSocket-Extensions" not in ws.response.headers  # small events: no compressor per subscriber
    assert receive(ws, "hello")["type"] == "hello"
    ws.close()


def test_a_browser_client_may_offer_its_key_as_a_subprotocol(served: Served) -> None:
    ws = served.ws(protocol_key=True)
    assert receive(ws, "hello")["type"] == "hello"
    ws.close()


def test_a_reconnecting_client_gets_what_it_missed(served: Served) -> None:
    ws = served.ws()
    receive(ws, "hello")
    publish_node(served, "shard-a")
    last = receive(ws, "node")["seq"]
    ws.close()
    publish_node(served, "shard-b")  # while the client is away
    publish_node(served, "shard-c")
    assert served.api.bus.wait_idle()
    again = served.ws(f"?last_seq={last}")
    missed = [receive(again, "node")["data"]["node_id"] for _ in range(2)]
    assert missed == ["shard-b", "shard-c"]
    again.close()


def test_a_client_from_an_unknown_future_is_told_to_resync(served: Served) -> None:
    ws = served.ws("?last_seq=999999")
    assert receive(ws, "resync")["data"]["reason"].startswith("sequence 999999")
    ws.close()


def closed_with(ws: ClientConnection) -> tuple[int | None, str | None]:
    with pytest.raises(ConnectionClosed):
        while True:
            ws.recv(timeout=5)
    return ws.close_code, ws.close_reason


def test_a_websocket_without_a_key_completes_the_handshake_then_closes_with_4401(served: Served) -> None:
    code, reason = closed_with(connect(served.ws_url))
    assert code == 4401 and reason is not None and "API key is required" in reason


def test_a_revoked_key_offered_as_a_subprotocol_is_closed_with_4401_and_the_reason(served: Served) -> None:
    record, key = served.api.services.keys.create(Role.VIEWER, "gone", created_by="test")
    served.api.services.keys.revoke(record.id, revoked_by="test")
    code, reason = closed_with(connect(served.ws_url, subprotocols=offer(key)))
    assert code == 4401 and reason is not None and "unknown or revoked" in reason


def test_nothing_follows_the_close_frame_on_the_socket(served: Served) -> None:
    """An HTTP answer written after the frames would reach a browser as garbage: it reports 1006, not our code."""
    host, port = served.server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        key = base64.b64encode(os.urandom(16)).decode()
        raw.sendall(
            f"GET /api/ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        received = b""
        while chunk := raw.recv(4096):
            received += chunk
    head, _, frames = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    reason = b"an API key is required: Authorization: Bearer <key>"
    assert frames == bytes([0x88, 2 + len(reason)]) + (4401).to_bytes(2, "big") + reason  # one close frame, no more


def test_after_a_client_closes_the_server_answers_and_ends_the_tcp_connection(served: Served) -> None:
    """The client closes as soon as the handshake is answered (often before the server's hello): the server answers
    the close and ends the TCP connection (RFC 6455 §7.1.1) — no HTTP answer written after it, no keep-alive idling."""
    host, port = served.server.url.removeprefix("http://").split(":")
    mask, code = os.urandom(4), (1000).to_bytes(2, "big")
    with socket.create_connection((host, int(port)), timeout=5) as raw:  # recv() past 5 s raises: the test fails
        raw.sendall(
            f"GET /api/ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {served.api.keys[Role.VIEWER]}\r\n\r\n".encode()
        )
        received = raw.recv(4096)
        raw.sendall(bytes([0x88, 0x80 | 2]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(code)))
        while chunk := raw.recv(4096):
            received += chunk
    assert received.startswith(b"HTTP/1.1 101")
    assert received.endswith(bytes([0x88, 2]) + code)  # the close answered, nothing after it, then the end


def test_a_plain_get_without_a_key_is_still_refused_with_401(served: Served) -> None:
    assert httpx.get(served.server.url + "/api/ws").status_code == 401


def test_shutdown_tells_clients_to_go_and_stops_answering(served: Served) -> None:
    ws = served.ws()
    receive(ws, "hello")
    served.server.stop()
    assert closed_with(ws)[0] == 1001
    with pytest.raises(httpx.ConnectError):
        httpx.get(served.server.url + "/healthz", timeout=2)


def test_many_subscribers_each_receive_every_event_once_and_in_order(served: Served) -> None:
    clients = [served.ws() for _ in range(40)]
    starts = [receive(ws, "hello")["seq"] for ws in clients]
    for i in range(10):
        publish_node(served, f"shard-{i}")
    for ws, start in zip(clients, starts, strict=True):
        got = [receive(ws, "node") for _ in range(10)]
        assert [m["data"]["node_id"] for m in got] == [f"shard-{i}" for i in range(10)]
        assert [m["seq"] for m in got] == list(range(start + 1, start + 11))
        ws.close()


@pytest.mark.redis
def test_a_subscriber_on_one_instance_hears_what_another_appends_through_redis(
    tmp_path: Path, redis_server_url: str
) -> None:
    """Two API instances on one Redis: the append notifies over pub/sub, so the event arrives without waiting for
    the reader's safety look (set to a minute here)."""
    prefix = f"qcl-test-ws-{uuid.uuid4().hex}:"
    stores = [RedisStore(redis_server_url, prefix=prefix) for _ in range(2)]
    writer, reader = (make_api(tmp_path / name, store=store) for name, store in zip("ab", stores, strict=True))
    broadcaster = context(reader.app).broadcaster
    broadcaster.safety_s = 60.0
    broadcaster.start()
    server = ApiServer(reader.app, "127.0.0.1", 0, grace_s=3)
    server.start()
    try:
        url = server.url.replace("http://", "ws://") + "/api/ws"
        ws = connect(url, additional_headers={"Authorization": f"Bearer {reader.keys[Role.VIEWER]}"})
        start = receive(ws, "hello")["seq"]
        sent = time.monotonic()
        context(writer.app).log.append("node", {"node_id": "shard-on-a"})
        message = receive(ws, "node", timeout_s=5)
        assert message["seq"] == start + 1 and message["data"]["node_id"] == "shard-on-a"
        assert time.monotonic() - sent < 2
        ws.close()
    finally:
        server.stop()
        stores[0].clear()

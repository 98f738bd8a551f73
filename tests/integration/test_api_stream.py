"""The WebSocket on a real server over loopback: live events from the bus, resume after reconnect, shutdown."""

from __future__ import annotations

import base64
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from simple_websocket import Client, ConnectionClosed

from qcl.api import ApiIngest, context
from qcl.api.schemas import Role
from qcl.api.server import ApiServer
from qcl.events import NETWORK_ANALYSIS, NODE_EVENTS, NodeEvent
from tests.integration.test_api_fixtures import Api, make_api, report


@dataclass
class Served:
    api: Api
    server: ApiServer
    ingest: ApiIngest

    def ws(self, query: str = "", protocol_key: bool = False) -> Client:
        url = self.server.url.replace("http://", "ws://") + "/api/ws" + query
        key = self.api.keys[Role.VIEWER]
        if protocol_key:
            return Client.connect(url, subprotocols=["qcl.v1", f"bearer.{key}"])
        return Client.connect(url, headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    api = make_api(tmp_path, start_stream=True)
    ingest = ApiIngest(api.services, context(api.app).broadcaster)
    ingest.start()
    server = ApiServer(api.app, "127.0.0.1", 0, grace_s=3)
    server.start()
    yield Served(api, server, ingest)
    server.stop()
    ingest.stop()
    api.bus.close()


def receive(ws: Client, kind: str, timeout_s: float = 10.0) -> dict[str, Any]:
    """The next message of type `kind` (others are skipped)."""
    while True:
        raw = ws.receive(timeout=timeout_s)
        assert raw is not None, f"no {kind} message within {timeout_s} s"
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


def closed_with(ws: Client) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed):
        while True:
            ws.receive(timeout=5)
    return ws.close_reason, ws.close_message


def test_a_websocket_without_a_key_completes_the_handshake_then_closes_with_4401(served: Served) -> None:
    url = served.server.url.replace("http://", "ws://") + "/api/ws"
    code, reason = closed_with(Client.connect(url))
    assert code == 4401 and "API key is required" in reason


def test_a_revoked_key_offered_as_a_subprotocol_is_closed_with_4401_and_the_reason(served: Served) -> None:
    record, key = served.api.services.keys.create(Role.VIEWER, "gone", created_by="test")
    served.api.services.keys.revoke(record.id, revoked_by="test")
    url = served.server.url.replace("http://", "ws://") + "/api/ws"
    code, reason = closed_with(Client.connect(url, subprotocols=["qcl.v1", f"bearer.{key}"]))
    assert code == 4401 and "unknown or revoked" in reason


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


def test_a_plain_get_without_a_key_is_still_refused_with_401(served: Served) -> None:
    assert httpx.get(served.server.url + "/api/ws").status_code == 401


def test_shutdown_tells_clients_to_go_and_stops_answering(served: Served) -> None:
    ws = served.ws()
    receive(ws, "hello")
    served.server.stop()
    with pytest.raises(ConnectionClosed):
        while True:
            ws.receive(timeout=5)
    assert ws.close_reason == 1001
    with pytest.raises(httpx.ConnectError):
        httpx.get(served.server.url + "/healthz", timeout=2)

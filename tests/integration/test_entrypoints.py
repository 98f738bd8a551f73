"""The thin entry points, exercised the way their platforms call them.

functions/ingest through functions-framework (as Cloud Functions runs it); containers/analyzer's Pub/Sub push
endpoint through Flask (as Cloud Run runs it).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import flask
import pytest
from functions_framework import create_app

from qcl.bus.memory import MemoryBus
from qcl.events import NETWORK_ANALYSIS, QUBIC_TICKS
from qcl.pipeline.analyzer import Analyzer
from qcl.qubic.synth import generate_lines
from qcl.store.memory import MemoryStore
from tests.backends import wait_for
from tests.fakes.qubic_rpc import TICK_INFO, FakeQubicRpc, cloudflare_page, rpc_error

ROOT = Path(__file__).resolve().parents[2]
CALM: dict[str, Any] = {"start": datetime(2025, 11, 8, tzinfo=UTC), "hours": 0.05}  # a calm Saturday


def ingest_client() -> Any:
    app = create_app(target="ingest", source=str(ROOT / "functions/ingest/main.py"))
    return app.test_client()


def test_ingest_function_publishes_then_reports_invalid_lines_then_a_played_out_source(tmp_path: Path) -> None:
    lines = generate_lines(**CALM)[:2]
    capture = tmp_path / "capture.jsonl"
    capture.write_text("\n".join([*lines, lines[1][:40]]) + "\n")
    os.environ["QCL_CAPTURE"] = str(capture)
    client = ingest_client()
    answers = [client.post("/") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 422, 503]
    assert [a.get_json()["status"] for a in answers] == ["published", "published", "invalid", "source_unavailable"]
    assert "line 3: not JSON" in answers[2].get_json()["detail"]
    assert "played out" in answers[3].get_json()["error"]["message"]


def test_ingest_function_answers_503_with_the_reason_when_the_rpc_fails() -> None:
    with FakeQubicRpc() as rpc:
        rpc.script(TICK_INFO, [cloudflare_page(502)] + [rpc_error(503)] * 5)
        os.environ.update({"QCL_SOURCE": "rpc", "QCL_RPC_URL": rpc.url, "QCL_RPC_ATTEMPTS": "2"})
        answer = ingest_client().post("/")
    assert answer.status_code == 503
    body = answer.get_json()
    assert body["error"]["code"] == "source_unavailable"
    assert "/live/v1/tick-info" in body["error"]["message"]


def load_analyzer_main() -> ModuleType:
    spec = importlib.util.spec_from_file_location("analyzer_main", ROOT / "containers/analyzer/main.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def push() -> tuple[Any, MemoryBus, list[Any]]:
    bus = MemoryBus()
    reports: list[Any] = []
    bus.subscribe(NETWORK_ANALYSIS, "api", reports.append)
    app: flask.Flask = load_analyzer_main().create_app(Analyzer(bus, MemoryStore(), window_s=3600))
    return app.test_client(), bus, reports


def push_body(data: bytes, attempt: int = 1) -> dict[str, Any]:
    return {
        "message": {"data": base64.b64encode(data).decode(), "messageId": "m1", "attributes": {}},
        "subscription": "projects/qcl-local/subscriptions/qubic-ticks.analyzer",
        "deliveryAttempt": attempt,
    }


def an_observation_event() -> bytes:
    from qcl.qubic.capture import parse_line

    observation = parse_line(generate_lines(**CALM)[0])
    return QUBIC_TICKS.encode(QUBIC_TICKS.event(observation, source="//tests"))  # type: ignore[arg-type]


def test_push_delivery_is_analysed_and_acked(push: tuple[Any, MemoryBus, list[Any]]) -> None:
    client, _, reports = push
    answer = client.post("/", json=push_body(an_observation_event()))
    assert answer.status_code == 200 and answer.get_json()["status"] == "ok"
    assert wait_for(lambda: len(reports) == 1)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "a JSON object with a 'message' object"),
        ({"message": {"data": "AAAA"}}, "message.messageId is missing"),
        ({"message": {"messageId": "m1", "data": "%%%"}}, "message.data is not base64"),
        (
            {"message": {"messageId": "m1", "data": ""}, "deliveryAttempt": 0},
            "deliveryAttempt must be a positive integer",
        ),
    ],
)
def test_a_malformed_push_request_is_a_400_naming_the_problem(
    push: tuple[Any, MemoryBus, list[Any]], body: Any, message: str
) -> None:
    client, _, _ = push
    answer = client.post("/", data=json.dumps(body), content_type="application/json")
    assert answer.status_code == 400
    assert message in answer.get_json()["error"]["message"]


def test_a_poison_push_is_dead_lettered_with_its_reason_and_acked(push: tuple[Any, MemoryBus, list[Any]]) -> None:
    client, bus, _ = push
    answer = client.post("/", json=push_body(b'{"type": "qubic.network.snapshot.v1"'))
    assert answer.status_code == 200 and answer.get_json()["status"] == "dead_lettered"
    [dead] = bus.drain_dead_letters(QUBIC_TICKS)
    assert dead.reason.startswith("undecodable event") and dead.subscription == "qubic-ticks.analyzer"


def test_a_failing_handler_asks_pubsub_to_retry_until_the_last_attempt() -> None:
    bus = MemoryBus()
    store = MemoryStore()
    store.window_add = lambda *args: (_ for _ in ()).throw(ConnectionError("store down"))  # type: ignore[method-assign]
    client = load_analyzer_main().create_app(Analyzer(bus, store, window_s=3600)).test_client()
    first = client.post("/", json=push_body(an_observation_event(), attempt=1))
    last = client.post("/", json=push_body(an_observation_event(), attempt=bus.max_attempts))
    assert first.status_code == 503 and "store down" in first.get_json()["reason"]
    assert last.status_code == 200 and last.get_json()["status"] == "dead_lettered"


def test_analyzer_health_reports_the_store(push: tuple[Any, MemoryBus, list[Any]]) -> None:
    client, _, _ = push
    assert client.get("/healthz").get_json() == {"status": "ok"}

"""containers/narrator as Cloud Run runs it: Pub/Sub push requests on two endpoints, a health check."""

from __future__ import annotations

import base64
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import flask
import pytest

from qcl.bench.narrate import sample_onset_reports
from qcl.bus.memory import MemoryBus
from qcl.events import AI_INSIGHTS, AI_REQUESTS, NETWORK_ANALYSIS, AIRequest
from qcl.narrate.questions import QuestionMatcher
from qcl.narrate.service import Narrator
from qcl.pipeline.narrator import NarratorService
from qcl.store.memory import MemoryStore
from tests.backends import wait_for

ROOT = Path(__file__).resolve().parents[2]


def load_narrator_main() -> ModuleType:
    spec = importlib.util.spec_from_file_location("narrator_main", ROOT / "containers/narrator/main.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def push() -> tuple[Any, MemoryBus, list[Any]]:
    bus = MemoryBus()
    insights: list[Any] = []
    bus.subscribe(AI_INSIGHTS, "api", insights.append)
    narrator = Narrator(None, unavailable_reason="no weights here", matcher=QuestionMatcher(encoder=None))
    app: flask.Flask = load_narrator_main().create_app(NarratorService(bus, MemoryStore(), narrator))
    return app.test_client(), bus, insights


def push_body(data: bytes, subscription: str) -> dict[str, Any]:
    return {
        "message": {"data": base64.b64encode(data).decode(), "messageId": "m1", "attributes": {}},
        "subscription": f"projects/qcl-local/subscriptions/{subscription}",
        "deliveryAttempt": 1,
    }


def test_a_pushed_report_is_narrated_and_acked(push: tuple[Any, MemoryBus, list[Any]]) -> None:
    client, _, insights = push
    event = NETWORK_ANALYSIS.encode(NETWORK_ANALYSIS.event(sample_onset_reports()[1], source="//tests"))
    answer = client.post("/network-analysis", json=push_body(event, "network-analysis.narrator"))
    assert answer.status_code == 200 and answer.get_json()["status"] == "ok"
    assert wait_for(lambda: len(insights) == 2)
    assert insights[0].data.fallback_reason == "model_unavailable: no weights here"


def test_a_pushed_question_is_answered_and_acked(push: tuple[Any, MemoryBus, list[Any]]) -> None:
    client, _, insights = push
    request = AIRequest(request_id="r1", kind="question", question="What is the weather?", language="en")
    event = AI_REQUESTS.encode(AI_REQUESTS.event(request, source="//tests"))
    answer = client.post("/ai-requests", json=push_body(event, "ai-requests.narrator"))
    assert answer.status_code == 200
    assert wait_for(lambda: len(insights) == 1) and insights[0].data.request_id == "r1"


def test_a_poison_push_is_dead_lettered_on_its_own_topic(push: tuple[Any, MemoryBus, list[Any]]) -> None:
    client, bus, _ = push
    answer = client.post("/ai-requests", json=push_body(b"{not json", "ai-requests.narrator"))
    assert answer.get_json()["status"] == "dead_lettered"
    [dead] = bus.drain_dead_letters(AI_REQUESTS)
    assert dead.subscription == "ai-requests.narrator"


def test_a_malformed_push_request_is_a_400(push: tuple[Any, MemoryBus, list[Any]]) -> None:
    client, _, _ = push
    answer = client.post("/network-analysis", data="nope", content_type="application/json")
    assert answer.status_code == 400 and "message" in answer.get_json()["error"]["message"]


def test_health_is_ok_without_the_model_and_says_the_narrator_is_degraded(
    push: tuple[Any, MemoryBus, list[Any]],
) -> None:
    client, _, _ = push
    body = client.get("/healthz")
    assert body.status_code == 200
    assert body.get_json()["narrator"] | {"fallback_reasons": {}} == {
        "model": None,
        "mode": "templates",
        "degraded": True,
        "reason": "no weights here",
        "narratives": 0,
        "answers": 0,
        "grounded": 0,
        "fallback": 0,
        "fallback_reasons": {},
    }


def test_the_narrator_container_runs_job_workers_on_its_model(tmp_path: Path) -> None:
    """On Cloud Run the narrator (CPU always allocated) serves the compute layer's jobs from the shared store."""
    from qcl.compute.jobs import JobRequest
    from qcl.compute.quotas import open_jobs
    from qcl.config import load_settings
    from qcl.model.loading import load_model
    from qcl.model.service import GenerationService

    settings = load_settings(model_cache_dir=tmp_path / "models", jobs_workers=1)
    store = MemoryStore()
    with GenerationService(load_model("tiny-random-llama", settings, progress=None)) as model:
        service = NarratorService(MemoryBus(), store, Narrator(model, matcher=QuestionMatcher(encoder=None)))
        module = load_narrator_main()
        module.settings = lambda: settings  # the container reads its settings from the environment
        pool = module.start_job_workers(service)
        try:
            queue = open_jobs(settings, store)
            request = JobRequest.model_validate({"kind": "completion", "prompt": "Hello", "max_tokens": 4})
            (job,) = queue.submit(request.jobs(key_id="k1", now=queue.clock()))
            assert wait_for(lambda: (found := queue.get(job.id)) is not None and found.state == "done", 60)
        finally:
            pool.stop()


def test_without_a_model_the_narrator_container_runs_no_job_workers() -> None:
    narrator = Narrator(None, unavailable_reason="no weights here", matcher=QuestionMatcher(encoder=None))
    assert load_narrator_main().start_job_workers(NarratorService(MemoryBus(), MemoryStore(), narrator)) is None

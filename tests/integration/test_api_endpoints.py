"""The endpoints' behaviour, with real events on the memory bus consumed by the API's `api` consumer."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from qcl.api import ApiIngest, context
from qcl.api.schemas import Role
from qcl.events import AI_INSIGHTS, NETWORK_ANALYSIS, NODE_EVENTS, AIInsight, NodeEvent
from qcl.pipeline.analyzer import HISTORY_KEY, LATEST_KEY, WINDOW_KEY
from qcl.qubic.synth import generate_observations
from qcl.store.keys import INSIGHTS_RECENT
from qcl.store.memory import MemoryStore
from tests.backends import wait_for
from tests.integration.test_api_fixtures import (
    Api,
    ModelBusy,
    QuestionRefused,
    TemplateNarrator,
    make_api,
    report,
)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    instance = make_api(tmp_path, narrator=TemplateNarrator())
    yield instance
    instance.bus.close()


@pytest.fixture
def live(api: Api) -> Iterator[Api]:
    """The app with its consumer reading the bus, as `qcl up` runs it."""
    ingest = ApiIngest(api.services, context(api.app).broadcaster)
    ingest.start()
    yield api
    ingest.stop()


def insight(request_id: str | None = None, text: str = "health 90") -> AIInsight:
    return AIInsight(
        request_id=request_id,
        kind="answer",
        text=text,
        language="en",
        model="templates",
        grounded=True,
        fallback_used=True,
        confidence=1.0,
        sources=["health_score"],
        latency_ms=1.0,
    )


# -- errors --------------------------------------------------------------------------------------------


def test_an_unknown_url_answers_404_in_the_error_shape(api: Api) -> None:
    body = api.client.get("/api/nothing/here").json
    assert body["error"]["code"] == "not_found" and body["error"]["request_id"]


def test_a_wrong_method_answers_405_with_allow(api: Api) -> None:
    response = api.client.delete("/api/nodes", headers=api.headers(Role.ADMIN))
    assert response.status_code == 405 and "GET" in response.headers["Allow"]
    assert response.json["error"]["code"] == "method_not_allowed"


def test_a_validation_error_names_the_field(api: Api) -> None:
    response = api.client.post("/api/ai/question", headers=api.headers(Role.OPERATOR), json={"question": ""})
    assert response.status_code == 422
    assert response.json["error"]["field"] == "question"


def test_a_misspelt_field_is_named_not_ignored(api: Api) -> None:
    body = {"question": "ok?", "langauge": "en"}
    response = api.client.post("/api/ai/question", headers=api.headers(Role.OPERATOR), json=body)
    assert response.status_code == 422 and response.json["error"]["field"] == "langauge"


def test_a_body_that_is_not_json_answers_400(api: Api) -> None:
    response = api.client.post(
        "/api/ai/question", headers=api.headers(Role.OPERATOR), data=b"{nope", content_type="application/json"
    )
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_json"


def test_a_body_of_another_media_type_answers_415(api: Api) -> None:
    response = api.client.post("/api/ai/question", headers=api.headers(Role.OPERATOR), data="question=hi")
    assert response.status_code == 415


def test_a_bad_query_parameter_names_itself(api: Api) -> None:
    response = api.client.get("/api/network/history?limit=0", headers=api.headers(Role.VIEWER))
    assert response.status_code == 422 and response.json["error"]["field"] == "limit"


def test_a_time_without_an_offset_is_refused(api: Api) -> None:
    response = api.client.get("/api/network/history?from=2025-11-08T00:00:00", headers=api.headers(Role.VIEWER))
    assert response.status_code == 422 and response.json["error"]["field"] == "from"


def test_an_unexpected_failure_is_a_500_without_a_stack_trace(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    def boom() -> None:
        raise RuntimeError("secret internals")

    api.app.add_url_rule("/boom", "boom", boom)
    with caplog.at_level(logging.ERROR):
        response = api.client.get("/boom")
    assert response.status_code == 500
    assert "secret internals" not in response.get_data(as_text=True)
    assert response.json["error"]["request_id"] in response.json["error"]["message"]
    assert "secret internals" in caplog.text  # the trace is in the log, for the operator


# -- network -------------------------------------------------------------------------------------------


def test_latest_is_404_until_the_analyzer_wrote_a_report(api: Api) -> None:
    assert api.client.get("/api/network/latest", headers=api.headers(Role.VIEWER)).status_code == 404
    api.store.put(LATEST_KEY, report(77).model_dump_json())
    assert api.client.get("/api/network/latest", headers=api.headers(Role.VIEWER)).json["health_score"] == 77


def test_history_returns_the_range_oldest_first(api: Api) -> None:
    start = datetime(2025, 11, 8, tzinfo=UTC)
    for minute in range(5):
        api.store.list_push(
            HISTORY_KEY, report(90 - minute, start + timedelta(minutes=minute)).model_dump_json(), max_len=100
        )
    query = "from=2025-11-08T00:01:00Z&to=2025-11-08T00:03:00Z"
    reports = api.client.get(f"/api/network/history?{query}", headers=api.headers(Role.VIEWER)).json["reports"]
    assert [r["health_score"] for r in reports] == [89, 88, 87]
    newest_two = api.client.get("/api/network/history?limit=2", headers=api.headers(Role.VIEWER)).json["reports"]
    assert [r["health_score"] for r in newest_two] == [87, 86]


def test_history_refuses_a_range_that_ends_before_it_starts(api: Api) -> None:
    query = "from=2025-11-08T02:00:00Z&to=2025-11-08T01:00:00Z"
    response = api.client.get(f"/api/network/history?{query}", headers=api.headers(Role.VIEWER))
    assert response.status_code == 422 and response.json["error"]["field"] == "from"


def test_insights_are_read_from_the_narrators_list_newest_first_with_their_event_ids(api: Api) -> None:
    events = [AI_INSIGHTS.event(insight(text=f"n{n}"), source="//test/narrator") for n in range(3)]
    for event in events:
        api.store.list_push(INSIGHTS_RECENT.key(), event.model_dump_json(), max_len=10)
    api.store.list_push(INSIGHTS_RECENT.key(), "{not an insight", max_len=10)
    served = api.client.get("/api/insights?limit=4", headers=api.headers(Role.VIEWER)).json["insights"]
    assert [i["text"] for i in served] == ["n2", "n1", "n0"]  # the unreadable entry is skipped, the rest served
    assert [i["id"] for i in served] == [e.id for e in reversed(events)]
    assert [datetime.fromisoformat(i["time"]) for i in served] == [e.time for e in reversed(events)]


def test_whoami_names_the_key_and_its_role(api: Api) -> None:
    for role in Role:
        body = api.client.get("/api/auth/whoami", headers=api.headers(role)).json
        assert body == {"key_id": api.keys[role].split("_")[1], "role": role.value}


def test_asking_whoami_as_a_viewer_counts_no_authorisation_failure(api: Api) -> None:
    def refused() -> float:
        return REGISTRY.get_sample_value("qcl_auth_failures_total", {"reason": "forbidden"}) or 0.0

    before = refused()
    assert api.client.get("/api/auth/whoami", headers=api.headers(Role.VIEWER)).status_code == 200
    assert refused() == before
    api.client.get("/api/admin/keys", headers=api.headers(Role.VIEWER))  # the probe the dashboard no longer makes
    assert refused() == before + 1


# -- AI ------------------------------------------------------------------------------------------------


def ask(api: Api, question: str = "Is the network healthy?", **extra: Any) -> Any:
    return api.client.post("/api/ai/question", headers=api.headers(Role.OPERATOR, **extra), json={"question": question})


def test_a_question_is_answered_once_then_from_the_cache(api: Api) -> None:
    api.store.put(LATEST_KEY, report(88).model_dump_json())
    first, second = ask(api), ask(api, " is the NETWORK   healthy? ")
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit")
    assert first.json["text"] == second.json["text"] == "health 88"
    narrator = api.services.narrator
    assert isinstance(narrator, TemplateNarrator) and len(narrator.calls) == 1


def test_a_new_report_is_a_new_cache_entry(api: Api) -> None:
    api.store.put(LATEST_KEY, report(88, event_id="a").model_dump_json())
    ask(api)
    api.store.put(LATEST_KEY, report(60, event_id="b").model_dump_json())
    assert ask(api).json["text"] == "health 60"


def test_the_language_is_the_body_s_else_the_question_s_else_accept_language(api: Api) -> None:
    def language(question: str, body: str | None = None, **extra: str) -> str:
        payload = {"question": question} | ({"language": body} if body else {})
        response = api.client.post("/api/ai/question", headers=api.headers(Role.OPERATOR, **extra), json=payload)
        return str(response.json["language"])

    # A question says its language whatever the browser prefers; the body's field says it above all.
    assert language("Is the network healthy?", **{"Accept-Language": "zh-Hant-TW"}) == "en"
    assert language("網路健康嗎？", **{"Accept-Language": "en-GB,en;q=0.8"}) == "zh-TW"
    assert language("Is the network healthy?", "zh-TW") == "zh-TW"
    # Words of neither language: the header, else the product's first language.
    assert language("epoch?", **{"Accept-Language": "en-GB,en;q=0.8"}) == "en"
    assert language("epoch?", **{"Accept-Language": "zh-Hant-TW"}) == "zh-TW"
    assert language("epoch?") == "zh-TW"


def test_a_question_the_narrator_refuses_names_its_field(api: Api) -> None:
    narrator = api.services.narrator
    assert isinstance(narrator, TemplateNarrator)
    narrator.fail_with = QuestionRefused("question", "too long for the model")
    response = ask(api)
    assert response.status_code == 422 and response.json["error"]["field"] == "question"


def test_a_busy_model_answers_503_with_retry_after(api: Api) -> None:
    narrator = api.services.narrator
    assert isinstance(narrator, TemplateNarrator)
    narrator.fail_with = ModelBusy(retry_after_s=7)
    response = ask(api)
    assert response.status_code == 503 and response.headers["Retry-After"] == "7"
    assert response.json["error"]["code"] == "model_busy"


def test_without_a_narrator_questions_answer_503_and_status_says_absent(tmp_path: Path) -> None:
    bare = make_api(tmp_path)
    response = ask(bare)
    assert response.status_code == 503 and response.json["error"]["code"] == "narrator_unavailable"
    status = bare.client.get("/api/ai/status", headers=bare.headers(Role.VIEWER)).json
    assert status["narration"] == "absent" and "narrator_absent" in status["degraded"]


def test_a_failing_narrator_opens_the_model_breaker(api: Api) -> None:
    narrator = api.services.narrator
    assert isinstance(narrator, TemplateNarrator)
    narrator.fail_with = RuntimeError("model crashed")
    statuses = [ask(api, f"q{n}").status_code for n in range(6)]
    assert set(statuses) == {503}
    status = api.client.get("/api/ai/status", headers=api.headers(Role.VIEWER)).json
    assert status["breakers"]["model"] == "open" and "breaker_open:model" in status["degraded"]
    assert status["narration"] == "templates"


def test_analyze_a_capture_reports_unreadable_observations_as_findings(api: Api) -> None:
    observations = [
        o.model_dump(mode="json") for o in generate_observations(start=datetime(2025, 11, 8, tzinfo=UTC), hours=0.2)
    ]
    body = {"observations": [*observations, {"observed_at": "2025-11-08T01:00:00Z"}], "language": "en"}
    answer = api.client.post("/api/ai/analyze", headers=api.headers(Role.OPERATOR), json=body).json
    assert answer["observations"] == len(observations) and answer["invalid"] == 1
    assert any(f["code"] == "data_invalid" for f in answer["findings"])
    assert answer["narrative"]["language"] == "en" and answer["narrative_error"] is None


def test_analyze_a_stored_window(api: Api) -> None:
    for observation in generate_observations(start=datetime(2025, 11, 8, tzinfo=UTC), hours=0.2):
        api.store.window_add(WINDOW_KEY, observation.observed_at.timestamp(), observation.to_json_line())
    body = {"window": {"from": "2025-11-08T00:00:00Z", "to": "2025-11-08T00:05:00Z"}}
    answer = api.client.post("/api/ai/analyze", headers=api.headers(Role.OPERATOR), json=body).json
    assert 0 < answer["observations"] <= 11 and answer["report"]["metrics"] is not None


def test_analyze_without_a_narrator_still_returns_the_report(tmp_path: Path) -> None:
    bare = make_api(tmp_path)
    observations = [
        o.model_dump(mode="json") for o in generate_observations(start=datetime(2025, 11, 8, tzinfo=UTC), hours=0.1)
    ]
    answer = bare.client.post(
        "/api/ai/analyze", headers=bare.headers(Role.OPERATOR), json={"observations": observations}
    ).json
    assert answer["narrative"] is None and "narrator" in answer["narrative_error"]


def test_analyze_needs_a_capture_or_a_window(api: Api) -> None:
    response = api.client.post("/api/ai/analyze", headers=api.headers(Role.OPERATOR), json={"language": "en"})
    assert response.status_code == 422 and "observations" in response.json["error"]["message"]


def test_models_answer_503_when_the_registry_is_absent(api: Api) -> None:
    api.services.model_registry = None
    response = api.client.get("/api/ai/models", headers=api.headers(Role.VIEWER))
    assert response.status_code == 503


# -- tasks, nodes and the consumer ---------------------------------------------------------------------


def test_a_task_without_an_answer_reads_as_failed_after_its_timeout(tmp_path: Path) -> None:
    quick = make_api(tmp_path, task_timeout_s=0.05)
    task_id = quick.client.post("/api/tasks", headers=quick.headers(Role.OPERATOR), json={"kind": "narration"}).json[
        "id"
    ]
    assert wait_for(
        lambda: (
            quick.client.get(f"/api/tasks/{task_id}", headers=quick.headers(Role.OPERATOR)).json["state"] == "failed"
        )
    )
    error = quick.client.get(f"/api/tasks/{task_id}", headers=quick.headers(Role.OPERATOR)).json["error"]
    assert error["code"] == "task_timeout"


def test_submitting_a_task_is_audited_with_the_key(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="qcl.audit"):
        api.client.post("/api/tasks", headers=api.headers(Role.OPERATOR), json={"kind": "narration"})
    operator_id = api.keys[Role.OPERATOR].split("_")[1]
    assert any(getattr(r, "audit", {}).get("actor") == operator_id for r in caplog.records)


def test_without_a_bus_a_task_is_refused_and_not_kept(tmp_path: Path) -> None:
    busless = make_api(tmp_path)
    busless.services.bus = None
    response = busless.client.post("/api/tasks", headers=busless.headers(Role.OPERATOR), json={"kind": "narration"})
    assert response.status_code == 503 and response.json["error"]["code"] == "bus_unavailable"


def test_node_events_become_nodes_and_topology(live: Api) -> None:
    def node(node_id: str, role: Any, kind: Any, at: datetime) -> None:
        event = NODE_EVENTS.event(NodeEvent(node_id=node_id, role=role, kind=kind), source="//test")
        live.bus.publish(NODE_EVENTS, event.model_copy(update={"time": at}))

    now = datetime.now(UTC)
    node("shard-0", "shard", "joined", now)
    node("shard-1", "shard", "failed", now)
    node("oracle-0", "oracle", "joined", now)
    node("shard-0", "shard", "failed", now - timedelta(minutes=5))  # older than what is known: ignored
    assert live.bus.wait_idle()
    nodes = {
        n["node_id"]: n["state"] for n in live.client.get("/api/nodes", headers=live.headers(Role.VIEWER)).json["nodes"]
    }
    assert nodes == {"shard-0": "up", "shard-1": "down", "oracle-0": "up"}
    topology = live.client.get("/api/topology", headers=live.headers(Role.VIEWER)).json
    assert (topology["shard_pool"]["up"], topology["shard_pool"]["total"]) == (1, 2)
    assert "nodes_down" in live.client.get("/api/ai/status", headers=live.headers(Role.VIEWER)).json["degraded"]


def test_an_analysis_event_updates_the_pipeline_metrics(live: Api) -> None:
    live.bus.publish(NETWORK_ANALYSIS, NETWORK_ANALYSIS.event(report(42), source="//test/analyzer"))
    assert live.bus.wait_idle()
    text = live.client.get("/metrics", headers=live.headers(Role.VIEWER)).get_data(as_text=True)
    assert "qcl_network_health_score 42.0" in text
    assert 'qcl_bus_events_consumed_total{consumer="api",topic="network-analysis"}' in text


# -- status, readiness, metrics, admin -----------------------------------------------------------------


class UnreachableStore(MemoryStore):
    """A store whose server is gone: every call fails as a dropped connection does."""

    def ping(self) -> bool:
        return False

    def get(self, key: str) -> str | None:
        raise ConnectionError("store down")

    def take_tokens(self, name: str, *, capacity: float, refill_per_s: float, cost: float = 1.0) -> float:
        raise ConnectionError("store down")


def test_readyz_fails_when_the_store_does_not_answer(tmp_path: Path) -> None:
    down = make_api(tmp_path, store=UnreachableStore())
    response = down.client.get("/readyz")
    assert response.status_code == 503 and "store" in response.json["error"]["message"]


def test_a_failing_store_answers_503_and_opens_its_breaker(tmp_path: Path) -> None:
    down = make_api(tmp_path, store=UnreachableStore())
    statuses = {down.client.get("/api/network/latest", headers=down.headers(Role.VIEWER)).status_code for _ in range(6)}
    assert statuses == {503}
    assert down.services.breakers.states()["store"] == "open"


class Generation:
    def __init__(self, healthy: bool) -> None:
        self.healthy = healthy

    def status(self) -> dict[str, Any]:
        return {"model": "tiny-random-llama", "queue_depth": 3, "tokens_per_s": 12.5}

    def health_check(self) -> bool:
        return self.healthy


def test_readyz_asks_the_model_for_a_tiny_forward_pass(api: Api) -> None:
    api.services.generation = Generation(healthy=False)
    assert api.client.get("/readyz").status_code == 503
    api.services.generation = Generation(healthy=True)
    assert api.client.get("/readyz").json["checks"]["model"]["ok"] is True


def test_status_and_metrics_report_the_model_runtime(api: Api) -> None:
    api.services.generation = Generation(healthy=True)
    status = api.client.get("/api/ai/status", headers=api.headers(Role.VIEWER)).json
    assert status["narration"] == "model" and status["queue_depth"] == 3
    text = api.client.get("/metrics", headers=api.headers(Role.VIEWER)).get_data(as_text=True)
    assert 'qcl_queue_depth{queue="model"} 3.0' in text
    assert 'qcl_model_tokens_per_second{model="tiny-random-llama"} 12.5' in text


def test_metrics_report_the_job_queue_the_runtimes_autoscale_on(api: Api) -> None:
    from qcl.compute.jobs import JobRequest

    jobs = api.services.jobs
    body = {"kind": "completion", "prompts": ["a", "b", "c"], "max_tokens": 4}
    jobs.submit(JobRequest.model_validate(body).jobs(key_id="k1", now=jobs.clock()))
    jobs.submit(JobRequest.model_validate({**body, "priority": "interactive"}).jobs(key_id="k1", now=jobs.clock()))
    assert jobs.claim("w1", ("interactive",)) is not None
    text = api.client.get("/metrics", headers=api.headers(Role.VIEWER)).get_data(as_text=True)
    assert 'qcl_jobs_queued{priority="batch"} 3.0' in text
    assert 'qcl_jobs_queued{priority="interactive"} 2.0' in text
    assert "qcl_jobs_running 1.0" in text


def test_requests_are_counted_by_route_template_and_status(api: Api) -> None:
    api.client.get("/api/tasks/nope", headers=api.headers(Role.VIEWER))
    text = api.client.get("/metrics", headers=api.headers(Role.VIEWER)).get_data(as_text=True)
    assert 'qcl_http_requests_total{method="GET",route="/api/tasks/<task_id>",status="404"}' in text


def test_an_admin_creates_and_revokes_keys_through_the_api(api: Api) -> None:
    created = api.client.post("/api/admin/keys", headers=api.headers(Role.ADMIN), json={"role": "viewer", "name": "ci"})
    assert created.status_code == 201
    key, key_id = created.json["key"], created.json["id"]
    assert api.client.get("/api/nodes", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    listed = api.client.get("/api/admin/keys", headers=api.headers(Role.ADMIN)).json["keys"]
    assert key_id in {k["id"] for k in listed} and all("key" not in k and "hash" not in k for k in listed)
    assert api.client.delete(f"/api/admin/keys/{key_id}", headers=api.headers(Role.ADMIN)).json["revoked_at"]
    assert api.client.get("/api/nodes", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert api.client.delete("/api/admin/keys/0badc0de", headers=api.headers(Role.ADMIN)).status_code == 404


def test_settings_are_shown_to_admins_with_secrets_redacted(tmp_path: Path) -> None:
    peppered = make_api(tmp_path, api_key_pepper="a-pepper-of-enough-length")
    settings = peppered.client.get("/api/admin/settings", headers=peppered.headers(Role.ADMIN)).json["settings"]
    assert settings["api_key_pepper"] == "**redacted**" and settings["port"] == 8080


def test_the_dashboard_is_served_when_built_and_a_fallback_page_when_not(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    bare = make_api(tmp_path / "a", web_dist=dist)
    assert "not built" in bare.client.get("/").get_data(as_text=True)
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<div id=root></div>")
    (dist / "assets" / "app.js").write_text("console.log(1)")
    built = make_api(tmp_path / "b", web_dist=dist)
    assert built.client.get("/").get_data(as_text=True) == "<div id=root></div>"
    assert built.client.get("/assets/app.js").status_code == 200
    assert built.client.get("/assets/missing.js").status_code == 404

"""/api/workflows: deploy with line-numbered refusals, runs with their steps, cancel, roles, and the connector route
that deployed Cloud Workflows call."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from qcl.api.schemas import Role
from tests.integration.test_api_fixtures import Api, TemplateNarrator, make_api, report
from tests.integration.workflow_fixtures import example, load_observations

ADDER = "main:\n  params: [args]\n  steps:\n    - r:\n        return: ${args.x + 1}\n"
SLEEPER = "main:\n  steps:\n    - nap:\n        call: sys.sleep\n        args:\n          seconds: 30\n"


@pytest.fixture
def api(tmp_path: Path) -> Api:
    return make_api(tmp_path, narrator=TemplateNarrator())


def deploy(api: Api, name: str, source: str, role: Role = Role.OPERATOR) -> tuple[int, dict[str, object]]:
    answer = api.client.post("/api/workflows", json={"name": name, "source": source}, headers=api.headers(role))
    return answer.status_code, answer.get_json()


def test_deploy_needs_an_operator_and_reading_a_viewer(api: Api) -> None:
    assert deploy(api, "adder", ADDER, Role.VIEWER)[0] == 403
    assert api.client.post("/api/workflows", json={"name": "adder", "source": ADDER}).status_code == 401
    assert deploy(api, "adder", ADDER)[0] == 201
    listed = api.client.get("/api/workflows", headers=api.headers(Role.VIEWER)).get_json()
    assert [w["name"] for w in listed["workflows"]] == ["adder"]


def test_an_invalid_file_answers_422_with_its_line(api: Api) -> None:
    status, body = deploy(api, "bad", "main:\n  steps:\n    - a:\n        call: qcl.nope\n")
    assert status == 422
    assert body["error"]["field"] == "source"  # type: ignore[index]
    assert body["error"]["message"].startswith("line 3: step 'a': unknown connector")  # type: ignore[index]
    assert deploy(api, "Bad", ADDER)[0] == 422  # the name's pattern


def test_redeploying_the_same_source_keeps_the_revision(api: Api) -> None:
    assert deploy(api, "adder", ADDER)[1]["revision"] == 1
    status, body = deploy(api, "adder", ADDER)
    assert (status, body["revision"], body["created"]) == (200, 1, False)
    assert deploy(api, "adder", ADDER.replace("+ 1", "+ 2"))[1]["revision"] == 2
    shown = api.client.get("/api/workflows/adder", headers=api.headers(Role.VIEWER)).get_json()
    assert shown["revisions"] == [1, 2] and shown["latest"]["revision"] == 2
    assert api.client.get("/api/workflows/nothing", headers=api.headers(Role.VIEWER)).status_code == 404


def test_run_waits_for_the_result_and_the_execution_shows_its_steps(api: Api) -> None:
    load_observations(api.store)
    deploy(api, "epoch-report", example("epoch_report"))
    answer = api.client.post(
        "/api/workflows/epoch-report/executions",
        json={"argument": {"epoch": 187}, "wait_s": 30},
        headers=api.headers(Role.OPERATOR),
    )
    assert answer.status_code == 200, answer.get_json()
    record = answer.get_json()
    assert record["state"] == "succeeded" and record["revision"] == 1
    assert record["result"]["narratives"]["en"].startswith("health ")
    detail = api.client.get(answer.headers["Location"], headers=api.headers(Role.VIEWER)).get_json()
    top = [s["step"] for s in detail["steps"] if s["path"].count("/") == 1]
    assert top == ["init", "analyse", "narrate", "certify", "tell_subscribers", "done"]
    assert detail["steps"][0]["variables"]["epoch"] == 187 and detail["steps"][-1]["outcome"] == "return"
    listed = api.client.get("/api/workflows/epoch-report/executions", headers=api.headers(Role.VIEWER)).get_json()
    assert [e["id"] for e in listed["executions"]] == [record["id"]]


def test_run_of_an_unknown_workflow_is_404_and_a_bad_body_422(api: Api) -> None:
    headers = api.headers(Role.OPERATOR)
    assert api.client.post("/api/workflows/nothing/executions", json={}, headers=headers).status_code == 404
    deploy(api, "adder", ADDER)
    bad = api.client.post("/api/workflows/adder/executions", json={"wait_s": 999}, headers=headers)
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "wait_s"


def test_cancel_stops_a_running_execution(api: Api) -> None:
    deploy(api, "sleeper", SLEEPER)
    headers = api.headers(Role.OPERATOR)
    started = api.client.post("/api/workflows/sleeper/executions", json={}, headers=headers)
    assert started.status_code == 202
    execution_id = started.get_json()["id"]
    time.sleep(0.2)
    assert (
        api.client.post(
            f"/api/workflows/executions/{execution_id}/cancel", headers=api.headers(Role.VIEWER)
        ).status_code
        == 403
    )
    cancelled = api.client.post(f"/api/workflows/executions/{execution_id}/cancel", headers=headers)
    assert cancelled.status_code == 202 and cancelled.get_json()["state"] == "cancelled"
    missing = api.client.post("/api/workflows/executions/nope/cancel", headers=headers)
    assert missing.status_code == 404


def test_connector_route_runs_the_same_connector_as_the_executor(api: Api) -> None:
    headers = api.headers(Role.OPERATOR)
    body = {"report": report(score=77).model_dump(mode="json"), "language": "en"}
    answer = api.client.post("/api/workflows/connectors/narrate", json=body, headers=headers)
    assert answer.status_code == 200
    assert answer.get_json()["result"]["text"] == "health 77 (degraded)"
    bad = api.client.post("/api/workflows/connectors/narrate", json={**body, "language": "fr"}, headers=headers)
    assert bad.status_code == 400 and "language" in bad.get_json()["error"]["message"]
    assert api.client.post("/api/workflows/connectors/nope", json={}, headers=headers).status_code == 404
    # A connector this instance cannot run (no model here) is unavailable, not unknown: the contract lists it.
    no_model = api.client.post("/api/workflows/connectors/complete", json={"prompt": "hi"}, headers=headers)
    assert no_model.status_code == 503 and "no model is running" in no_model.get_json()["error"]["message"]
    operation = api.client.get("/api/openapi.json").get_json()["paths"]["/api/workflows/connectors/{connector}"]
    assert "complete" in operation["post"]["parameters"][0]["schema"]["enum"]
    no_data = api.client.post("/api/workflows/connectors/analyze", json={}, headers=headers)
    assert no_data.status_code == 404


def test_a_notification_reaches_the_live_stream(tmp_path: Path) -> None:
    from qcl.api import ApiIngest, context
    from qcl.api.stream import EventLog

    api = make_api(tmp_path, narrator=TemplateNarrator())
    ingest = ApiIngest(api.services, context(api.app).broadcaster)
    ingest.start()
    try:
        notify = "main:\n  steps:\n    - n:\n        call: qcl.notify\n        args:\n          message: hello\n"
        deploy(api, "notifier", notify)
        answer = api.client.post(
            "/api/workflows/notifier/executions", json={"wait_s": 10}, headers=api.headers(Role.OPERATOR)
        )
        assert answer.get_json()["state"] == "succeeded"
        log = EventLog(api.services)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not [e for e in log.read_after(0) if e["type"] == "workflow"]:
            time.sleep(0.05)
        streamed = [e for e in log.read_after(0) if e["type"] == "workflow"]
        assert streamed and streamed[0]["data"]["message"] == "hello"
        assert streamed[0]["data"]["workflow"] == "notifier"
    finally:
        ingest.stop()

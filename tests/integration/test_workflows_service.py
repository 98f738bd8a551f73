"""The workflow service on every store backend: revisions, executions with their steps, the example workflows end to
end with the real connectors, triggers, cancel, and the Cloud Workflows translation."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from qcl.bus.memory import MemoryBus
from qcl.events import NETWORK_ANALYSIS, ORACLE_REQUESTS, WORKFLOW_EVENTS, Envelope
from qcl.store.base import Store
from qcl.workflows.definition import compile_workflow
from qcl.workflows.errors import WorkflowSyntaxError
from qcl.workflows.gcp import translate
from qcl.workflows.triggers import TriggerRunner, cron_matches
from tests.integration.workflow_fixtures import EXAMPLES, ROOT, example, load_observations, make_service

SMALL = "main:\n  params: [args]\n  steps:\n    - r:\n        return: ${args.x + %d}\n"


def collect(bus: MemoryBus, topic: Any, consumer: str) -> list[Envelope[Any]]:
    seen: list[Envelope[Any]] = []
    bus.subscribe(topic, consumer, seen.append)
    return seen


def test_each_deploy_is_a_new_revision_and_executions_record_theirs(store: Store) -> None:
    service = make_service(store, None)
    first = service.deploy("adder", SMALL % 1)
    same = service.deploy("adder", SMALL % 1)
    second = service.deploy("adder", SMALL % 2)
    assert (first["revision"], first["created"]) == (1, True)
    assert (same["revision"], same["created"]) == (1, False)
    assert (second["revision"], second["created"]) == (2, True)
    assert first["revision_id"] != second["revision_id"] and first["digest"] != second["digest"]
    latest = service.run("adder", {"x": 10}, wait_s=10)
    pinned = service.run("adder", {"x": 10}, wait_s=10, revision=1)
    assert (latest["state"], latest["result"], latest["revision"]) == ("succeeded", 12, 2)
    assert (pinned["result"], pinned["revision"]) == (11, 1)
    assert service.repo.revision("adder", 1)["source"] == SMALL % 1  # never rewritten
    assert [r["id"] for r in service.repo.executions("adder")] == [pinned["id"], latest["id"]]
    assert service.repo.active() == []


def test_a_failed_execution_keeps_the_error_and_the_steps_before_it(store: Store) -> None:
    service = make_service(store, None)
    service.deploy("fails", "main:\n  steps:\n    - a:\n        assign:\n          - x: 1\n    - b:\n"
                   "        raise:\n          message: broken\n")  # fmt: skip
    record = service.run("fails", None, wait_s=10)
    assert record["state"] == "failed" and record["error"] == {"message": "broken"}
    steps = service.steps(record["id"])
    assert [(s["step"], "error" in s) for s in steps] == [("a", False), ("b", True)]
    assert steps[0]["frames"][-1]["x"] == 1


def test_an_invalid_file_or_unknown_connector_is_refused_at_deploy(store: Store) -> None:
    service = make_service(store, None)
    with pytest.raises(WorkflowSyntaxError, match=r"line 3: step 'a': unknown connector or subworkflow 'qcl.tell'"):
        service.deploy("bad", "main:\n  steps:\n    - a:\n        call: qcl.tell\n")
    with pytest.raises(WorkflowSyntaxError, match="name 'Bad Name'"):
        service.deploy("Bad Name", SMALL % 1)
    assert service.repo.names() == []


def test_epoch_report_example_analyses_narrates_certifies_and_notifies(store: Store) -> None:
    bus = MemoryBus()
    notes, jobs = collect(bus, WORKFLOW_EVENTS, "api"), collect(bus, ORACLE_REQUESTS, "oracle")
    observations = load_observations(store)
    service = make_service(store, bus)
    service.deploy("epoch-report", example("epoch_report"))
    epoch = observations[-1].stats.epoch
    record = service.run("epoch-report", {"epoch": epoch}, wait_s=60)
    assert record["state"] == "succeeded", record["error"]
    result = record["result"]
    assert result["epoch"] == epoch and 0 <= result["health_score"] <= 100
    assert set(result["narratives"]) == {"zh-TW", "en"}
    assert f"Epoch {epoch}" in result["narratives"]["en"] and "健康分數" in result["narratives"]["zh-TW"]
    deadline = time.monotonic() + 5
    while (not notes or not jobs) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [j.data.job_id for j in jobs] == [result["oracle_job"]]
    assert notes[0].id == result["notification"]
    assert notes[0].data.workflow == "epoch-report" and notes[0].data.execution_id == record["id"]


def test_epoch_report_without_observations_fails_naming_the_cause(store: Store) -> None:
    service = make_service(store, MemoryBus())
    service.deploy("epoch-report", example("epoch_report"))
    record = service.run("epoch-report", {"epoch": 1}, wait_s=30)
    assert record["state"] == "failed"
    assert record["error"]["code"] == 404 and "no stored observations" in record["error"]["message"]


def test_question_batch_example_answers_in_the_order_asked(store: Store) -> None:
    load_observations(store)
    service = make_service(store, MemoryBus())
    service.deploy("question-batch", example("question_batch"))
    questions = ["What is the price trend?", "Is the network healthy?", "How fast do ticks advance?"]
    record = service.run("question-batch", {"questions": questions}, wait_s=60)
    assert record["state"] == "succeeded", record["error"]
    answers = record["result"]["answers"]
    assert record["result"]["count"] == 3
    assert "price" in answers[0].lower() and "health" in answers[1].lower() and "tick" in answers[2].lower()
    refused = service.run("question-batch", {"questions": []}, wait_s=10)
    assert refused["state"] == "failed" and refused["error"]["tags"] == ["ValueError"]


def _report_event(store: Store, status: str, *, epoch: int | None = None) -> Envelope[Any]:
    from qcl.analysis import AnalysisReport

    latest = json.loads(store.get("analysis:latest") or "{}")
    latest["status"] = status
    if status == "critical":
        latest["health_score"] = 20
        finding = {
            "code": "tick_stall", "severity": "critical", "observed_at": latest["observed_at"], "tick": 1,
            "metric": "tick_info.duration_s", "value": 600.0, "threshold": 120.0,
            "message_en": "no new tick for 600 s", "message_zh": "600 秒沒有新 tick", "evidence": {},
        }  # fmt: skip
        latest["findings"] = [*latest["findings"], finding]
    if epoch is not None:
        latest["metrics"]["epoch"] = epoch
    return NETWORK_ANALYSIS.event(AnalysisReport.model_validate(latest), source="//test")


def test_critical_alert_runs_once_per_critical_report_from_its_topic_trigger(store: Store) -> None:
    bus = MemoryBus()
    notes = collect(bus, WORKFLOW_EVENTS, "api")
    load_observations(store)
    service = make_service(store, bus)
    triggers = json.loads((EXAMPLES / "triggers.json").read_text())["critical-alert"]
    service.deploy("critical-alert", example("critical_alert"), triggers=triggers)
    runner = TriggerRunner(service)
    assert runner.on_event("network-analysis", _report_event(store, "healthy")) == []
    critical = _report_event(store, "critical")
    started = runner.on_event("network-analysis", critical)
    assert runner.on_event("network-analysis", critical) == []  # delivered twice: one execution
    assert len(started) == 1
    record = service.wait(started[0], 30)
    assert record["state"] == "succeeded", record["error"]
    assert record["result"]["findings"] == ["tick_stall"] and record["trigger"] == "topic:network-analysis"
    deadline = time.monotonic() + 5
    while not notes and time.monotonic() < deadline:
        time.sleep(0.02)
    assert notes[0].data.severity == "critical" and "tick_stall" in notes[0].data.message


def test_epoch_change_trigger_compares_with_the_previous_event(store: Store) -> None:
    load_observations(store)
    service = make_service(store, MemoryBus())
    condition = json.loads((EXAMPLES / "triggers.json").read_text())["epoch-report"]
    service.deploy("epoch-report", example("epoch_report"), triggers=condition)
    runner = TriggerRunner(service)
    epoch = json.loads(store.get("analysis:latest") or "{}")["metrics"]["epoch"]
    assert runner.on_event("network-analysis", _report_event(store, "healthy", epoch=epoch)) == []  # no previous
    assert runner.on_event("network-analysis", _report_event(store, "healthy", epoch=epoch)) == []  # same epoch
    started = runner.on_event("network-analysis", _report_event(store, "healthy", epoch=epoch + 1))
    assert len(started) == 1
    assert service.wait(started[0], 30)["argument"]["data"]["metrics"]["epoch"] == epoch + 1


def test_topic_trigger_subscribes_on_the_bus(store: Store) -> None:
    bus = MemoryBus()
    load_observations(store)
    service = make_service(store, bus, lease_s=2.0)
    service.deploy("adder", "main:\n  params: [event]\n  steps:\n    - r:\n        return: ${event.data.status}\n",
                   triggers=[{"topic": "network-analysis"}])  # fmt: skip
    service.start_background(bus)
    try:
        bus.publish(NETWORK_ANALYSIS, _report_event(store, "degraded"))
        deadline = time.monotonic() + 10
        while not service.repo.executions("adder") and time.monotonic() < deadline:
            time.sleep(0.05)
        record = service.wait(service.repo.executions("adder")[0]["id"], 10)
        assert record["result"] == "degraded"
    finally:
        service.close()


def test_a_schedule_slot_starts_one_execution_across_executors(store: Store) -> None:
    first, second = make_service(store, None), make_service(store, None)
    first.deploy("ticker", SMALL % 0, triggers=[{"every_s": 60}])
    now = 1_800_000_000.0
    started = TriggerRunner(first).fire_schedules(now) + TriggerRunner(second).fire_schedules(now + 1)
    assert len(started) == 1
    assert len(TriggerRunner(second).fire_schedules(now + 61)) == 1  # the next slot


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({"topic": "qubic-ticks"}, "cannot trigger workflows"),
        ({"topic": "network-analysis", "condition": "${1 +}"}, "condition must be an expression"),
        ({"every_s": 0}, "every_s must be"),
        ({"cron": "61 * * * *"}, "outside 0-59"),
        ({"cron": "* * *"}, "5 fields"),
        ({"topic": "network-analysis", "every_s": 5}, "exactly one of"),
    ],
)
def test_an_invalid_trigger_is_refused_at_deploy(store: Store, spec: dict[str, Any], reason: str) -> None:
    with pytest.raises(WorkflowSyntaxError, match=reason):
        make_service(store, None).deploy("adder", SMALL % 1, triggers=[spec])


def test_cron_lite_matches_minute_hour_and_weekday() -> None:
    from datetime import UTC, datetime

    wednesday_noon = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert cron_matches("0 12 * * 3", wednesday_noon)
    assert not cron_matches("0 12 * * 4", wednesday_noon)
    assert cron_matches("*/15 10-14 * 12 *", wednesday_noon)


def test_cancel_stops_a_sleeping_execution(store: Store) -> None:
    service = make_service(store, None)
    service.deploy("sleeper", "main:\n  steps:\n    - nap:\n        call: sys.sleep\n        args:\n"
                   "          seconds: 30\n    - r:\n        return: woke\n")  # fmt: skip
    record = service.start("sleeper")
    assert record is not None
    threading.Timer(0.3, service.cancel, args=(record["id"],)).start()
    started = time.monotonic()
    done = service.wait(record["id"], 10)
    assert done["state"] == "cancelled" and time.monotonic() - started < 5


def test_argument_over_the_payload_limit_is_refused(store: Store) -> None:
    from qcl.workflows import LimitExceeded, Limits

    service = make_service(store, None, limits=Limits(max_payload_bytes=1000))
    service.deploy("adder", SMALL % 1)
    with pytest.raises(LimitExceeded, match="the limit is 1000"):
        service.start("adder", {"x": "a" * 2000})


@pytest.mark.parametrize("name", ["epoch_report", "critical_alert", "question_batch"])
def test_translation_for_cloud_workflows_turns_qcl_calls_into_authenticated_posts(name: str) -> None:
    source = translate(example(name))
    assert "qcl." not in source.replace("qcl.*", "")
    workflow = compile_workflow(source, calls={"http.post"})  # deployable with no qcl connector at all
    posts = [s for s in _all_steps(workflow.main.steps) if s.kind == "call"]
    http = [s for s in posts if s.body["call"] == "http.post"]
    base = '${sys.get_env("QCL_API_BASE")}'  # the API's QCL_OIDC_AUDIENCE, not the connector's full URL
    assert http and all(s.body["args"]["auth"] == {"type": "OIDC", "audience": base} for s in http)
    assert all('sys.get_env("QCL_API_BASE")' in s.body["args"]["url"] for s in http)
    original = compile_workflow(example(name), calls={f"qcl.{c}" for c in ("analyze", "narrate", "ask", "oracle",
                                                                             "notify", "complete")})  # fmt: skip
    assert [s.name for s in original.main.steps] == [s.name for s in workflow.main.steps]  # every next still lands


@pytest.mark.parametrize("name", ["epoch_report", "critical_alert", "question_batch"])
def test_the_committed_gcp_sources_are_the_translation(name: str) -> None:
    committed = (ROOT / "workflows" / "gcp" / f"{name}.yaml").read_text(encoding="utf-8")
    assert committed == translate(example(name)), (
        f"regenerate: qcl workflows translate workflows/{name}.yaml > workflows/gcp/{name}.yaml"
    )


def _all_steps(steps: list[Any]) -> list[Any]:
    found = []
    for step in steps:
        found.append(step)
        for block in step.blocks.values():
            found += _all_steps(block)
    return found


def test_deploy_folder_deploys_every_example_with_its_triggers(store: Store) -> None:
    from qcl.workflows.service import deploy_folder

    service = make_service(store, None)
    lines = deploy_folder(service, EXAMPLES)
    assert [line.split()[1] for line in lines] == ["critical-alert", "epoch-report", "question-batch"]
    assert service.repo.revision("critical-alert")["triggers"][0]["topic"] == "network-analysis"
    assert deploy_folder(service, EXAMPLES / "missing") == []


def test_a_finished_journal_is_sealed_into_a_value_that_expires(store: Store) -> None:
    service = make_service(store, None)
    service.deploy("adder", SMALL % 1)
    record = service.run("adder", {"x": 1}, wait_s=10)
    assert store.list_range(f"wf:journal:{record['id']}", 10) == []
    assert store.get(f"wf:journal-sealed:{record['id']}") is not None
    assert [s["step"] for s in service.steps(record["id"])] == ["r"]

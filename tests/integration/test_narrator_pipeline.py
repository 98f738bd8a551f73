"""network-analysis / ai-requests -> narrator -> ai-insights, on every bus and store backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Literal

import pytest

from qcl.analysis.report import AnalysisReport
from qcl.bench.narrate import sample_onset_reports
from qcl.bus.base import Bus
from qcl.events import AI_INSIGHTS, AI_REQUESTS, NETWORK_ANALYSIS, AIInsight, AIRequest, Envelope
from qcl.narrate.questions import NO_REPORT, QuestionMatcher
from qcl.narrate.service import Narrator
from qcl.pipeline.analyzer import LATEST_KEY
from qcl.pipeline.narrator import (
    LAST_NARRATED_KEY,
    RECENT_KEY,
    NarrationPolicy,
    NarratorService,
)
from qcl.store.base import Store
from qcl.tasks import TaskBoard, TaskView, step_key
from tests.backends import wait_for
from tests.unit.test_narrator import ScriptedModel


@cache
def reports() -> list[AnalysisReport]:
    return sample_onset_reports()


def stall_report() -> AnalysisReport:
    return next(r for r in reports() if any(f.code == "tick_stall" for f in r.findings))


@pytest.fixture
def insights(bus: Bus) -> list[Envelope[AIInsight]]:
    received: list[Envelope[AIInsight]] = []
    bus.subscribe(AI_INSIGHTS, "api", received.append)
    return received


def service(bus: Bus, store: Store, model: ScriptedModel | None = None, **policy: object) -> NarratorService:
    narrator = Narrator(model, matcher=QuestionMatcher(encoder=None))
    running = NarratorService(bus, store, narrator, policy=NarrationPolicy(**policy))  # type: ignore[arg-type]
    running.subscribe()
    return running


def publish_report(bus: Bus, report: AnalysisReport, *, event_id: str | None = None, age_s: float = 0) -> str:
    event = NETWORK_ANALYSIS.event(report, source="//tests", subject="tick/1", event_id=event_id)
    if age_s:
        event = event.model_copy(update={"time": datetime.now(UTC) - timedelta(seconds=age_s)})
    bus.publish(NETWORK_ANALYSIS, event)
    return event.id


def ask(bus: Bus, request: AIRequest) -> str:
    event = AI_REQUESTS.event(request, source="//tests")
    bus.publish(AI_REQUESTS, event)
    return event.id


def test_a_report_is_narrated_once_per_language_and_kept_in_the_store(
    bus: Bus, store: Store, insights: list[Envelope[AIInsight]]
) -> None:
    service(bus, store)
    publish_report(bus, stall_report())
    assert wait_for(lambda: len(insights) == 2)
    assert [i.data.language for i in insights] == ["zh-TW", "en"]
    assert all(i.data.kind == "narrative" and i.data.fallback_used for i in insights)
    assert all(i.data.report_observed_at == stall_report().observed_at for i in insights)
    # The narrator keeps each insight after publishing it: a fast bus may deliver it before the second is kept.
    assert wait_for(lambda: len(store.list_range(RECENT_KEY, 10)) == 2)
    recent = [Envelope[AIInsight].model_validate_json(raw) for raw in store.list_range(RECENT_KEY, 10)]
    assert recent == list(reversed(insights))  # as published: the API shows each insight with its event id and time
    assert store.get("insights:narrative:en") is None  # the recent list is the one copy kept


def test_a_redelivered_report_publishes_nothing_new(
    bus: Bus, store: Store, insights: list[Envelope[AIInsight]]
) -> None:
    running = service(bus, store)
    event = NETWORK_ANALYSIS.event(stall_report(), source="//tests", event_id="report-1")
    running.handle_report(event)
    running.handle_report(event)
    assert wait_for(lambda: len(insights) == 2)
    assert len(store.list_range(RECENT_KEY, 10)) == 2


def test_insight_ids_derive_from_the_report_event_so_downstream_sees_one_event(
    bus: Bus, store: Store, insights: list[Envelope[AIInsight]]
) -> None:
    running = NarratorService(bus, store, Narrator(None, matcher=QuestionMatcher(encoder=None)))
    event = NETWORK_ANALYSIS.event(stall_report(), source="//tests", event_id="report-2")
    running.handle_report(event)
    store.delete("narrator:done:report-2")
    store.delete(LAST_NARRATED_KEY)
    running.handle_report(event)  # as if the done-key write had been lost
    assert wait_for(lambda: len(insights) == 4)
    assert [i.id for i in insights[:2]] == [i.id for i in insights[2:]]


def test_an_unchanged_report_is_not_narrated_again(bus: Bus, store: Store, insights: list[Envelope[AIInsight]]) -> None:
    service(bus, store, languages=("en",))
    report = stall_report()
    publish_report(bus, report, event_id="first")
    assert wait_for(lambda: store.get("narrator:done:first") is not None)
    # The insight reaches this subscriber on its own time (the emulator's push can trail the done key).
    assert wait_for(lambda: len(insights) == 1)
    publish_report(
        bus, report.model_copy(update={"observed_at": report.observed_at + timedelta(seconds=30)}), event_id="second"
    )
    assert wait_for(lambda: store.get("narrator:done:second") == "unchanged")
    assert not wait_for(lambda: len(insights) > 1, timeout_s=1)


def test_a_report_that_waited_too_long_gets_the_template_without_asking_the_model(
    bus: Bus, store: Store, insights: list[Envelope[AIInsight]]
) -> None:
    model = ScriptedModel("anything")
    service(bus, store, model, languages=("en",), max_lag_s=60)
    publish_report(bus, stall_report(), age_s=600)
    assert wait_for(lambda: len(insights) == 1)
    reason = insights[0].data.fallback_reason or ""
    assert reason.startswith("behind: the report waited") and model.calls == []


def test_a_model_failure_still_publishes_a_narrative(
    bus: Bus, store: Store, insights: list[Envelope[AIInsight]]
) -> None:
    service(bus, store, ScriptedModel(error=TimeoutError("stuck")), languages=("en",))
    publish_report(bus, stall_report())
    assert wait_for(lambda: len(insights) == 1)
    assert (insights[0].data.fallback_reason or "").startswith("model_error: TimeoutError: stuck")


def test_a_question_is_answered_from_the_latest_report_under_its_request_id(
    bus: Bus, store: Store, insights: list[Envelope[AIInsight]]
) -> None:
    store.put(LATEST_KEY, stall_report().model_dump_json())
    service(bus, store)
    ask(bus, AIRequest(request_id="q-1", kind="question", question="網路是不是卡住了？", language="zh-TW"))
    assert wait_for(lambda: len(insights) == 1)
    answer = insights[0].data
    assert (answer.request_id, answer.kind, answer.language) == ("q-1", "answer", "zh-TW")
    assert "tick_stall" in answer.sources
    assert wait_for(lambda: store.list_range(RECENT_KEY, 1) != [])  # kept in the recent list after publishing
    assert Envelope[AIInsight].model_validate_json(store.list_range(RECENT_KEY, 1)[0]).data == answer
    assert insights[0].subject == "request/q-1"


def test_an_empty_question_on_the_bus_gets_an_answer_naming_the_field(
    bus: Bus, store: Store, insights: list[Envelope[AIInsight]]
) -> None:
    store.put(LATEST_KEY, stall_report().model_dump_json())
    service(bus, store)
    ask(bus, AIRequest(request_id="q-2", kind="question", question="  ", language="en"))
    assert wait_for(lambda: len(insights) == 1)
    assert insights[0].data.text == "invalid request: question: must not be empty"
    assert bus.drain_dead_letters(AI_REQUESTS, timeout_s=0.5) == []


def test_a_narration_job_before_any_report_says_none_is_available(
    bus: Bus, store: Store, insights: list[Envelope[AIInsight]]
) -> None:
    service(bus, store)
    ask(bus, AIRequest(request_id="n-1", kind="narration", language="en"))
    assert wait_for(lambda: len(insights) == 1)
    assert (insights[0].data.text, insights[0].data.kind) == (NO_REPORT["en"], "narrative")


def test_a_narration_job_narrates_the_latest_report(
    bus: Bus, store: Store, insights: list[Envelope[AIInsight]]
) -> None:
    store.put(LATEST_KEY, stall_report().model_dump_json())
    service(bus, store)
    ask(bus, AIRequest(request_id="n-2", kind="narration", language="zh-TW"))
    assert wait_for(lambda: len(insights) == 1)
    narrative = insights[0].data
    assert narrative.request_id == "n-2" and narrative.text.startswith("截至 ")
    assert wait_for(lambda: store.list_range(RECENT_KEY, 1) != [])  # kept in the recent list after publishing
    assert Envelope[AIInsight].model_validate_json(store.list_range(RECENT_KEY, 1)[0]).data.request_id == "n-2"


def test_closing_the_service_stops_the_model_but_not_the_bus(bus: Bus, store: Store) -> None:
    model = ScriptedModel("anything")
    service(bus, store, model).close()
    assert model.closed and store.ping()


# -- tasks: ai-requests submitted through the API are reported on the task board ------------------------------------


def submitted(store: Store, task_id: str, kind: Literal["question", "narration"] = "question") -> TaskBoard:
    board = TaskBoard(store)
    now = datetime.now(UTC)
    board.create(
        TaskView(id=task_id, kind=kind, state="queued", created_at=now, updated_at=now, submitted_by="k", request={})
    )
    return board


def test_a_submitted_request_is_reported_running_then_done_with_its_answer(
    bus: Bus, store: Store, insights: list[Envelope[AIInsight]]
) -> None:
    store.put(LATEST_KEY, stall_report().model_dump_json())
    board = submitted(store, "t-1")
    service(bus, store)
    ask(bus, AIRequest(request_id="t-1", kind="question", question="網路是不是卡住了？", language="zh-TW"))
    assert wait_for(lambda: len(insights) == 1)
    task = board.get("t-1")
    assert task is not None and task.state == "done" and task.worker == "//qcl/containers/narrator"
    assert task.result == insights[0].data.model_dump(mode="json")
    assert [(c.task_id, c.state) for c in board.changes(0)] == [("t-1", "queued"), ("t-1", "running"), ("t-1", "done")]


def test_a_refused_request_is_reported_failed_naming_the_field(
    bus: Bus, store: Store, insights: list[Envelope[AIInsight]]
) -> None:
    board = submitted(store, "t-2")
    service(bus, store)
    ask(bus, AIRequest(request_id="t-2", kind="question", question="  ", language="en"))
    assert wait_for(lambda: len(insights) == 1)
    task = board.get("t-2")
    assert task is not None and task.state == "failed" and task.error is not None
    assert (task.error.code, task.error.message) == ("invalid_request", "question: must not be empty")


def test_a_request_nobody_submitted_as_a_task_leaves_nothing_on_the_board(
    bus: Bus, store: Store, insights: list[Envelope[AIInsight]]
) -> None:
    service(bus, store)
    ask(bus, AIRequest(request_id="scheduled-1", kind="narration", language="en"))
    assert wait_for(lambda: len(insights) == 1)
    assert TaskBoard(store).changes(0) == [] and store.get(step_key("scheduled-1", "running")) is None

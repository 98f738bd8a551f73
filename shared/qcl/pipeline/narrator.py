"""Narrator service: consumes `network-analysis` and `ai-requests`, publishes `ai-insights`.

Runs as a pull worker (`qcl up`, `containers/narrator/main.py pull`) or behind two Pub/Sub push subscriptions on
Cloud Run (`containers/narrator/main.py`); both call `NarratorService.handle_report` / `handle_request`.

Which reports are narrated (material_change): the first one; one whose health status differs from the last
narrated report's; one with a finding code that was not active then, or is now more severe; otherwise one at
most every `interval_s` of network time (observed_at), 15 min by default. Every 30 s report is not worth a
narrative, and the model takes seconds per narration on a CPU (`qcl bench narrate`). A report that waited longer
than `max_lag_s` for the narrator (the bus time of its event to now) gets the template narrative at once, so that
a narrator behind a fast replay catches up instead of falling further behind.

Idempotent on the event id like the analyzer: a handled event is remembered (narrator:done:<id>), and each
insight's id is derived from the event's (and the language), so a redelivery publishes nothing new downstream.
Model failures and timeouts never raise: the narrator falls back to the template and says why.

An ai-request submitted as an API task is reported on the task board (qcl.tasks): running when the narrator takes
it, then done with the insight, or failed (invalid_request) when a field was refused (the fixed reply saying so is
still published).

Store keys (qcl.store.keys): insights:recent — recent insights, newest first, RECENT_LEN of them (qcl.api.state
reads them), each kept as the ai-insights event it was published in (Envelope[AIInsight] JSON), so readers have its
id and time (an answered ai-request submitted as a task is also its task's outcome, qcl.tasks).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qcl.analysis.report import SEVERITY_RANK, AnalysisReport
from qcl.bus.base import Bus, Subscription
from qcl.config import Settings
from qcl.events import AI_INSIGHTS, AI_REQUESTS, NETWORK_ANALYSIS, AIInsight, AIRequest, Envelope
from qcl.narrate.errors import NarrationInputError
from qcl.narrate.formats import LANGUAGES, Language
from qcl.narrate.questions import NO_REPORT
from qcl.narrate.service import Narrator
from qcl.store.base import Store
from qcl.store.keys import ANALYSIS_LATEST, INSIGHTS_RECENT, INSIGHTS_RECENT_LEN, NARRATOR_DONE, NARRATOR_LAST
from qcl.tasks import TASK_TTL_S, TaskBoard

log = logging.getLogger(__name__)

RECENT_KEY = INSIGHTS_RECENT.key()
RECENT_LEN = INSIGHTS_RECENT_LEN
LAST_NARRATED_KEY = NARRATOR_LAST.key()
_DONE_TTL_S = 7 * 24 * 3600  # as the analyzer's: redeliveries come within minutes
_INSIGHT_IDS = uuid.UUID("b0f4a3c2-8e1d-4f6a-9c57-2d3e4f5a6b7c")  # namespace of insight ids derived from event ids


@dataclass(frozen=True)
class NarrationPolicy:
    interval_s: float = 900.0  # a routine narrative at most every 15 min of network time when nothing changes
    max_lag_s: float = 60.0  # a report that waited longer than this is told by the template (catching up)
    languages: tuple[Language, ...] = LANGUAGES


def policy_from(settings: Settings) -> NarrationPolicy:
    """The policy of the QCL_NARRATE_* settings."""
    return NarrationPolicy(settings.narrate_interval_s, settings.narrate_max_lag_s, tuple(settings.narrate_languages))


def material_change(previous: dict[str, Any] | None, report: AnalysisReport, interval_s: float) -> str | None:
    """Why `report` deserves a narrative after the last narrated one (`previous`), or None."""
    if previous is None:
        return "first report"
    at = report.observed_at.timestamp()
    if at <= previous["observed_at"]:
        return None  # not newer than what was narrated: a late duplicate
    if report.status != previous["status"]:
        return f"status {previous['status']} -> {report.status}"
    before: dict[str, int] = previous["findings"]
    for finding in report.findings:
        rank = SEVERITY_RANK[finding.severity]
        if finding.code.value not in before:
            return f"new finding {finding.code.value}"
        if rank > before[finding.code.value]:
            return f"{finding.code.value} escalated to {finding.severity}"
    if at - previous["observed_at"] >= interval_s:
        return f"routine ({interval_s / 60:g} min since the last narrative)"
    return None


def narrated_summary(report: AnalysisReport) -> dict[str, Any]:
    return {
        "observed_at": report.observed_at.timestamp(),
        "status": report.status,
        "findings": {f.code.value: SEVERITY_RANK[f.severity] for f in report.findings},
    }


class NarratorService:
    def __init__(
        self,
        bus: Bus,
        store: Store,
        narrator: Narrator,
        *,
        policy: NarrationPolicy | None = None,
        name: str = "//qcl/containers/narrator",
        clock: Callable[[], float] = time.time,
        task_ttl_s: float = TASK_TTL_S,
    ) -> None:
        self.bus = bus
        self.store = store
        self.narrator = narrator
        self.policy = policy or NarrationPolicy()
        self.name = name
        self.clock = clock
        self.tasks = TaskBoard(store, ttl_s=task_ttl_s)

    def subscribe(self) -> list[Subscription]:
        """Both subscriptions, as `qcl up` and the pull worker run them."""
        return [
            self.bus.subscribe(NETWORK_ANALYSIS, "narrator", self.handle_report),
            self.bus.subscribe(AI_REQUESTS, "narrator", self.handle_request),
        ]

    def close(self) -> None:
        """Stop the narrator's model (the bus and store belong to whoever opened them)."""
        self.narrator.close()

    def handle_report(self, event: Envelope[AnalysisReport]) -> None:
        done_key = NARRATOR_DONE.key(event_id=event.id)
        if self.store.get(done_key) is not None:
            log.info("narrator: report %s already handled (redelivery); skipped", event.id)
            return
        report = event.data
        previous_json = self.store.get(LAST_NARRATED_KEY)
        why = material_change(json.loads(previous_json) if previous_json else None, report, self.policy.interval_s)
        if why is None:
            self.store.put(done_key, "unchanged", ttl_s=_DONE_TTL_S)
            return
        lag = self.clock() - event.time.timestamp()
        skip = None
        if lag > self.policy.max_lag_s:
            skip = f"behind: the report waited {lag:.0f} s (over {self.policy.max_lag_s:g} s); the template catches up"
        for language in self.policy.languages:
            insight = self.narrator.narrate(report, language, skip_model=skip)
            self._publish(insight, f"{event.id}:{language}", event.subject)
            log.info(
                "narrative (%s, %s): %s via %s%s",
                language,
                why,
                insight.text[:120],
                insight.model,
                f" (fallback: {insight.fallback_reason})" if insight.fallback_used else "",
            )
        self.store.put(LAST_NARRATED_KEY, json.dumps(narrated_summary(report)))
        self.store.put(done_key, "narrated", ttl_s=_DONE_TTL_S)

    def handle_request(self, event: Envelope[AIRequest]) -> None:
        done_key = NARRATOR_DONE.key(event_id=event.id)
        if self.store.get(done_key) is not None:
            log.info("narrator: request %s already answered (redelivery); skipped", event.id)
            return
        request = event.data
        self.tasks.start(request.request_id, worker=self.name)
        latest = self.store.get(ANALYSIS_LATEST.key())
        report = AnalysisReport.model_validate_json(latest) if latest else None
        try:
            insight = self._respond(request, report)
        except NarrationInputError as exc:  # a bad field is the asker's error: answer it, do not retry it
            self.tasks.fail(request.request_id, "invalid_request", str(exc))
            insight = self.narrator.fixed_reply(
                f"invalid request: {exc}", request.language, kind="answer", request_id=request.request_id
            )
        else:
            self.tasks.finish(request.request_id, insight.model_dump(mode="json"))  # before readers hear of it
        out = self._publish(insight, event.id, f"request/{request.request_id}")
        self.store.put(done_key, out.id, ttl_s=_DONE_TTL_S)

    def _respond(self, request: AIRequest, report: AnalysisReport | None) -> AIInsight:
        if request.kind == "question":
            return self.narrator.answer(request.question or "", request.language, report, request_id=request.request_id)
        if report is None:
            return self.narrator.fixed_reply(
                NO_REPORT[request.language], request.language, kind="narrative", request_id=request.request_id
            )
        return self.narrator.narrate(report, request.language, request_id=request.request_id)

    def _publish(self, insight: AIInsight, key: str, subject: str | None) -> Envelope[AIInsight]:
        out = AI_INSIGHTS.event(insight, source=self.name, subject=subject, event_id=str(uuid.uuid5(_INSIGHT_IDS, key)))
        self.bus.publish(AI_INSIGHTS, out)
        self.store.list_push(RECENT_KEY, out.model_dump_json(), max_len=RECENT_LEN)
        return out

"""What the API reads and keeps in the store; every key it uses is named here, once.

Written by others, read here: the analyzer's latest report and history (qcl.pipeline.analyzer), the narrator's
recent insights (`INSIGHTS_KEY`, newest first; the narrator pushes there). Kept by the API itself (from the
events it consumes as the `api` consumer, and from the tasks it accepts): node states, oracle attestations,
tasks, the answer cache. Every call goes through the store's circuit breaker (a failing store answers 503).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from qcl.analysis.report import AnalysisReport
from qcl.api.schemas import NodeView, TaskError, TaskView
from qcl.api.services import ApiServices
from qcl.events import AIInsight, Envelope, NodeEvent, OracleResult
from qcl.pipeline.analyzer import HISTORY_KEY, HISTORY_LEN, LATEST_KEY

log = logging.getLogger(__name__)

INSIGHTS_KEY = "insights:recent"  # AIInsight JSON, newest first; the narrator keeps it capped
INSIGHTS_MAX = 500
NODES_INDEX = "api:nodes"  # node ids, newest first (duplicates skipped on read)
ORACLE_RESULTS = "api:oracle:results"  # job ids, newest first
ORACLE_KEEP = 1000
TASK_TTL_S = 7 * 24 * 3600
ANSWER_CACHE = "api:answers:"
_NODE_STATE: dict[str, Literal["up", "down", "left"]] = {
    "joined": "up",
    "recovered": "up",
    "failed": "down",
    "left": "left",
}


def _normalise_question(question: str) -> str:
    return re.sub(r"\s+", " ", question).strip().casefold()


class ApiState:
    def __init__(self, services: ApiServices) -> None:
        self.services = services
        self.store = services.store

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return self.services.breakers.call("store", fn, *args, **kwargs)

    # -- analysis --------------------------------------------------------------------------------------

    def latest_report_json(self) -> str | None:
        value: str | None = self._call(self.store.get, LATEST_KEY, retries=2)
        return value

    def latest_report(self) -> AnalysisReport | None:
        raw = self.latest_report_json()
        return None if raw is None else AnalysisReport.model_validate_json(raw)

    def history(self, start: datetime | None, end: datetime | None, limit: int) -> list[AnalysisReport]:
        """Reports with start <= observed_at <= end, the newest `limit` of them, oldest first."""
        rows: list[str] = self._call(self.store.list_range, HISTORY_KEY, HISTORY_LEN, retries=2)
        picked: list[AnalysisReport] = []
        for raw in rows:  # newest first
            report = AnalysisReport.model_validate_json(raw)
            if end is not None and report.observed_at > end:
                continue
            if start is not None and report.observed_at < start:
                break
            picked.append(report)
            if len(picked) == limit:
                break
        return picked[::-1]

    def recent_insights(self, limit: int) -> list[AIInsight]:
        rows: list[str] = self._call(self.store.list_range, INSIGHTS_KEY, limit, retries=2)
        insights = []
        for raw in rows:
            try:
                insights.append(AIInsight.model_validate_json(raw))
            except ValidationError as exc:  # one bad entry must not hide the rest
                log.warning("api: skipped an unreadable insight in %s: %s", INSIGHTS_KEY, exc.errors()[0]["msg"])
        return insights

    # -- nodes -----------------------------------------------------------------------------------------

    def record_node_event(self, event: Envelope[NodeEvent]) -> NodeView:
        node = event.data
        view = NodeView(
            node_id=node.node_id,
            role=node.role,
            state=_NODE_STATE[node.kind],
            last_event=node.kind,
            last_seen=event.time,
            detail=node.detail,
        )
        key = f"api:node:{node.node_id}"
        previous = self._call(self.store.get, key)
        if previous is not None and NodeView.model_validate_json(previous).last_seen > event.time:
            return NodeView.model_validate_json(previous)  # a late, older event does not undo a newer one
        self._call(self.store.put, key, view.model_dump_json())
        if previous is None:
            self._call(self.store.list_push, NODES_INDEX, node.node_id, max_len=10_000)
        return view

    def nodes(self) -> list[NodeView]:
        ids = dict.fromkeys(self._call(self.store.list_range, NODES_INDEX, 10_000))
        views = []
        for node_id in ids:
            raw = self._call(self.store.get, f"api:node:{node_id}")
            if raw is not None:
                views.append(NodeView.model_validate_json(raw))
        return sorted(views, key=lambda v: (v.role, v.node_id))

    # -- oracle ----------------------------------------------------------------------------------------

    def record_oracle_result(self, result: OracleResult) -> bool:
        """Keep an attestation; False when this job's attestation was already kept (a redelivery)."""
        fresh: bool = self._call(self.store.put_if_absent, f"api:oracle:{result.job_id}", result.model_dump_json())
        if fresh:
            self._call(self.store.list_push, ORACLE_RESULTS, result.job_id, max_len=ORACLE_KEEP)
        return fresh

    def oracle_result(self, job_id: str) -> OracleResult | None:
        raw = self._call(self.store.get, f"api:oracle:{job_id}")
        return None if raw is None else OracleResult.model_validate_json(raw)

    def oracle_results(self, limit: int) -> list[OracleResult]:
        results = []
        for job_id in self._call(self.store.list_range, ORACLE_RESULTS, limit):
            result = self.oracle_result(job_id)
            if result is not None:
                results.append(result)
        return results

    def oracle_result_count(self) -> int:
        return len(self._call(self.store.list_range, ORACLE_RESULTS, ORACLE_KEEP))

    # -- tasks -----------------------------------------------------------------------------------------

    def claim_task(self, task: TaskView) -> bool:
        """Save a new task; False when a task with its id exists."""
        key = f"api:task:{task.id}"
        claimed: bool = self._call(self.store.put_if_absent, key, task.model_dump_json(), ttl_s=TASK_TTL_S)
        return claimed

    def save_task(self, task: TaskView) -> None:
        self._call(self.store.put, f"api:task:{task.id}", task.model_dump_json(), ttl_s=TASK_TTL_S)

    def task(self, task_id: str) -> TaskView | None:
        """The task as it stands; one past its deadline without a result reads as failed."""
        raw = self._call(self.store.get, f"api:task:{task_id}", retries=2)
        if raw is None:
            return None
        task = TaskView.model_validate_json(raw)
        timeout = timedelta(seconds=self.services.settings.task_timeout_s)
        if task.state in ("queued", "running") and self.services.now() - task.created_at > timeout:
            message = f"no result within {self.services.settings.task_timeout_s:g} s of submission"
            task = task.model_copy(update={"state": "failed", "error": TaskError(code="task_timeout", message=message)})
        return task

    def finish_task(self, task_id: str, result: dict[str, Any], at: datetime) -> TaskView | None:
        """Mark a task done with its result; None when no such task is known here (not submitted through us)."""
        task = self.task(task_id)
        if task is None or task.state == "done":
            return None
        done = task.model_copy(update={"state": "done", "result": result, "error": None, "updated_at": at})
        self.save_task(done)
        return done

    # -- answer cache ----------------------------------------------------------------------------------

    def answer_key(self, question: str, language: str, report: AnalysisReport | None) -> str:
        about = report.observation_event_id or report.observed_at.isoformat() if report else "no-report"
        text = json.dumps([_normalise_question(question), language, about], ensure_ascii=False)
        return ANSWER_CACHE + hashlib.sha256(text.encode()).hexdigest()

    def cached_answer(self, key: str) -> AIInsight | None:
        raw = self._call(self.store.get, key)
        return None if raw is None else AIInsight.model_validate_json(raw)

    def cache_answer(self, key: str, insight: AIInsight) -> None:
        ttl = self.services.settings.answer_cache_ttl_s
        if ttl > 0:
            self._call(self.store.put, key, insight.model_dump_json(), ttl_s=ttl)

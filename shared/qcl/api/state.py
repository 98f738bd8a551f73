"""What the API reads and keeps in the store (every key is a family of qcl.store.keys).

Written by others, read here: the analyzer's latest report and history, the narrator's recent insights (the
ai-insights events it published, newest first), the shard registry (qcl.shard.registry), the oracle committee's
state, and the task board
(qcl.tasks: the API creates tasks there, the workers move them on). Kept by the API itself (from the events it
consumes as the `api` consumer): node events, oracle attestations, the answer cache, which task steps were streamed.
Every call goes through the store's circuit breaker (a failing store answers 503).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import datetime
from typing import Any, get_args

from pydantic import ValidationError

from qcl.analysis.report import AnalysisReport
from qcl.api.nodes import build_topology, merge_nodes, state_of
from qcl.api.schemas import InsightView, NodeView, ShardDetail, TopologyResponse
from qcl.api.services import ApiServices
from qcl.events import AIInsight, Envelope, NodeEvent, OracleResult
from qcl.oracle.status import CommitteeState, read_state
from qcl.shard.registry import ShardRegistry
from qcl.store.keys import (
    ANALYSIS_HISTORY,
    ANALYSIS_HISTORY_LEN,
    ANALYSIS_LATEST,
    API_ANSWER,
    API_NODE,
    API_NODES,
    API_ORACLE_RESULT,
    API_ORACLE_RESULTS,
    API_ORACLE_RESULTS_KEEP,
    API_TASK_STREAMED,
    INSIGHTS_RECENT,
    INSIGHTS_RECENT_LEN,
)
from qcl.tasks import CHANGES_KEPT_S, TaskBoard, TaskChange, TaskState, TaskView, overdue

log = logging.getLogger(__name__)


def _normalise_question(question: str) -> str:
    return re.sub(r"\s+", " ", question).strip().casefold()


def insight_view(event: Envelope[AIInsight]) -> InsightView:
    """An insight with the id and time of the event it was published in."""
    return InsightView(**event.data.model_dump(), id=event.id, time=event.time)


class ApiState:
    def __init__(self, services: ApiServices) -> None:
        self.services = services
        self.store = services.store
        self.tasks = TaskBoard(services.store, ttl_s=services.settings.retention_tasks_s)
        self.registry = ShardRegistry(services.store)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return self.services.breakers.call("store", fn, *args, **kwargs)

    # -- analysis --------------------------------------------------------------------------------------

    def latest_report_json(self) -> str | None:
        value: str | None = self._call(self.store.get, ANALYSIS_LATEST.key(), retries=2)
        return value

    def latest_report(self) -> AnalysisReport | None:
        raw = self.latest_report_json()
        return None if raw is None else AnalysisReport.model_validate_json(raw)

    def history(self, start: datetime | None, end: datetime | None, limit: int) -> list[AnalysisReport]:
        """Reports with start <= observed_at <= end, the newest `limit` of them, oldest first."""
        rows: list[str] = self._call(self.store.list_range, ANALYSIS_HISTORY.key(), ANALYSIS_HISTORY_LEN, retries=2)
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

    def recent_insights(self, limit: int) -> list[InsightView]:
        rows: list[str] = self._call(self.store.list_range, INSIGHTS_RECENT.key(), limit, retries=2)
        insights = []
        for raw in rows:
            try:
                insights.append(insight_view(Envelope[AIInsight].model_validate_json(raw)))
            except ValidationError as exc:  # one bad entry must not hide the rest
                log.warning(
                    "api: skipped an unreadable insight in %s: %s", INSIGHTS_RECENT.key(), exc.errors()[0]["msg"]
                )
        return insights

    def _answers(self, request_ids: set[str]) -> list[tuple[str, Envelope[AIInsight]]]:
        rows: list[str] = self._call(self.store.list_range, INSIGHTS_RECENT.key(), INSIGHTS_RECENT_LEN)
        found = []
        for raw in rows:
            try:
                event = Envelope[AIInsight].model_validate_json(raw)
            except ValidationError:
                continue
            if event.data.request_id in request_ids:
                found.append((raw, event))
        return found

    def answers_to(self, request_ids: set[str]) -> list[InsightView]:
        """The recent insights that answer these requests (task ids), newest first."""
        return [insight_view(event) for _, event in self._answers(request_ids)]

    def erase_answers(self, request_ids: set[str]) -> int:
        """Remove the recent insights that answer these requests (an erasure, qcl.privacy); returns how many."""
        return sum(
            self._call(self.store.list_remove, INSIGHTS_RECENT.key(), raw) for raw, _ in self._answers(request_ids)
        )

    # -- nodes -----------------------------------------------------------------------------------------

    def record_node_event(self, event: Envelope[NodeEvent]) -> NodeView:
        """Keep the node's latest event; returns the node as it now reads (merged with the registry and committee)."""
        node = event.data
        shard = None
        if node.role == "shard" and (node.address or node.layers):
            shard = ShardDetail(
                stage=None,
                replica=0,
                layers=list(node.layers),
                address=node.address,
                model=None,
                sessions=None,
                max_sessions=None,
                last_heartbeat=None,
                heartbeat_age_s=None,
            )
        view = NodeView(
            node_id=node.node_id,
            role=node.role,
            state=state_of(node.kind),
            last_event=node.kind,
            last_seen=event.time,
            detail=node.detail,
            shard=shard,
        )
        key = API_NODE.key(node_id=node.node_id)
        previous = self._call(self.store.get, key)
        if previous is None or NodeView.model_validate_json(previous).last_seen <= event.time:
            self._call(self.store.put, key, view.model_dump_json())  # a late, older event does not undo a newer one
        if previous is None:
            self._call(self.store.list_push, API_NODES.key(), node.node_id, max_len=10_000)
        merged = next((v for v in self.nodes() if v.node_id == node.node_id), None)
        return merged or view

    def _event_nodes(self) -> list[NodeView]:
        ids = dict.fromkeys(self._call(self.store.list_range, API_NODES.key(), 10_000))
        views = []
        for node_id in ids:
            raw = self._call(self.store.get, API_NODE.key(node_id=node_id))
            if raw is not None:
                views.append(NodeView.model_validate_json(raw))
        return views

    def committee_state(self) -> CommitteeState | None:
        return read_state(lambda key: self._call(self.store.get, key))

    def nodes(self) -> list[NodeView]:
        known = self._call(self.registry.known)
        return self._with_lifecycles(
            merge_nodes(self._event_nodes(), known, self.committee_state(), self.services.now())
        )

    def topology(self) -> TopologyResponse:
        committee = self.committee_state()
        known = self._call(self.registry.known)
        views = merge_nodes(self._event_nodes(), known, committee, self.services.now())
        return build_topology(self._with_lifecycles(views), committee)

    def _with_lifecycles(self, views: list[NodeView]) -> list[NodeView]:
        """The operator's drains, restarts and removals, where this instance controls the nodes (the local stack)."""
        if self.services.nodes is None:
            return views
        lifecycles = self.services.nodes.lifecycles()
        return [
            v.model_copy(update={"lifecycle": lifecycles[v.node_id]}) if v.node_id in lifecycles else v for v in views
        ]

    # -- oracle ----------------------------------------------------------------------------------------

    def record_oracle_result(self, result: OracleResult) -> bool:
        """Keep an attestation; False when this job's attestation was already kept (a redelivery)."""
        fresh: bool = self._call(
            self.store.put_if_absent, API_ORACLE_RESULT.key(job_id=result.job_id), result.model_dump_json()
        )
        if fresh:
            self._call(self.store.list_push, API_ORACLE_RESULTS.key(), result.job_id, max_len=API_ORACLE_RESULTS_KEEP)
        return fresh

    def oracle_result(self, job_id: str) -> OracleResult | None:
        raw = self._call(self.store.get, API_ORACLE_RESULT.key(job_id=job_id))
        return None if raw is None else OracleResult.model_validate_json(raw)

    def oracle_results(self, limit: int) -> list[OracleResult]:
        results = []
        for job_id in self._call(self.store.list_range, API_ORACLE_RESULTS.key(), limit):
            result = self.oracle_result(job_id)
            if result is not None:
                results.append(result)
        return results

    def oracle_result_count(self) -> int:
        return len(self._call(self.store.list_range, API_ORACLE_RESULTS.key(), API_ORACLE_RESULTS_KEEP))

    # -- tasks -----------------------------------------------------------------------------------------

    def create_task(self, task: TaskView) -> bool:
        """Keep a new task; False when a task with its id exists."""
        created: bool = self._call(self.tasks.create, task)
        return created

    def forget_task(self, task_id: str) -> None:
        self._call(self.tasks.forget, task_id)

    def task(self, task_id: str) -> TaskView | None:
        """The task as it stands; one past its deadline without an outcome reads as failed."""
        task: TaskView | None = self._call(self.tasks.get, task_id, retries=2)
        if task is None:
            return None
        return overdue(task, self.services.now(), self.services.settings.task_timeout_s)

    def task_as_of(self, task_id: str, state: TaskState) -> TaskView | None:
        task: TaskView | None = self._call(self.tasks.get, task_id, as_of=state)
        return task

    def task_changes(self, since: float) -> list[TaskChange]:
        changes: list[TaskChange] = self._call(self.tasks.changes, since)
        return changes

    def claim_task_stream(self, change: TaskChange) -> bool:
        """True for the one instance that streams this step (every instance follows the same changes)."""
        key = API_TASK_STREAMED.key(task_id=change.task_id, state=change.state)
        claimed: bool = self._call(self.store.put_if_absent, key, "1", ttl_s=2 * CHANGES_KEPT_S)
        return claimed

    def forget_task_streams(self, task_ids: set[str]) -> None:
        """Drop the stream claims of these tasks (an erasure, qcl.privacy: a claim's key names its task)."""
        for task_id in task_ids:
            for state in get_args(TaskState):
                self._call(self.store.delete, API_TASK_STREAMED.key(task_id=task_id, state=state))

    # -- answer cache ----------------------------------------------------------------------------------

    def answer_key(self, question: str, language: str, report: AnalysisReport | None) -> str:
        about = report.observation_event_id or report.observed_at.isoformat() if report else "no-report"
        text = json.dumps([_normalise_question(question), language, about], ensure_ascii=False)
        return API_ANSWER.key(digest=hashlib.sha256(text.encode()).hexdigest())

    def cached_answer(self, key: str) -> AIInsight | None:
        raw = self._call(self.store.get, key)
        return None if raw is None else AIInsight.model_validate_json(raw)

    def cache_answer(self, key: str, insight: AIInsight) -> None:
        ttl = self.services.settings.answer_cache_ttl_s
        if ttl > 0:
            self._call(self.store.put, key, insight.model_dump_json(), ttl_s=ttl)

"""The API as a consumer: network-analysis, ai-insights, oracle-results, node-events and workflow-events, read as
`api`; and the follower of the task board's changes.

    ingest = ApiIngest(services, broadcaster); ingest.start(); ...; ingest.stop()

What each event does here: an analysis goes on the live stream (the analyzer already keeps latest and history
in the store); an insight goes on the stream with the id and time of its event; an attestation is kept (once per
job) and goes on the stream; a node event updates that node's state. Handlers are idempotent: a redelivered
attestation is recognised by its job id, a node event older than the node's state is ignored. Each event's lag
(event time to delivery) is measured.

Tasks are moved on by their workers (qcl.tasks); a poller follows the board's changes and puts each step (running,
done, failed) on the stream as the task stood right after it. Every instance follows the same changes; a claim in
the store lets one of them stream each step.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from qcl.analysis.report import AnalysisReport
from qcl.api.errors import ApiError
from qcl.api.services import ApiServices
from qcl.api.state import ApiState, insight_view
from qcl.api.stream import Broadcaster, EventLog, StreamKind
from qcl.bus.base import Subscription, close_all
from qcl.events import (
    AI_INSIGHTS,
    NETWORK_ANALYSIS,
    NODE_EVENTS,
    ORACLE_RESULTS,
    WORKFLOW_EVENTS,
    AIInsight,
    Envelope,
    NodeEvent,
    OracleResult,
    Topic,
    WorkflowEvent,
)
from qcl.obs import metrics

log = logging.getLogger(__name__)
CONSUMER = "api"
TASK_POLL_S = 0.25  # how often the board's changes are read: task steps reach clients this late at most


class ApiIngest:
    def __init__(self, services: ApiServices, broadcaster: Broadcaster | None = None) -> None:
        self.services = services
        self.state = ApiState(services)
        self.log = EventLog(services)
        self.broadcaster = broadcaster
        self._subscriptions: list[Subscription] = []
        self._stopping = threading.Event()
        self._follower: threading.Thread | None = None
        self._streamed: set[tuple[str, str]] = set()  # steps seen by this instance (the window is re-read)

    def start(self) -> None:
        bus = self.services.bus
        if bus is None:
            raise ValueError("ApiIngest needs a bus")
        handlers: list[tuple[Topic[Any], Any]] = [
            (NETWORK_ANALYSIS, self.on_analysis),
            (AI_INSIGHTS, self.on_insight),
            (ORACLE_RESULTS, self.on_oracle_result),
            (NODE_EVENTS, self.on_node_event),
            (WORKFLOW_EVENTS, self.on_workflow_event),
        ]
        for topic, handler in handlers:
            self._subscriptions.append(bus.subscribe(topic, CONSUMER, self._measured(topic, handler)))
        self._stopping.clear()
        self._follower = threading.Thread(target=self._follow_tasks, name="api-tasks", daemon=True)
        self._follower.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._follower is not None:
            self._follower.join(timeout=5)
        close_all(self._subscriptions)
        self._subscriptions.clear()

    def _follow_tasks(self) -> None:
        since = self.services.now().timestamp()
        while not self._stopping.wait(TASK_POLL_S):
            try:
                since = self.stream_task_changes(since)
            except ApiError:  # the store is down: the next poll tries again from the same point
                continue

    def stream_task_changes(self, since: float) -> float:
        """Stream the board's steps since `since` (unix s) that no instance streamed yet; returns where to go on."""
        changes = self.state.task_changes(since - 1.0)  # a second of overlap: writers' clocks and writes interleave
        for change in changes:
            seen = (change.task_id, change.state)
            if change.state == "queued" or seen in self._streamed:
                continue  # queued is streamed by the instance that accepted the task
            self._streamed.add(seen)
            task = self.state.task_as_of(change.task_id, change.state)  # None: erased meanwhile (leave no claim)
            if task is not None and self.state.claim_task_stream(change):
                self._stream("task", task.model_dump(mode="json"))
        if len(self._streamed) > 10_000:
            self._streamed.clear()  # the store's claims still keep each step to one stream entry
        return max([since, *(change.at for change in changes)])

    def _measured(self, topic: Topic[Any], handler: Any) -> Any:
        def handle(event: Envelope[Any]) -> None:
            lag = (self.services.now() - event.time).total_seconds()
            metrics.BUS_LAG.labels(topic=topic.name, consumer=CONSUMER).observe(max(0.0, lag))
            handler(event)
            metrics.BUS_EVENTS.labels(topic=topic.name, consumer=CONSUMER).inc()

        return handle

    def _stream(self, kind: StreamKind, data: dict[str, Any]) -> None:
        self.log.append(kind, data)
        if self.broadcaster is not None:
            self.broadcaster.poke()

    def on_analysis(self, event: Envelope[AnalysisReport]) -> None:
        metrics.LAST_ANALYSIS.set(self.services.now().timestamp())
        metrics.HEALTH_SCORE.set(event.data.health_score)
        metrics.record_findings(event.data.findings)
        self._stream("analysis", event.data.model_dump(mode="json"))

    def on_insight(self, event: Envelope[AIInsight]) -> None:
        self._stream("insight", insight_view(event).model_dump(mode="json"))

    def on_oracle_result(self, event: Envelope[OracleResult]) -> None:
        result = event.data
        if not self.state.record_oracle_result(result):
            log.info("api: attestation for job %s already kept (redelivery); skipped", result.job_id)
            return
        self._stream("oracle", result.model_dump(mode="json"))
        task = self.state.task(result.job_id)
        if task is not None:  # a job submitted through the API: submission to attestation
            metrics.CONSENSUS_LATENCY.observe(max(0.0, (event.time - task.created_at).total_seconds()))

    def on_workflow_event(self, event: Envelope[WorkflowEvent]) -> None:
        """A workflow's qcl.notify message goes on the live stream, with its event's id and time."""
        self._stream("workflow", {"id": event.id, "time": event.time.isoformat(), **event.data.model_dump(mode="json")})

    def on_node_event(self, event: Envelope[NodeEvent]) -> None:
        view = self.state.record_node_event(event)
        self._stream("node", view.model_dump(mode="json"))

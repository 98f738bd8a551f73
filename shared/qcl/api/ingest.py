"""The API as a consumer: network-analysis, ai-insights, oracle-results and node-events, read as `api`.

    ingest = ApiIngest(services, log); ingest.start(); ...; ingest.stop()

What each event does here: an analysis goes on the live stream (the analyzer already keeps latest and history
in the store); an insight goes on the stream and completes the task it answers; an attestation is kept (once
per job) and completes its task; a node event updates that node's state. Handlers are idempotent: a
redelivered attestation is recognised by its job id, a node event older than the node's state is ignored, and
a completed task stays completed. Each event's lag (event time to delivery) is measured.
"""

from __future__ import annotations

import logging
from typing import Any

from qcl.analysis.report import AnalysisReport
from qcl.api.services import ApiServices
from qcl.api.state import ApiState
from qcl.api.stream import Broadcaster, EventLog, StreamKind
from qcl.bus.base import Subscription
from qcl.events import (
    AI_INSIGHTS,
    NETWORK_ANALYSIS,
    NODE_EVENTS,
    ORACLE_RESULTS,
    AIInsight,
    Envelope,
    NodeEvent,
    OracleResult,
    Topic,
)
from qcl.obs import metrics

log = logging.getLogger(__name__)
CONSUMER = "api"


class ApiIngest:
    def __init__(self, services: ApiServices, broadcaster: Broadcaster | None = None) -> None:
        self.services = services
        self.state = ApiState(services)
        self.log = EventLog(services)
        self.broadcaster = broadcaster
        self._subscriptions: list[Subscription] = []

    def start(self) -> None:
        bus = self.services.bus
        if bus is None:
            raise ValueError("ApiIngest needs a bus")
        handlers: list[tuple[Topic[Any], Any]] = [
            (NETWORK_ANALYSIS, self.on_analysis),
            (AI_INSIGHTS, self.on_insight),
            (ORACLE_RESULTS, self.on_oracle_result),
            (NODE_EVENTS, self.on_node_event),
        ]
        for topic, handler in handlers:
            self._subscriptions.append(bus.subscribe(topic, CONSUMER, self._measured(topic, handler)))

    def stop(self) -> None:
        for subscription in self._subscriptions:
            subscription.close()
        self._subscriptions.clear()

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
        self._stream("analysis", event.data.model_dump(mode="json"))

    def on_insight(self, event: Envelope[AIInsight]) -> None:
        insight = event.data
        self._stream("insight", insight.model_dump(mode="json"))
        if insight.request_id:
            task = self.state.finish_task(insight.request_id, insight.model_dump(mode="json"), event.time)
            if task is not None:
                self._stream("task", task.model_dump(mode="json"))

    def on_oracle_result(self, event: Envelope[OracleResult]) -> None:
        result = event.data
        if not self.state.record_oracle_result(result):
            log.info("api: attestation for job %s already kept (redelivery); skipped", result.job_id)
            return
        self._stream("oracle", result.model_dump(mode="json"))
        task = self.state.finish_task(result.job_id, result.model_dump(mode="json"), event.time)
        if task is not None:
            metrics.CONSENSUS_LATENCY.observe(max(0.0, (event.time - task.created_at).total_seconds()))
            self._stream("task", task.model_dump(mode="json"))

    def on_node_event(self, event: Envelope[NodeEvent]) -> None:
        view = self.state.record_node_event(event)
        self._stream("node", view.model_dump(mode="json"))

"""Analyzer: consumes `qubic-ticks`, keeps the rolling window in the store, publishes `network-analysis`.

Runs as a pull worker (`qcl up`, `containers/analyzer/main.py pull`) or behind a Pub/Sub push subscription on
Cloud Run (`containers/analyzer/main.py`); both call `Analyzer.handle`.

Idempotent on the event id: a redelivered observation is recognised and not counted twice, and the report it
produces has an id derived from the observation's, so a report published twice is one event downstream.
"""

from __future__ import annotations

import logging
import uuid

from qcl.analysis import analyze_window, check_consistency, invalid_report
from qcl.analysis.report import AnalysisReport
from qcl.bus.base import Bus
from qcl.events import NETWORK_ANALYSIS, Envelope
from qcl.qubic.types import Observation
from qcl.store.base import Store

log = logging.getLogger(__name__)

WINDOW_KEY = "analyzer:window"  # observations as capture lines, scored by observed_at (Unix seconds)
LATEST_KEY = "analysis:latest"  # the newest report, JSON
HISTORY_KEY = "analysis:history"  # recent reports, newest first
HISTORY_LEN = 2880  # a day of reports at one observation per 30 s
_DONE_TTL_S = 7 * 24 * 3600  # redeliveries come within minutes; a week is generous
_REPORT_IDS = uuid.UUID("6f1d7f3e-5a4b-4c8e-9a51-0c1b8e7d2a90")  # namespace of report ids derived from event ids


class Analyzer:
    def __init__(self, bus: Bus, store: Store, *, window_s: int, name: str = "//qcl/containers/analyzer") -> None:
        self.bus = bus
        self.store = store
        self.window_s = window_s
        self.name = name
        self._parsed: dict[str, Observation] = {}  # capture line -> observation; lines never change meaning

    def handle(self, event: Envelope[Observation]) -> None:
        done_key = f"analyzer:done:{event.id}"
        if self.store.get(done_key) is not None:
            log.info("analyzer: event %s already analysed (redelivery); skipped", event.id)
            return
        report = self.analyze(event.data, event.id)
        tick = report.metrics.tick if report.metrics else event.data.tick.tick
        out = NETWORK_ANALYSIS.event(
            report, source=self.name, subject=f"tick/{tick}", event_id=str(uuid.uuid5(_REPORT_IDS, event.id))
        )
        self.bus.publish(NETWORK_ANALYSIS, out, ordering_key="qubic-network")
        report_json = report.model_dump_json()
        self.store.put(LATEST_KEY, report_json)
        self.store.list_push(HISTORY_KEY, report_json, max_len=HISTORY_LEN)
        self.store.put(done_key, out.id, ttl_s=_DONE_TTL_S)
        findings = ", ".join(f"{f.code}({f.severity})" for f in report.findings) or "none"
        log.info("analysis: tick %s health %s (%s); findings: %s", tick, report.health_score, report.status, findings)

    def analyze(self, observation: Observation, event_id: str) -> AnalysisReport:
        """Add the observation to the window (unless it is impossible) and analyse the window."""
        at = observation.observed_at.timestamp()
        before = self._window(max_score=at)
        line = observation.to_json_line()
        earlier = [o for o in before if o.observed_at.timestamp() < at or o.to_json_line() != line]
        reason = check_consistency(earlier, observation)
        if reason:
            log.warning("analyzer: observation %s rejected: %s", event_id, reason)
            return invalid_report(
                reason, observed_at=observation.observed_at, window=earlier, observation_event_id=event_id
            )
        self.store.window_add(WINDOW_KEY, at, line)
        self.store.window_trim(WINDOW_KEY, at - self.window_s)  # a late, older observation just trims less
        return analyze_window(self._window(), observation_event_id=event_id)

    def _window(self, max_score: float = float("inf")) -> list[Observation]:
        lines = self.store.window_range(WINDOW_KEY, max_score=max_score)
        if len(self._parsed) > 2 * len(lines) + 100:  # forget lines trimmed from the window
            keep = set(lines)
            self._parsed = {line: obs for line, obs in self._parsed.items() if line in keep}
        return [self._parse(line) for line in lines]

    def _parse(self, line: str) -> Observation:
        observation = self._parsed.get(line)
        if observation is None:
            observation = self._parsed[line] = Observation.model_validate_json(line)
        return observation

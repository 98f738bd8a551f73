"""Analyzer: consumes `qubic-ticks`, keeps the rolling window in the store, publishes `network-analysis`.

Runs as a pull worker (`qcl up`, `containers/analyzer/main.py pull`) or behind a Pub/Sub push subscription on
Cloud Run (`containers/analyzer/main.py`); both call `Analyzer.handle`.

Idempotent on the event id: a redelivered observation is recognised and not counted twice, and the report it
produces has an id derived from the observation's, so a report published twice is one event downstream.

The window lives in the store (shared by every analyzer instance and read by the API); each instance also keeps it
analysed in memory (a RollingAnalysis), so an observation newer than the window costs O(1) amortised instead of
reading and analysing the whole window. A version counter in the store, bumped by every change to the window,
tells an instance when another one changed it: it then reloads. An observation not newer than the window's newest
(a redelivery, or one held back by retries) takes the slow path: the window is read from the store, as it is.
"""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import Future

from qcl.analysis.engine import RollingAnalysis
from qcl.analysis.report import AnalysisReport
from qcl.analysis.window import Sample
from qcl.bus.base import Bus
from qcl.events import NETWORK_ANALYSIS, Envelope
from qcl.qubic.types import Observation
from qcl.store.base import Store
from qcl.store.keys import (
    ANALYSIS_HISTORY,
    ANALYSIS_HISTORY_LEN,
    ANALYSIS_LATEST,
    ANALYZER_DONE,
    ANALYZER_WINDOW,
    ANALYZER_WINDOW_VERSION,
)

log = logging.getLogger(__name__)

WINDOW_KEY = ANALYZER_WINDOW.key()
WINDOW_VERSION_KEY = ANALYZER_WINDOW_VERSION.key()
LATEST_KEY = ANALYSIS_LATEST.key()
HISTORY_KEY = ANALYSIS_HISTORY.key()
HISTORY_LEN = ANALYSIS_HISTORY_LEN
_DONE_TTL_S = 7 * 24 * 3600  # redeliveries come within minutes; a week is generous
_REPORT_IDS = uuid.UUID("6f1d7f3e-5a4b-4c8e-9a51-0c1b8e7d2a90")  # namespace of report ids derived from event ids


class Analyzer:
    def __init__(
        self,
        bus: Bus,
        store: Store,
        *,
        window_s: int,
        name: str = "//qcl/containers/analyzer",
        full_recompute: bool = False,
    ) -> None:
        self.bus = bus
        self.store = store
        self.window_s = window_s
        self.name = name
        # Re-analyse the whole window from scratch at every event (the pre-incremental cost): a benchmark baseline.
        self.full_recompute = full_recompute
        self._rolling: RollingAnalysis | None = None  # the store's window, analysed; None until loaded
        self._version = 0.0  # WINDOW_VERSION_KEY as of _rolling

    def handle(self, event: Envelope[Observation]) -> Future[str] | None:
        """Analyse one observation; returns the report's publish, which the bus confirms before acking the event."""
        done_key = ANALYZER_DONE.key(event_id=event.id)
        if self.store.get(done_key) is not None:
            log.info("analyzer: event %s already analysed (redelivery); skipped", event.id)
            return None
        report = self.analyze(event.data, event.id)
        tick = report.metrics.tick if report.metrics else event.data.tick.tick
        out = NETWORK_ANALYSIS.event(
            report, source=self.name, subject=f"tick/{tick}", event_id=str(uuid.uuid5(_REPORT_IDS, event.id))
        )
        # Stored before it is published: a reader woken by the event finds the report it announces.
        report_json = report.model_dump_json()
        self.store.put(LATEST_KEY, report_json)
        self.store.list_push(HISTORY_KEY, report_json, max_len=HISTORY_LEN)
        self.store.put(done_key, out.id, ttl_s=_DONE_TTL_S)
        published = self.bus.publish_nowait(NETWORK_ANALYSIS, out, ordering_key="qubic-network")
        findings = ", ".join(f"{f.code}({f.severity})" for f in report.findings) or "none"
        log.info("analysis: tick %s health %s (%s); findings: %s", tick, report.health_score, report.status, findings)

        def undo_if_failed(future: Future[str]) -> None:  # the event is nacked and comes back: analyse it again
            if future.exception() is not None:
                self.store.delete(done_key)

        published.add_done_callback(undo_if_failed)
        return published

    def analyze(self, observation: Observation, event_id: str) -> AnalysisReport:
        """Add the observation to the window (unless it is impossible) and analyse the window."""
        rolling = self._synced()
        newest = rolling.window.last
        if newest is not None and observation.observed_at.timestamp() <= newest.t:
            return self._analyze_from_store(observation, event_id)
        reason = rolling.check(observation)
        if reason:
            log.warning("analyzer: observation %s rejected: %s", event_id, reason)
            return rolling.reject(reason, observation.observed_at, observation_event_id=event_id)
        self._store_in_window(observation)
        report = rolling.accept(observation, observation_event_id=event_id)
        if self.full_recompute:  # the same window analysed from scratch (without the store read the old way did)
            return RollingAnalysis(self.window_s, rolling.window.samples).report(observation_event_id=event_id)
        return report

    def _analyze_from_store(self, observation: Observation, event_id: str) -> AnalysisReport:
        """The slow path for an observation not newer than the window: it goes where its time puts it."""
        line = observation.to_json_line()
        earlier = self._stored_samples(max_score=observation.observed_at.timestamp(), leave_out=line)
        before = RollingAnalysis(self.window_s, earlier)
        reason = before.check(observation)
        if reason:
            log.warning("analyzer: observation %s rejected: %s", event_id, reason)
            return before.reject(reason, observation.observed_at, observation_event_id=event_id)
        self._store_in_window(observation)
        self._rolling = None  # reloaded with the observation in its place
        return self._synced().report(observation_event_id=event_id)

    def _synced(self) -> RollingAnalysis:
        """The analysed window, (re)loaded from the store when another writer changed it since we last did."""
        version = float(self.store.get(WINDOW_VERSION_KEY) or 0)
        if self._rolling is None or version != self._version:
            self._rolling = RollingAnalysis(self.window_s, self._stored_samples())
            self._version = version
        return self._rolling

    def _stored_samples(self, max_score: float = float("inf"), *, leave_out: str = "") -> list[Sample]:
        lines = self.store.window_range(WINDOW_KEY, max_score=max_score)
        return [Sample.of(Observation.model_validate_json(line)) for line in lines if line != leave_out]

    def _store_in_window(self, observation: Observation) -> None:
        at = observation.observed_at.timestamp()
        self.store.window_add(WINDOW_KEY, at, observation.to_json_line())
        window = self._rolling.window if self._rolling else None
        if window is None or not len(window) or window.sample(window.head).t < at - self.window_s:
            self.store.window_trim(WINDOW_KEY, at - self.window_s)  # a late, older observation just trims less
        version = self.store.incr(WINDOW_VERSION_KEY)
        if version != self._version + 1:  # another writer changed the window meanwhile: reload at the next event
            self._rolling = None
        self._version = version

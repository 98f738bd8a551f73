"""Jobs in: analysis reports become oracle jobs, and `submit_job` is how any producer (scheduler, API, CLI) files one.

    request = submit_job(bus, store, spec, blob)      # stores the input, claims a sequence, publishes the request
    request = claim_job(store, spec, blob); publish_job(bus, request, source=...)   # the same in two steps (the API
                                                      # keeps its task between them)
    scheduler = ReportScheduler(bus, store, every=20, window_s=3600)
    bus.subscribe(NETWORK_ANALYSIS, "oracle", scheduler.handle)

For every `every`-th analysis report the scheduler takes the analyzer's window of observations up to that report
(the last `window_s` seconds), pins it by content hash and files two jobs over it: the health score (numeric) and the
findings (exact). Sequences are claimed in the store with put_if_absent, so producers in several processes never
hand two jobs the same slot.
"""

from __future__ import annotations

import logging
import uuid

from qcl.analysis.report import AnalysisReport
from qcl.bus.base import Bus
from qcl.events import ORACLE_REQUESTS, Envelope, OracleJobSpec, OracleRequest
from qcl.oracle.jobs import Blobs, analysis_spec, make_request
from qcl.store.base import Store
from qcl.store.keys import ANALYZER_WINDOW, ORACLE_JOB, ORACLE_NEXT_SEQUENCE, ORACLE_REPORTS_SEEN, ORACLE_SEQUENCE

log = logging.getLogger(__name__)

NEXT_SEQUENCE_KEY = ORACLE_NEXT_SEQUENCE.key()
REPORTS_SEEN_KEY = ORACLE_REPORTS_SEEN.key()
_CLAIM_TTL_S = 30 * 24 * 3600
_REQUEST_IDS = uuid.UUID("0c5e7a1b-3f0e-4a6c-9d2e-7b1f4a8c2d60")  # namespace of request event ids (by job id)
SCHEDULED_TASKS = ("analysis.health_score", "analysis.findings")


def claim_sequence(store: Store, job_id: str) -> int:
    """The next free sequence, claimed atomically for `job_id` (the same job gets its old sequence back)."""
    sequence = int(store.get(NEXT_SEQUENCE_KEY) or 0)
    while True:
        key = ORACLE_SEQUENCE.key(sequence=sequence)
        if store.put_if_absent(key, job_id, ttl_s=_CLAIM_TTL_S) or store.get(key) == job_id:
            store.put(NEXT_SEQUENCE_KEY, str(sequence + 1))
            return sequence
        sequence += 1


def claim_job(store: Store, spec: OracleJobSpec, blob: bytes) -> OracleRequest:
    """Store the input and claim the job's sequence (the same job keeps its sequence): the request, not yet filed."""
    Blobs(store).put(blob)
    probe = make_request(spec, 0)
    claimed = store.get(ORACLE_JOB.key(job_id=probe.job_id))
    sequence = int(claimed) if claimed is not None else claim_sequence(store, probe.job_id)
    store.put(ORACLE_JOB.key(job_id=probe.job_id), str(sequence), ttl_s=_CLAIM_TTL_S)
    return make_request(spec, sequence)


def publish_job(bus: Bus, request: OracleRequest, *, source: str) -> None:
    """File a claimed request on oracle-requests; its event id derives from the job id, so a repeat is one event."""
    event = ORACLE_REQUESTS.event(
        request, source=source, subject=request.spec.subject, event_id=str(uuid.uuid5(_REQUEST_IDS, request.job_id))
    )
    bus.publish(ORACLE_REQUESTS, event)


def submit_job(bus: Bus, store: Store, spec: OracleJobSpec, blob: bytes, *, source: str) -> OracleRequest:
    """Store the input, claim a sequence and publish the request on oracle-requests (idempotent per job)."""
    request = claim_job(store, spec, blob)
    publish_job(bus, request, source=source)
    return request


class ReportScheduler:
    def __init__(
        self,
        bus: Bus,
        store: Store,
        *,
        every: int,
        window_s: int,
        source: str = "//qcl/oracle/scheduler",
        shared_count: bool = False,
    ):
        self.bus, self.store, self.every, self.window_s, self.source = bus, store, every, window_s, source
        # Members in separate processes share one subscription, each pulling some of the reports: they count in the
        # store, so every `every`-th report of the stream files a job pair, whichever member pulled it.
        self.shared_count = shared_count
        self.seen = 0
        self.filed: list[OracleRequest] = []

    def handle(self, event: Envelope[AnalysisReport]) -> None:
        self.seen = int(self.store.incr(REPORTS_SEEN_KEY)) if self.shared_count else self.seen + 1
        if (self.seen - 1) % self.every:
            return
        report = event.data
        at = report.observed_at.timestamp()
        lines = self.store.window_range(ANALYZER_WINDOW.key(), min_score=at - self.window_s, max_score=at)
        if not lines:
            log.info("oracle scheduler: no observations in the window of the report at %s", report.observed_at)
            return
        blob = ("\n".join(lines) + "\n").encode()
        tick = report.metrics.tick if report.metrics else None
        for task in SCHEDULED_TASKS:
            spec = analysis_spec(task, blob, subject=f"tick/{tick}" if tick is not None else None)
            request = submit_job(self.bus, self.store, spec, blob, source=self.source)
            self.filed.append(request)
            log.info("oracle: filed job %d (%s) for tick %s", request.sequence, task, tick)

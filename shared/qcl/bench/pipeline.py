"""`qcl bench pipeline`: observations through ingest -> bus -> analyzer -> a subscriber of network-analysis.

Two phases in one run, on the chosen bus and store:
- latency: one observation in flight at a time; latency = ingest publishes -> its report reaches a subscriber.
- throughput: all N published back to back (ingest_many, 50 at a time: their publishes are confirmed together);
  events_per_s = N / (last report received - first publish).
Observations are calm synthetic data (qcl.qubic.synth), so the analysis does its full work on every one.
With `baseline=True` the same run is repeated with an analyzer that re-analyses the whole window from scratch at
every event (the pre-incremental cost, less its store read), and the ratio of the two throughputs is reported:
the machine is shared and noisy, so the ratio is the figure to compare across runs.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from qcl.analysis.report import AnalysisReport
from qcl.bus import open_bus
from qcl.bus.emulator import ensure_emulator
from qcl.config import Settings
from qcl.events import NETWORK_ANALYSIS, QUBIC_TICKS, Envelope
from qcl.pipeline.analyzer import Analyzer
from qcl.pipeline.ingest import Ingestor
from qcl.qubic.capture import parse_line
from qcl.qubic.synth import generate_capture
from qcl.qubic.types import Observation
from qcl.store import open_store

LATENCY_SAMPLES = 100  # at most; fewer when N is smaller
BURST_BATCH = 50  # observations ingested per ingest_many call in the throughput phase


def _observations(n: int) -> list[Observation]:
    lines = generate_capture(
        start=datetime(2025, 11, 8, 0, 0, tzinfo=UTC), hours=n * 30 / 3600 + 0.5, interval_s=30, scenario="calm"
    )
    parsed = [parse_line(line) for line in lines]
    observations = [item for item in parsed if isinstance(item, Observation)]
    return observations[:n]


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def run_pipeline_bench(
    settings: Settings, *, n: int, baseline: bool = False, progress: Callable[[int], None] = lambda done: None
) -> dict[str, Any]:
    emulator = ensure_emulator()[0] if settings.bus == "pubsub" else None  # one for both runs
    try:
        result = _run(settings, n=n, full_recompute=False, progress=progress)
        if baseline:
            full = _run(settings, n=n, full_recompute=True, progress=progress)
            result["baseline_events_per_s"] = full["events_per_s"]
            result["baseline_definition"] = "the whole window re-analysed from scratch at every event"
            result["speedup_over_baseline"] = round(result["events_per_s"] / full["events_per_s"], 2)
    finally:
        if emulator is not None:
            emulator.stop()
    return result


def _run(settings: Settings, *, n: int, full_recompute: bool, progress: Callable[[int], None]) -> dict[str, Any]:
    samples = min(LATENCY_SAMPLES, n)
    run = uuid.uuid4().hex[:8]  # a fresh project and key namespace: a benchmark never meets an earlier run's state
    settings = settings.model_copy(update={"project": f"qcl-bench-{run}", "redis_prefix": f"qcl-bench-{run}:"})
    bus, store = open_bus(settings), open_store(settings)
    published: dict[str, float] = {}
    received: dict[str, float] = {}
    arrived = threading.Condition()

    def on_report(event: Envelope[AnalysisReport]) -> None:
        with arrived:
            received.setdefault(event.data.observation_event_id or "", time.perf_counter())
            arrived.notify_all()

    analyzer = Analyzer(
        bus, store, window_s=settings.window_s, name="//qcl/bench/analyzer", full_recompute=full_recompute
    )
    subscriptions = [
        bus.subscribe(QUBIC_TICKS, "analyzer", analyzer.handle),
        bus.subscribe(NETWORK_ANALYSIS, "api", on_report),
    ]
    ingestor = Ingestor(bus, store, name="//qcl/bench/ingest")
    observations = _observations(n + samples)

    def publish(batch: list[Observation]) -> str:
        started = time.perf_counter()
        for result in ingestor.ingest_many(batch):
            if result.status != "published" or result.event_id is None:
                raise RuntimeError(f"bench observation not published: {result.detail}")
            published[result.event_id] = started
        return str(result.event_id)

    def wait_for(count: int, timeout_s: float = 120.0) -> None:
        with arrived:
            if not arrived.wait_for(lambda: len(received) >= count, timeout=timeout_s):
                raise TimeoutError(f"only {len(received)} of {count} reports arrived within {timeout_s:.0f} s")

    try:
        latencies = []
        for done, observation in enumerate(observations[:samples], start=1):
            event_id = publish([observation])
            wait_for(done)
            latencies.append((received[event_id] - published[event_id]) * 1000)
        burst_start = time.perf_counter()
        burst = observations[samples:]
        for done in range(0, n, BURST_BATCH):  # batched publishes, as a backfill would send them
            publish(burst[done : done + BURST_BATCH])
            progress(min(done + BURST_BATCH, n))
        wait_for(len(observations), timeout_s=max(120.0, n * 0.5))
        burst_s = max(received.values()) - burst_start
        progress(n)
    finally:
        for subscription in subscriptions:
            subscription.close()
        bus.close()
        store.clear()
        store.close()
    return {
        "suite": "pipeline",
        "bus": settings.bus,
        "store": settings.store,
        "observations": n,
        "events_per_s": round(n / burst_s, 1),
        "latency_ms_p50": round(_percentile(latencies, 50), 2),
        "latency_ms_p95": round(_percentile(latencies, 95), 2),
        "latency_samples": len(latencies),
        "latency_definition": "ingest publish -> report delivered to a network-analysis subscriber, one in flight",
    }

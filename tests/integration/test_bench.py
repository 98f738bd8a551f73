"""`qcl bench pipeline` measures what it says on both buses (figures are checked for shape, not speed)."""

from __future__ import annotations

import os

import pytest

from qcl.bench.pipeline import run_pipeline_bench
from qcl.bus.emulator import PubSubEmulator
from qcl.config import load_settings


def check_figures(result: dict[str, object], bus: str) -> None:
    assert result["bus"] == bus and result["observations"] == 30 and result["latency_samples"] == 30
    assert isinstance(result["events_per_s"], float) and result["events_per_s"] > 0
    assert 0 < result["latency_ms_p50"] <= result["latency_ms_p95"]  # type: ignore[operator]


def test_pipeline_bench_on_the_memory_bus() -> None:
    progress: list[int] = []
    result = run_pipeline_bench(load_settings(bus="memory"), n=30, progress=progress.append)
    check_figures(result, "memory")
    assert progress[-1] == 30


def test_pipeline_bench_reports_the_full_recompute_baseline_of_the_same_run() -> None:
    result = run_pipeline_bench(load_settings(bus="memory"), n=30, baseline=True)
    check_figures(result, "memory")
    assert isinstance(result["baseline_events_per_s"], float) and result["baseline_events_per_s"] > 0
    assert result["speedup_over_baseline"] == round(result["events_per_s"] / result["baseline_events_per_s"], 2)


@pytest.mark.emulator
def test_pipeline_bench_on_the_pubsub_emulator(pubsub_emulator: PubSubEmulator) -> None:
    os.environ.update(pubsub_emulator.env)
    check_figures(run_pipeline_bench(load_settings(bus="pubsub"), n=30), "pubsub")

"""`qcl bench jobs` measures what it says, on both stores (figures are checked for shape and the counts that must
hold exactly, not for speed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from qcl.bench.jobs import run_jobs_bench
from qcl.cli import app
from qcl.config import load_settings
from qcl.store.base import Store

pytestmark = pytest.mark.slow


def test_the_jobs_bench_loses_and_duplicates_nothing(store: Store, tmp_path: Path) -> None:
    progress: list[str] = []
    settings = load_settings(model_cache_dir=tmp_path / "models")
    result = run_jobs_bench(settings, store, n=60, runtime="fake", probes=4, background=12, progress=progress.append)
    backlog, interactive = result["backlog"], result["interactive"]
    assert result["store"] == store.backend and result["runtime"].startswith("FAKE")
    assert (backlog["jobs"], backlog["done"], backlog["lost"], backlog["duplicated"]) == (60, 60, 0, 0)
    assert 0 < backlog["fairness_heavy_share"] < 1 and backlog["throughput_jobs_per_s"] > 0
    assert interactive["probes"] == 4 and interactive["interactive_p95_ms_idle"] > 0
    assert interactive["model_preemptions_during_loaded_probes"] >= 0
    assert progress[0] == "submitted 60/60" and any(line.startswith("finished 60/") for line in progress)


def test_the_bench_command_refuses_an_unknown_store() -> None:
    result = CliRunner().invoke(app, ["bench", "jobs", "--store", "sqlite"])
    assert result.exit_code == 2 and "sqlite" in result.output

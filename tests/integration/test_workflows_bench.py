"""`qcl bench workflows` reports its runs with the shape the README quotes (figures checked for shape, not speed)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from qcl.bench.workflows import run_workflows_bench
from qcl.cli import app
from qcl.store.base import Store


def test_bench_measures_baseline_durable_and_resume_runs(store: Store) -> None:
    result = run_workflows_bench({store.backend: store}, iterations=40)
    runs = {row["run"]: row for row in result["runs"]}
    assert set(runs) == {"baseline", store.backend, f"{store.backend}_resume"}
    assert result["steps_per_execution"] == 40 + 3  # init, loop and done, and the body's step per iteration
    assert all(row["ms_per_step"] > 0 and row["steps"] == 43 for row in runs.values())
    resumed = runs[f"{store.backend}_resume"]
    assert resumed["replayed_steps"] == 21 and resumed["ran_steps"] == 22
    assert runs[store.backend]["vs_baseline"] > 0


@pytest.mark.redis
def test_bench_command_prints_json(redis_server_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCL_REDIS_URL", redis_server_url)
    result = CliRunner().invoke(app, ["bench", "workflows", "--steps", "20", "--store", "redis", "--json"])
    assert result.exit_code == 0, result.output
    assert [row["run"] for row in json.loads(result.stdout)["runs"]] == [
        "baseline", "memory", "memory_resume", "redis", "redis_resume",
    ]  # fmt: skip

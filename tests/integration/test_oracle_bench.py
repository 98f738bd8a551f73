"""`qcl bench oracle` measures what it says (figures are checked for shape and meaning, not for speed)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from qcl.bench.oracle import run_oracle_bench
from qcl.cli import app


def test_bench_times_both_committee_sizes_with_and_without_a_silent_primary() -> None:
    lines: list[str] = []
    result = run_oracle_bench(samples=3, model=False, progress=lines.append)
    runs = {(r["n"], r["scenario"]): r for r in result["runs"]}
    assert set(runs) == {(4, "no-faults"), (4, "silent-primary"), (7, "no-faults"), (7, "silent-primary")}
    for run in runs.values():
        assert 0 < run["latency_ms_p50"] <= run["latency_ms_p95"] and run["samples"] == 3
    for n in (4, 7):
        assert runs[(n, "silent-primary")]["views_per_decision"] == 2  # exactly one view change each
        assert runs[(n, "silent-primary")]["latency_ms_p50"] >= result["view_timeout_ms"]
    assert runs[(7, "no-faults")]["messages_per_decision"] > runs[(4, "no-faults")]["messages_per_decision"] >= 30
    assert result["model_job"] is None and lines


def test_bench_command_prints_json() -> None:
    result = CliRunner().invoke(app, ["bench", "oracle", "--samples", "2", "--no-model", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output[result.output.index("{") :])
    assert len(body["runs"]) == 4


@pytest.mark.slow
def test_one_real_model_job_is_agreed_by_four_members_each_running_the_model() -> None:
    from qcl.bench.oracle import _model_run
    from qcl.model.registry import DEFAULT_MODEL

    figures = _model_run(lambda line: None)
    assert "skipped" not in figures, figures
    assert figures["model"] == DEFAULT_MODEL and figures["status"] == "committed"
    assert isinstance(figures["answer"]["answer"], str) and figures["answer"]["answer"]

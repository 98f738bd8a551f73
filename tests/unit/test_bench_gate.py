"""The regression gate of `qcl bench compare`: its verdicts on made-up result files, never on timings.

.venv/bin/pytest tests/unit/test_bench_gate.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qcl.bench.gate import BASELINE, SUITES, compare, failed, figures_of
from qcl.cli import app

runner = CliRunner()


def result(**suites: dict[str, tuple[float, str]]) -> dict[str, Any]:
    """A `qcl bench all` result with the given figures: suite=dict(name=(value, better))."""
    return {
        "suites": {
            suite: {"figures": {name: {"value": value, "better": better} for name, (value, better) in figures.items()}}
            for suite, figures in suites.items()
        }
    }


def verdicts(new: dict[str, Any], baseline: dict[str, Any]) -> dict[str, str]:
    return {f"{row.suite}.{row.figure}": row.verdict for row in compare(new, baseline)}


def test_a_ratio_more_than_15_percent_lower_is_a_regression() -> None:
    baseline = result(model=dict(ratio_int8_vs_fp32=(2.0, "higher")))
    assert verdicts(result(model=dict(ratio_int8_vs_fp32=(1.6, "higher"))), baseline) == {
        "model.ratio_int8_vs_fp32": "regression"
    }


def test_a_count_more_than_15_percent_higher_is_a_regression_when_lower_is_better() -> None:
    baseline = result(oracle=dict(messages=(36.0, "lower")))
    assert verdicts(result(oracle=dict(messages=(42.0, "lower"))), baseline) == {"oracle.messages": "regression"}


def test_an_improvement_is_not_a_regression() -> None:
    baseline = result(model=dict(speed=(1.2, "higher")), oracle=dict(messages=(45.0, "lower")))
    rows = compare(result(model=dict(speed=(2.0, "higher")), oracle=dict(messages=(36.0, "lower"))), baseline)
    assert {row.verdict for row in rows} == {"improvement"} and failed(rows) == []


def test_within_15_percent_is_the_same() -> None:
    baseline = result(model=dict(speed=(1.0, "higher")), oracle=dict(messages=(100.0, "lower")))
    new = result(model=dict(speed=(0.86, "higher")), oracle=dict(messages=(114.0, "lower")))
    assert set(verdicts(new, baseline).values()) == {"same"}


def test_a_figure_the_new_run_lacks_is_reported_missing_and_fails() -> None:
    baseline = result(shard=dict(ratio=(1.0, "higher"), identical=(1.0, "higher")))
    rows = compare(result(shard=dict(ratio=(1.0, "higher"))), baseline)
    assert [(row.figure, row.verdict) for row in failed(rows)] == [("identical", "missing")]


def test_a_count_rising_from_zero_is_a_regression() -> None:
    baseline = result(jobs=dict(lost=(0.0, "lower")))
    assert verdicts(result(jobs=dict(lost=(1.0, "lower"))), baseline) == {"jobs.lost": "regression"}


def test_a_suite_the_new_run_left_out_is_not_compared_and_a_new_figure_is_listed() -> None:
    baseline = result(model=dict(speed=(1.0, "higher")), shard=dict(ratio=(1.0, "higher")))
    assert verdicts(result(model=dict(speed=(1.0, "higher"), agreement=(0.9, "higher"))), baseline) == {
        "model.speed": "same",
        "model.agreement": "new",
    }


def test_a_suite_declares_only_the_figures_its_result_has() -> None:
    oracle = SUITES["oracle"]
    runs = [
        {"n": n, "scenario": s, "messages_per_decision": 36.4, "views_per_decision": 1.0}
        for n in (4, 7)
        for s in ("no-faults", "silent-primary")
    ]
    figures = figures_of(oracle, {"runs": runs})
    assert figures["n4_no-faults_messages_per_decision"] == {"value": 36.4, "better": "lower"}
    assert figures_of(oracle, {"runs": []}) == {}  # absent: compare then reports each missing


def test_the_recorded_baseline_declares_figures_for_every_suite_that_has_them() -> None:
    baseline = json.loads(BASELINE.read_text())
    for name, suite in SUITES.items():
        assert set(baseline["suites"][name]["figures"]) == {f.name for f in suite.figures}, name


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(("new_value", "code"), [(2.0, 0), (1.0, 1)])
def test_compare_command_exits_non_zero_on_a_regression(tmp_path: Path, new_value: float, code: int) -> None:
    baseline = _write(tmp_path / "baseline.json", result(model=dict(speed=(2.0, "higher"))))
    new = _write(tmp_path / "new.json", result(model=dict(speed=(new_value, "higher"))))
    done = runner.invoke(app, ["bench", "compare", str(new), str(baseline)])
    assert done.exit_code == code, done.output
    assert ("regression" in done.output) == (code == 1)


def test_compare_command_names_a_file_that_is_not_a_result(tmp_path: Path) -> None:
    baseline = _write(tmp_path / "baseline.json", result(model=dict(speed=(2.0, "higher"))))
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    done = runner.invoke(app, ["bench", "compare", str(bad), str(baseline)])
    assert done.exit_code == 2 and "bad.json: not a `qcl bench all` result" in done.output


def test_bench_all_refuses_an_unknown_suite() -> None:
    done = runner.invoke(app, ["bench", "all", "--suite", "nope"])
    assert done.exit_code == 2 and "--suite: unknown nope" in done.output

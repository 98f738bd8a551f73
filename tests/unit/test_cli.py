"""The `qcl` command's contracts: analyze, topics, ingest, and start-up errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from qcl.cli import app
from qcl.qubic.synth import sample_capture_path

runner = CliRunner()


def test_analyze_json_has_the_final_score_and_every_finding_raised() -> None:
    result = runner.invoke(app, ["analyze", "--input", str(sample_capture_path()), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert 0 <= report["health_score"] <= 100
    codes = {finding["code"] for finding in report["findings"]}
    assert {"tick_stall", "epoch_transition", "data_invalid", "price_crash"} <= codes
    finding = report["findings"][0]
    assert set(finding) >= {
        "code",
        "severity",
        "observed_at",
        "tick",
        "metric",
        "value",
        "threshold",
        "message_en",
        "message_zh",
        "evidence",
    }


def test_analyze_without_json_prints_a_table_line_per_finding() -> None:
    result = runner.invoke(app, ["analyze", "--input", str(sample_capture_path())])
    assert result.exit_code == 0
    assert result.stdout.startswith("health ")
    assert any(" critical tick_stall " in line for line in result.stdout.splitlines())


def test_analyze_reports_a_truncated_line_and_goes_on(tmp_path: Path) -> None:
    lines = sample_capture_path().read_text().splitlines()[:5]
    capture = tmp_path / "c.jsonl"
    capture.write_text("\n".join([lines[0], lines[1][:50], *lines[2:]]) + "\n")
    report = json.loads(runner.invoke(app, ["analyze", "-i", str(capture), "--json"]).stdout)
    assert report["observations"] == 4 and report["invalid_lines"] == 1
    assert report["findings"][0]["code"] == "data_invalid"


def test_topics_json_is_the_registry() -> None:
    table = json.loads(runner.invoke(app, ["topics", "--json"]).stdout)
    assert [row["topic"] for row in table][:2] == ["qubic-ticks", "network-analysis"]
    assert all(row["dead_letter_topic"] == row["topic"] + "-dlq" for row in table)


def test_ingest_once_prints_the_summary_of_what_it_published() -> None:
    result = runner.invoke(app, ["ingest", "--once"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "published"


def test_an_invalid_setting_stops_the_command_naming_the_variable() -> None:
    result = runner.invoke(app, ["ingest", "--once"], env={"QCL_STORE": "mongo"})
    assert result.exit_code == 2
    assert "QCL_STORE: Input should be 'memory' or 'redis' (got 'mongo')" in result.output


def test_a_missing_capture_is_a_usage_error() -> None:
    result = runner.invoke(app, ["analyze", "--input", "/nonexistent.jsonl"])
    assert result.exit_code == 2

"""`qcl shard plan` in process (the serving commands run as real processes in tests/e2e/test_shard_cli.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qcl.cli import app

MODEL = "tiny-random-qwen2"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("QCL_MODEL_CACHE_DIR", str(tmp_path / "models"))
    return CliRunner()


def test_plan_prints_the_ranges_as_json(runner: CliRunner) -> None:
    result = runner.invoke(app, ["shard", "plan", "--model", MODEL, "--stages", "2", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["ranges"] == ["0:1", "1:2"] and plan["layers_per_stage"] == [1, 1]


def test_plan_prints_one_line_per_stage(runner: CliRunner) -> None:
    result = runner.invoke(app, ["shard", "plan", "--model", MODEL, "--stages", "2"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("stage 0: layers 0:1")


def test_plan_refuses_more_stages_than_layers(runner: CliRunner) -> None:
    result = runner.invoke(app, ["shard", "plan", "--model", MODEL, "--stages", "3"])
    assert result.exit_code == 1
    assert "3 stages need 3 layers or more; the model has 2" in result.stderr


def test_plan_of_an_unknown_model_names_the_registered_ones(runner: CliRunner) -> None:
    result = runner.invoke(app, ["shard", "plan", "--model", "no-such-model"])
    assert result.exit_code == 1
    assert "not in the model registry" in result.stderr

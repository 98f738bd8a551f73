"""`qcl models` and `qcl bench model` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qcl.cli import app

runner = CliRunner()
BENCH_FIGURES = {
    "load_s_cold",
    "load_s_cached",
    "tokens_per_s_fp32",
    "tokens_per_s_int8",
    "tokens_per_s_generate_fp32",
    "ratio_fp32_vs_generate",
    "first_token_ms_p50",
    "size_mb_fp32",
    "size_mb_int8",
    "int8_agreement",
    "tokens_per_s_llamacpp_runtime",
    "tokens_per_s_llamacpp",
    "ratio_llamacpp_runtime_vs_llamacpp",
    "llamacpp_agreement",
}


def test_models_json_lists_the_registry_with_availability() -> None:
    result = runner.invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    assert rows["smollm2-135m-instruct"]["default"] is True
    assert rows["deepseek-r1-distill-qwen-1.5b"]["available"] is False
    assert "QCL_MODEL_PATH" in rows["deepseek-r1-distill-qwen-1.5b"]["reason"]


def test_models_table_marks_unavailable_models() -> None:
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if "deepseek" in line)
    assert "UNAVAILABLE: no local path configured" in line


@pytest.mark.slow
def test_bench_model_prints_every_figure_as_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCL_STATE_DIR", str(tmp_path))
    result = runner.invoke(
        app, ["bench", "model", "--model", "tiny-random-qwen2", "--tokens", "4", "--runs", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout[result.stdout.index("{") :])
    assert figures.keys() >= BENCH_FIGURES
    assert 0 <= figures["int8_agreement"] <= 1
    assert figures["llamacpp"].startswith("not measured: the llama.cpp runtime runs GGUF models only")
    assert figures["tokens_per_s_llamacpp"] is None
    assert figures["target_model"]["expected_size_mb_int8"] == 1777


def test_bench_model_for_an_unavailable_model_exits_with_the_reason() -> None:
    result = runner.invoke(app, ["bench", "model", "--model", "deepseek-r1-distill-qwen-1.5b", "--json"])
    assert result.exit_code == 1
    assert "no local path configured" in result.output


def test_models_with_an_invalid_setting_exits_with_the_variable_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCL_QUANTIZATION", "int4")
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 2
    assert "QCL_QUANTIZATION" in result.output

"""The model registry: one table, availability with a reason, never a silent fallback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qcl.config import load_settings
from qcl.model.errors import ModelUnavailableError, UnknownModelError
from qcl.model.registry import DEFAULT_MODEL, MODELS, availability, get_spec, registry_table, smollm2_gguf_path

TARGET = "deepseek-r1-distill-qwen-1.5b"


def test_registry_holds_the_default_the_target_and_a_tiny_model_of_each_architecture() -> None:
    assert DEFAULT_MODEL == "smollm2-135m-instruct"
    assert {spec.architecture for spec in MODELS.values() if spec.source == "random"} == {"llama", "qwen2"}
    assert MODELS[TARGET].architecture == "qwen2"
    assert MODELS[TARGET].thinks


def test_target_is_unavailable_without_a_local_path_or_hub_and_says_why() -> None:
    available, reason = availability(MODELS[TARGET], load_settings())
    assert not available
    assert "QCL_MODEL_PATH" in reason
    assert "QCL_MODEL_HUB" in reason


def test_target_is_available_from_a_local_checkpoint_folder(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    available, reason = availability(MODELS[TARGET], load_settings(model_path=tmp_path))
    assert available
    assert str(tmp_path) in reason


def test_a_local_folder_without_config_is_unavailable_with_the_path_in_the_reason(tmp_path: Path) -> None:
    available, reason = availability(MODELS[TARGET], load_settings(model_path=tmp_path))
    assert not available
    assert "config.json" in reason


def test_a_local_folder_of_another_architecture_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    available, reason = availability(MODELS[TARGET], load_settings(model_path=tmp_path))
    assert not available
    assert "'llama'" in reason


def test_a_local_folder_whose_config_does_not_parse_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    available, reason = availability(MODELS[TARGET], load_settings(model_path=tmp_path))
    assert not available
    assert "does not parse" in reason


def test_hub_enabled_but_unreachable_is_unavailable_not_a_fallback() -> None:
    # This machine reaches no model hub; a reachable one would make the model available instead.
    available, reason = availability(MODELS[TARGET], load_settings(model_hub=True))
    assert not available
    assert "hub" in reason


def test_default_model_is_available_from_the_installed_package() -> None:
    assert smollm2_gguf_path() is not None
    available, reason = availability(MODELS[DEFAULT_MODEL], load_settings())
    assert available, reason


def test_table_marks_the_configured_default_and_reports_availability() -> None:
    rows = {row["id"]: row for row in registry_table(load_settings(model="tiny-random-qwen2"))}
    assert set(rows) == set(MODELS)
    assert rows["tiny-random-qwen2"]["default"]
    assert not rows[DEFAULT_MODEL]["default"]
    assert rows[TARGET]["available"] is False
    assert rows[TARGET]["reason"]
    assert {"architecture", "source", "revision", "weights_sha256", "dtype", "quantization", "context_length"} <= set(
        rows[TARGET]
    )
    assert rows[TARGET]["licence"] == "MIT"


def test_unknown_model_id_lists_the_registered_ones() -> None:
    with pytest.raises(UnknownModelError, match=r"registered models: deepseek-r1-distill-qwen-1\.5b, smollm2"):
        get_spec("gpt-5")


def test_unknown_model_error_is_a_model_unavailable_error() -> None:
    assert issubclass(UnknownModelError, ModelUnavailableError)


def test_expected_int8_size_of_the_target_follows_from_its_parameter_count() -> None:
    # 1.78 B parameters at one byte each (model-facts.md: roughly 1.8 GB).
    assert 1700 < MODELS[TARGET].expected_int8_mb < 1850

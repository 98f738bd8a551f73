"""Settings: QCL_* variables, CLI overrides, and start-up errors that name the variable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qcl.config import Settings, as_environment, cpu_threads, load_settings, settings
from qcl.errors import ConfigError


def test_defaults_are_the_embedded_stack() -> None:
    loaded = load_settings()
    assert (loaded.bus, loaded.store, loaded.source) == ("memory", "memory", "replay")


def test_variables_are_read_with_the_qcl_prefix() -> None:
    os.environ.update({"QCL_BUS": "pubsub", "QCL_STORE": "redis", "QCL_REPLAY_SPEED": "0"})
    loaded = load_settings()
    assert (loaded.bus, loaded.store, loaded.replay_speed) == ("pubsub", "redis", 0.0)


def test_a_flag_wins_over_its_variable_and_none_means_not_given() -> None:
    os.environ["QCL_BUS"] = "pubsub"
    assert load_settings(bus="memory").bus == "memory"
    assert load_settings(bus=None).bus == "pubsub"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("QCL_BUS", "kafka", "QCL_BUS: Input should be 'memory', 'pubsub' or 'sqs' (got 'kafka')"),
        ("QCL_MAX_DELIVERY_ATTEMPTS", "2", "QCL_MAX_DELIVERY_ATTEMPTS: Input should be greater than or equal to 5"),
        ("QCL_REDIS_URL", "localhost:6379", "QCL_REDIS_URL: String should match pattern"),
        ("QCL_REPLAY_SPEED", "fast", "QCL_REPLAY_SPEED: Input should be a valid number"),
        ("QCL_PROJECT", "X", "QCL_PROJECT: String should match pattern"),
    ],
)
def test_an_invalid_value_fails_naming_the_variable(variable: str, value: str, message: str) -> None:
    os.environ[variable] = value
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings()


def test_every_problem_is_listed_at_once() -> None:
    os.environ.update({"QCL_BUS": "kafka", "QCL_STORE": "mongo"})
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "QCL_BUS" in str(raised.value) and "QCL_STORE" in str(raised.value)


def test_process_settings_are_read_once() -> None:
    assert settings() is settings()


def test_a_child_process_gets_the_settings_as_they_are_here() -> None:
    here = Settings(store="redis", redis_prefix="qcl:replay:", model_hub=True, state_dir=Path("rel"), jobs_workers=2)
    env = as_environment(here, ["store", "redis_prefix", "model_hub", "state_dir", "jobs_workers", "model_path"])
    assert env == {
        "QCL_STORE": "redis",
        "QCL_REDIS_PREFIX": "qcl:replay:",
        "QCL_MODEL_HUB": "true",
        "QCL_STATE_DIR": str(Path("rel").resolve()),
        "QCL_JOBS_WORKERS": "2",
    }  # model_path is None: left out, so the child's default stands
    os.environ.update(env)
    child = load_settings()
    assert (child.store, child.redis_prefix, child.model_hub, child.jobs_workers) == ("redis", "qcl:replay:", True, 2)


@pytest.mark.parametrize(
    ("omp", "expected"), [("3", 3), (" 1 ", 1), ("0", None), ("two", None), ("", None), (None, None)]
)
def test_model_threads_come_from_the_setting_then_openmp_then_the_cores(
    monkeypatch: pytest.MonkeyPatch, omp: str | None, expected: int | None
) -> None:
    if omp is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", omp)
    assert cpu_threads(5) == 5
    assert cpu_threads(0) == (expected or len(os.sched_getaffinity(0)))

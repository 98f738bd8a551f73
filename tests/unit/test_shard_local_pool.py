"""The local pool's process bookkeeping, with stand-in stage processes: no stage outlives the pool."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from qcl.config import Settings
from qcl.shard.errors import ShardError
from qcl.shard.local import RESTART_DELAY_S, LocalPool, StageProcess

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalPool:
    settings = Settings(state_dir=tmp_path, shard_tls=False)
    local = LocalPool(settings, "smollm2-135m-instruct", ranges=[range(0, 15), range(15, 30)])
    monkeypatch.setattr(local, "_command", lambda stage_process: SLEEPER)
    return local


def alive(stage_process: StageProcess) -> bool:
    return stage_process.process is not None and stage_process.process.poll() is None


def test_a_pool_that_fails_to_start_ends_the_stages_it_spawned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = pool(tmp_path, monkeypatch)

    def never_serving(processes: list[StageProcess], *, timeout_s: float) -> None:
        raise ShardError("stages not serving after 0 s")

    monkeypatch.setattr(local, "wait_serving", never_serving)
    with pytest.raises(ShardError, match="not serving"), local:
        pass
    assert [p.process is not None for p in local.processes] == [True, True]
    assert not any(alive(p) for p in local.processes)


def test_an_operator_restart_racing_the_supervisor_leaves_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = pool(tmp_path, monkeypatch)
    monkeypatch.setattr(local, "wait_serving", lambda processes, *, timeout_s: None)
    with local:
        first = local.processes[0]
        killed = local.kill(first.node_id).process
        assert killed is not None
        killed.wait(timeout=5)
        time.sleep(0.3)  # the supervisor (polling every 0.2 s) has seen the exit and waits RESTART_DELAY_S to restart
        local.restart_stage(first.node_id)
        by_operator = first.process
        time.sleep(RESTART_DELAY_S + 0.8)
        assert first.process is by_operator and alive(first)
    assert by_operator is not None and by_operator.poll() is not None
    assert not any(alive(p) for p in local.processes)


def test_a_stage_gets_the_pool_s_environment_without_coverage_s_request_to_trace_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COVERAGE_PROCESS_CONFIG", ":data:{}")
    monkeypatch.setenv("COVERAGE_PROCESS_START", "pyproject.toml")
    monkeypatch.setenv("QCL_EXTRA_FOR_STAGE", "kept")
    env = pool(tmp_path, monkeypatch)._environment()
    assert not {"COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START"} & set(env)
    assert env["QCL_EXTRA_FOR_STAGE"] == "kept" and env["QCL_STATE_DIR"] == str(tmp_path.resolve())

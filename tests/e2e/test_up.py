"""`qcl up` as a user runs it: a real process, its output, and Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qcl.bus.emulator import PubSubEmulator
from qcl.qubic.synth import generate_lines
from tests.backends import wait_for

OBSERVATIONS = 20


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    path = tmp_path / "calm.jsonl"
    lines = generate_lines(start=datetime(2025, 11, 8, tzinfo=UTC), hours=1)[:OBSERVATIONS]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_up(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Start `qcl up`, wait for every observation's analysis, press Ctrl-C; returns (exit code, output)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "qcl.cli", "up", *args],
        # A free port, and narration from templates: this test is about the pipeline, not the model.
        env={**os.environ, "QCL_PORT": "0", "QCL_NARRATE_MODEL": "false", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        analysed = wait_for(lambda: sum("analysis: tick" in line for line in output) >= OBSERVATIONS, timeout_s=90)
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(timeout=5)
    text = "".join(output)
    assert analysed, text
    return code, text


def test_up_runs_the_embedded_pipeline_and_stops_on_ctrl_c(capture: Path) -> None:
    code, output = run_up(["--speed", "0", "--capture", str(capture)], {})
    assert code == 0, output
    assert "qcl up: bus      memory" in output and "qcl up: store    memory" in output
    assert output.count("ingest: published tick") == OBSERVATIONS
    assert "qcl up: stopped" in output


@pytest.mark.emulator
@pytest.mark.redis
def test_up_runs_on_the_pubsub_emulator_and_redis(
    capture: Path, pubsub_emulator: PubSubEmulator, redis_server_url: str
) -> None:
    env = {**pubsub_emulator.env, "QCL_REDIS_URL": redis_server_url, "QCL_PROJECT": "qcl-e2e-up"}
    code, output = run_up(["--speed", "0", "--capture", str(capture), "--bus", "pubsub", "--store", "redis"], env)
    assert code == 0, output
    assert "qcl up: bus      pubsub" in output and "qcl up: store    redis" in output
    assert "qcl up: stopped" in output

"""`qcl up` as a user runs it: a real process, its output, and Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qcl.bus.emulator import PubSubEmulator
from qcl.qubic.synth import generate_lines
from tests.backends import unique, wait_for

OBSERVATIONS = 20


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    path = tmp_path / "calm.jsonl"
    lines = generate_lines(start=datetime(2025, 11, 8, tzinfo=UTC), hours=1)[:OBSERVATIONS]
    path.write_text("\n".join(lines) + "\n")
    return path


def _wait_until_quiet(output: list[str], quiet_s: float = 1.0, timeout_s: float = 10.0) -> None:
    """Until `output` has not grown for `quiet_s` (or `timeout_s` has passed)."""
    deadline = time.monotonic() + timeout_s
    seen = -1
    while len(output) != seen and time.monotonic() < deadline:
        seen = len(output)
        time.sleep(quiet_s)


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
    code: int | None = None
    try:
        analysed = wait_for(lambda: sum("analysis: tick" in line for line in output) >= OBSERVATIONS, timeout_s=90)
        process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            # It stops in seconds on an idle machine; a clean-clone CI run at load 5-7 once took 34 s (it did stop).
            code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGUSR1)  # where it is stuck: every thread's stack, into the output
            wait_for(lambda: any("Current thread" in line or "Thread 0x" in line for line in output), timeout_s=5)
            _wait_until_quiet(output)  # the whole dump: the main thread's stack comes last
            process.kill()
    reader.join(timeout=5)
    text = "".join(output)
    assert analysed, text
    assert code is not None, f"qcl up did not stop within 60 s of Ctrl-C:\n{text}"
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
    env = {
        **pubsub_emulator.env,
        "QCL_REDIS_URL": redis_server_url,
        "QCL_REDIS_PREFIX": unique("qcl-e2e-up:") + ":",  # runs beside other tests on the shared server
        "QCL_PROJECT": unique("qcl-e2e-up-"),
    }
    code, output = run_up(["--speed", "0", "--capture", str(capture), "--bus", "pubsub", "--store", "redis"], env)
    assert code == 0, output
    assert "qcl up: bus      pubsub" in output and "qcl up: store    redis" in output
    assert "qcl up: stopped" in output

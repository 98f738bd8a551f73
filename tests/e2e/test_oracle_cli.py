"""The oracle commands as a user runs them: real processes, their output, their exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from qcl.bus.emulator import PubSubEmulator
from qcl.qubic.synth import sample_lines
from tests.backends import unique, wait_for

QCL = [sys.executable, "-m", "qcl.cli"]


def test_simulate_prints_exactly_the_documented_figures() -> None:
    spec = "0:equivocate,3:delay:200,partition:0.1|2.3@0-1500"
    done = subprocess.run([*QCL, "oracle", "simulate", "--nodes", "4", "--faults", spec, "--seed", "1", "--json"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert set(summary) == {
        "committed",
        "result",
        "certificate_valid",
        "views",
        "messages",
        "latency_ms",
        "evidence",
        "excluded",
    }
    assert summary["committed"] and summary["certificate_valid"] and summary["excluded"] == [0]
    assert {"node": 0, "kind": "equivocation"} in summary["evidence"]


@pytest.mark.slow
@pytest.mark.emulator
@pytest.mark.redis
def test_a_committee_on_the_emulator_answers_a_request_with_an_attestation_that_verifies(
    tmp_path: Path, pubsub_emulator: PubSubEmulator, redis_server_url: str
) -> None:
    env = {
        **os.environ,
        **pubsub_emulator.env,
        "QCL_PROJECT": unique("qcl-e2e-o"),
        "QCL_REDIS_URL": redis_server_url,
        "QCL_REDIS_PREFIX": unique("qcl-e2e-oracle:") + ":",
        "QCL_STATE_DIR": str(tmp_path / "state"),
        "QCL_BUS": "pubsub",
        "QCL_STORE": "redis",
    }
    up = subprocess.Popen([*QCL, "oracle", "up", "--nodes", "4"], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)  # fmt: skip
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(iter(up.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        assert wait_for(lambda: any("running; Ctrl-C stops" in line for line in output), timeout_s=90), "".join(output)
        capture = tmp_path / "sample.jsonl"
        capture.write_text("\n".join(sample_lines()[:120]) + "\n")
        command = [*QCL, "oracle", "request", "--task", "analysis.health_score", "--capture", str(capture)]
        asked = subprocess.run(
            [*command, "--wait", "90", "--json"], env=env, capture_output=True, text=True, timeout=180
        )
        assert asked.returncode == 0, asked.stderr + "".join(output)
        attestation = json.loads(asked.stdout)
        assert attestation["status"] == "committed" and attestation["result"] == 60.0
        path = tmp_path / "attestation.json"
        path.write_text(asked.stdout)
        committee = tmp_path / "state" / "oracle" / "n4" / "committee.json"
        checked = subprocess.run([*QCL, "oracle", "verify", str(path), "--committee", str(committee)],
                                 env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert checked.returncode == 0 and checked.stdout.startswith("valid:"), checked.stderr
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=60) == 0
    finally:
        if up.poll() is None:
            up.kill()
    reader.join(timeout=5)
    assert "qcl oracle up: stopped" in "".join(output)

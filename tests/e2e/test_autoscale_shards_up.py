"""`qcl up --shards 2 --autoscale 2`: a batch of jobs through the API makes the stack start a second replica set of
the stage processes, which joins the pool (GET /api/nodes) while every job finishes once; Ctrl-C stops it all."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from qcl.qubic.synth import generate_lines
from tests.backends import wait_for

# Stage-process pools run one at a time, on one worker (pytest-xdist --dist loadgroup).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stage-pools")]


def test_waiting_jobs_start_a_second_replica_set_that_joins_the_pool(tmp_path: Path) -> None:
    capture = tmp_path / "calm.jsonl"
    capture.write_text("\n".join(generate_lines(start=datetime(2025, 11, 8, tzinfo=UTC), hours=0.05)) + "\n")
    env = {
        **os.environ,
        "QCL_STATE_DIR": str(tmp_path / "state"),
        "QCL_MODEL": "tiny-random-llama",
        "QCL_NARRATE_EMBEDDINGS": "false",
        "QCL_JOBS_WORKERS": "1",
    }
    command = [sys.executable, "-m", "qcl.cli", "up", "--port", "0", "--speed", "0", "--capture", str(capture)]
    process = subprocess.Popen(
        [*command, "--shards", "2", "--autoscale", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    try:
        assert wait_for(lambda: "qcl up: running" in "".join(output), timeout_s=180), "".join(output)
        assert "shard replica sets autoscaled 1..2" in "".join(output)
        found = re.search(r"qcl up: api\s+(http://127\.0\.0\.1:\d+)", "".join(output))
        assert found, "".join(output)
        url = found.group(1)
        auth = {"Authorization": f"Bearer {(tmp_path / 'state' / 'admin.key').read_text().strip()}"}
        body = {"kind": "completion", "prompts": [f"Is tick {i} healthy?" for i in range(120)], "max_tokens": 16}
        submitted = httpx.post(f"{url}/api/jobs", json=body, headers=auth, timeout=30)
        assert submitted.status_code == 202, submitted.text
        ids = submitted.json()["jobs"]

        def shard_states() -> dict[str, str]:
            nodes = httpx.get(f"{url}/api/nodes", headers=auth, timeout=10).json()["nodes"]
            return {n["node_id"]: n["state"] for n in nodes if n["node_id"].startswith("local-")}

        joined = {"local-s0-r1": "up", "local-s1-r1": "up"}
        assert wait_for(lambda: shard_states().items() >= joined.items(), timeout_s=120), shard_states()
        assert "autoscale: 1 -> 2 replicas" in "".join(output)

        def jobs() -> list[dict[str, Any]]:
            listed = httpx.get(f"{url}/api/jobs", params={"limit": 200}, headers=auth, timeout=10).json()["jobs"]
            return [job for job in listed if job["id"] in ids]

        assert wait_for(lambda: [job["state"] for job in jobs()] == ["done"] * len(ids), timeout_s=120)
        assert [job["attempts"] for job in jobs()] == [1] * len(ids)  # none lost, none run twice
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
    assert process.returncode == 0, "".join(output)

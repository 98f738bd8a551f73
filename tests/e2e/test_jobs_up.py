"""`qcl up` runs jobs: a batch submitted over HTTP is run by the stack's workers on the narrator's model (the tiny
model here), and each job ends done with the model's text."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from qcl.qubic.synth import generate_lines
from tests.backends import wait_for
from tests.e2e.test_api_up import Up

pytestmark = pytest.mark.slow


@pytest.fixture
def up_with_model(tmp_path: Path) -> Iterator[Up]:
    capture = tmp_path / "calm.jsonl"
    capture.write_text("\n".join(generate_lines(start=datetime(2025, 11, 8, tzinfo=UTC), hours=0.1)) + "\n")
    env = {
        **os.environ,
        "QCL_STATE_DIR": str(tmp_path / "state"),
        "QCL_MODEL": "tiny-random-llama",
        "QCL_NARRATE_EMBEDDINGS": "false",
        "QCL_JOBS_WORKERS": "2",
    }
    command = [sys.executable, "-m", "qcl.cli", "up", "--port", "0", "--speed", "0", "--capture", str(capture)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    try:
        assert wait_for(lambda: "qcl up: running" in "".join(output), timeout_s=120), "".join(output)
        url = re.search(r"qcl up: api\s+(http://127\.0\.0\.1:\d+)", "".join(output))
        assert url, "".join(output)
        yield Up(process, output, url.group(1), tmp_path / "state", env)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_up_runs_a_batch_of_jobs_on_the_model(up_with_model: Up) -> None:
    assert "qcl up: jobs     2 workers + 1 interactive lane on tiny-random-llama" in up_with_model.text()
    auth = {"Authorization": f"Bearer {(up_with_model.state_dir / 'admin.key').read_text().strip()}"}
    body = {"kind": "completion", "prompts": ["Say hi", "Say bye", "Count to three"], "max_tokens": 6}
    accepted = httpx.post(f"{up_with_model.url}/api/jobs", json=body, headers=auth)
    assert accepted.status_code == 202, accepted.text
    ids = accepted.json()["jobs"]

    def states() -> list[str]:
        return [httpx.get(f"{up_with_model.url}/api/jobs/{i}", headers=auth).json()["state"] for i in ids]

    assert wait_for(lambda: states() == ["done"] * 3, timeout_s=60), states()
    done = httpx.get(f"{up_with_model.url}/api/jobs/{ids[0]}", headers=auth).json()
    assert done["result"]["model"] == "tiny-random-llama" and 0 < done["result"]["tokens"] <= 6
    quotas = httpx.get(f"{up_with_model.url}/api/quotas", headers=auth).json()
    assert quotas["queue"]["running"] == 0

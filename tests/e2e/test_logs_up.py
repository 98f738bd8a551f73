"""`qcl up --shards 2`: every process writes its JSON lines under <state_dir>/logs, the API indexes them, and one
chat completion's request id is found in the lines of the API process and of the stage processes it went through,
by the API and by `qcl logs search`; the console shows what it showed before."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from typer.testing import CliRunner

from qcl.cli import app
from qcl.qubic.synth import generate_lines
from tests.backends import wait_for
from tests.e2e.test_api_up import Up

# Stage-process pools run one at a time, on one worker (pytest-xdist --dist loadgroup).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stage-pools")]

MODEL = "tiny-random-llama"


@pytest.fixture(scope="module")
def up_shards(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    tmp_path = tmp_path_factory.mktemp("logs-up")
    capture = tmp_path / "calm.jsonl"
    capture.write_text("\n".join(generate_lines(start=datetime(2025, 11, 8, tzinfo=UTC), hours=0.1)) + "\n")
    env = {
        **os.environ,
        "QCL_STATE_DIR": str(tmp_path / "state"),
        "QCL_MODEL": MODEL,
        "QCL_NARRATE_EMBEDDINGS": "false",
        "QCL_JOBS_WORKERS": "0",
    }
    command = [sys.executable, "-m", "qcl.cli", "up", "--port", "0", "--speed", "0", "--capture", str(capture)]
    process = subprocess.Popen(
        [*command, "--shards", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    try:
        assert wait_for(lambda: "qcl up: running" in "".join(output), timeout_s=180), "".join(output)
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


def test_one_requests_id_is_found_in_the_lines_of_the_api_and_the_stage_processes(up_shards: Up) -> None:
    auth = {"Authorization": f"Bearer {(up_shards.state_dir / 'admin.key').read_text().strip()}"}
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Is the network healthy?"}], "max_tokens": 4}
    answer = httpx.post(
        f"{up_shards.url}/v1/chat/completions", json=body, headers={**auth, "X-Request-Id": "e2e-logs-1"}, timeout=60
    )
    assert answer.status_code == 200, answer.text

    def services() -> set[str]:
        found = httpx.get(f"{up_shards.url}/api/ops/logs", params={"request_id": "e2e-logs-1"}, headers=auth).json()
        return {entry["service"] for entry in found["entries"]}

    assert wait_for(lambda: services() == {"api", "shard-local-s0-r0", "shard-local-s1-r0"}, timeout_s=15), services()
    pids = {
        e["service"]: e["pid"]
        for e in httpx.get(f"{up_shards.url}/api/ops/logs", params={"request_id": "e2e-logs-1"}, headers=auth).json()[
            "entries"
        ]
    }
    assert pids["api"] == up_shards.process.pid and len(set(pids.values())) == 3  # three processes

    remote = ["--api", up_shards.url, "--key-file", str(up_shards.state_dir / "admin.key")]
    result = CliRunner().invoke(app, ["logs", "search", "--request-id", "e2e-logs-1", "--service", "shard", *remote])
    assert result.exit_code == 0, result.output
    assert re.search(r"shard-local-s0-r0\s+\[e2e-logs-1\] shard local-s0-r0: session \w+ opened", result.output)


def test_each_process_writes_its_own_file_and_the_console_stays_readable(up_shards: Up) -> None:
    logs = up_shards.state_dir / "logs"
    assert {"api.jsonl", "shard-local-s0-r0.jsonl", "shard-local-s1-r0.jsonl"} <= {p.name for p in logs.iterdir()}
    first = json.loads((logs / "api.jsonl").read_text().splitlines()[0])
    assert first["service"] == "api" and first["pid"] == up_shards.process.pid and first["severity"] == "INFO"
    console = up_shards.text()
    assert "INFO    ingest: published tick" in console and not any(
        line.startswith("{") for line in console.splitlines()
    )

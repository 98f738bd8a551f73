"""scripts/locustfile.py, headless for a few seconds against a real `qcl up` (a model running jobs): every kind of
user gets its requests through, WebSocket subscribers included, and nothing fails.

.venv/bin/pytest tests/integration/test_locustfile.py -m slow
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qcl.bench.api import StackProcess, wait_for_analysis

pytestmark = pytest.mark.slow

LOCUSTFILE = Path(__file__).resolve().parents[2] / "scripts" / "locustfile.py"
EVERY_NAME = {
    ("GET", "/api/network/latest"),
    ("GET", "/api/ai/status"),
    ("GET", "/api/insights"),
    ("POST", "/api/ai/question"),
    ("POST", "/api/jobs"),
    ("GET", "/api/jobs/{job_id}"),
    ("WS", "/api/ws connect"),
    ("WS", "/api/ws message"),
}


def locust(host: str, env: dict[str, str], users: int, seconds: int) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", str(users), "-r", str(users),
               "-t", f"{seconds}s", "--host", host, "--json", "--skip-log", "--stop-timeout", "5"]  # fmt: skip
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_a_short_headless_run_reaches_every_route_and_the_websocket_without_failures(tmp_path: Path) -> None:
    model = {"QCL_MODEL": "tiny-random-qwen2", "QCL_NARRATE_MODEL": "true", "QCL_NARRATE_EMBEDDINGS": "false"}
    stack = StackProcess(tmp_path, lambda line: None, env=model)
    try:
        wait_for_analysis(stack.url, stack.key)
        done = locust(stack.url, {**os.environ, "QCL_LOCUST_KEY": stack.key}, users=40, seconds=8)
    finally:
        stack.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {(row["method"], row["name"]): row for row in json.loads(done.stdout)}
    assert set(rows) >= EVERY_NAME, sorted(rows)
    assert all(rows[name]["num_requests"] > 0 for name in EVERY_NAME)
    assert {name: row["num_failures"] for name, row in rows.items() if row["num_failures"]} == {}


def test_without_a_key_every_user_fails_to_start_and_says_why(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("QCL_LOCUST_KEY", "QCL_LOCUST_KEYS")}
    done = locust("http://127.0.0.1:9", env, users=2, seconds=2)
    assert "set QCL_LOCUST_KEY" in done.stderr

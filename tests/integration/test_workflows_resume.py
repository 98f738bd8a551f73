"""Durability, the real way: `qcl workflows run --wait` in its own process on Redis, killed with SIGKILL mid-execution;
another executor resumes the execution at its last finished step. Each step calls a real HTTP server that counts
the calls, so a step run twice would show."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from qcl.store.redis import RedisStore
from tests.backends import unique, wait_for
from tests.integration.workflow_fixtures import make_service

pytestmark = [pytest.mark.redis, pytest.mark.slow]

STEPS = """
main:
  params: [args]
  steps:
    - first:
        call: http.post
        args:
          url: ${args.url}
          body: {step: first}
        result: one
    - second:
        call: http.post
        args:
          url: ${args.url}
          body: {step: second}
        result: two
    - nap:
        call: sys.sleep
        args:
          seconds: 2
    - third:
        call: http.post
        args:
          url: ${args.url}
          body: {step: third}
        result: three
    - done:
        return: ${[one.body.count, two.body.count, three.body.count]}
"""


class Counting(BaseHTTPRequestHandler):
    hits: ClassVar[Counter[str]] = Counter()

    def do_POST(self) -> None:
        step = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["step"]
        Counting.hits[step] += 1
        body = json.dumps({"count": Counting.hits[step]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def counter() -> Iterator[str]:
    Counting.hits = Counter()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hit"
    server.shutdown()


def test_an_execution_killed_mid_run_resumes_at_its_last_finished_step(redis_server_url: str, counter: str) -> None:
    prefix = unique("qcl-wf-test:") + ":"
    store = RedisStore(redis_server_url, prefix=prefix)
    try:
        make_service(store, None).deploy("durable", STEPS)
        env = {
            **os.environ,
            "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "shared"),
            "QCL_STORE": "redis",
            "QCL_REDIS_URL": redis_server_url,
            "QCL_REDIS_PREFIX": prefix,
            "QCL_WORKFLOW_LEASE_S": "1",
            "QCL_NARRATE_MODEL": "false",
        }
        command = [sys.executable, "-m", "qcl.cli", "workflows", "run", "durable", "--wait", "--json",
                   "--data", json.dumps({"url": counter})]  # fmt: skip
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        service = make_service(store, None, lease_s=1.0)

        def second_finished() -> bool:
            executions = service.repo.executions("durable")
            return bool(executions) and any(s["step"] == "second" for s in service.repo.steps(executions[0]["id"]))

        assert wait_for(second_finished, timeout_s=60), process.stderr.read1().decode() if process.stderr else ""
        process.send_signal(signal.SIGKILL)  # mid-nap: first and second are done, third not started
        process.wait(timeout=10)
        execution_id = service.repo.executions("durable")[0]["id"]
        assert service.execution(execution_id)["state"] == "running"
        assert dict(Counting.hits) == {"first": 1, "second": 1}

        resumed: list[str] = []
        assert wait_for(lambda: bool(resumed.extend(service.resume_orphans()) or resumed), timeout_s=10)
        assert resumed == [execution_id]
        record = service.wait(execution_id, 30)
        assert record["state"] == "succeeded", record["error"]
        assert record["result"] == [1, 1, 1]  # each step's call was made once: none ran again
        assert dict(Counting.hits) == {"first": 1, "second": 1, "third": 1}
        assert [s["step"] for s in service.steps(execution_id)] == ["first", "second", "nap", "third", "done"]
    finally:
        store.clear()
        store.close()


def test_a_live_executor_keeps_its_execution(redis_server_url: str) -> None:
    """While the executor runs and renews its lease, another executor's sweep does not take the execution."""
    store = RedisStore(redis_server_url, prefix=unique("qcl-wf-test:") + ":")
    try:
        owner, other = make_service(store, None, lease_s=1.0), make_service(store, None, lease_s=1.0)
        owner.deploy("sleeper", "main:\n  steps:\n    - nap:\n        call: sys.sleep\n        args:\n"
                     "          seconds: 2.5\n")  # fmt: skip
        record = owner.start("sleeper")
        assert record is not None
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            assert other.resume_orphans() == []
            time.sleep(0.2)
        assert owner.wait(record["id"], 10)["state"] == "succeeded"
    finally:
        owner.close()
        store.clear()
        store.close()

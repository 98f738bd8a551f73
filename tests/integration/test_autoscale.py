"""The job autoscaler with real worker processes on a real redis-server: `qcl jobs autoscale` grows the pool for a
burst, every job is done exactly once, it shrinks back to its minimum with each removed process draining, and a
SIGTERM stops it cleanly; the bench's figures come from the same machinery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qcl.bench.autoscale import UNLIMITED, run_autoscale_bench
from qcl.cli import app
from qcl.compute.autoscale import ScalingPolicy
from qcl.compute.jobs import JobRequest
from qcl.compute.queue import JobQueue
from qcl.compute.quotas import QuotaBook
from qcl.config import Settings
from qcl.store.redis import RedisStore
from tests.backends import unique, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def store(redis_server_url: str) -> Iterator[RedisStore]:
    opened = RedisStore(redis_server_url, prefix=unique("qcl-autoscale:") + ":")
    yield opened
    opened.clear()
    opened.close()


class Lines:
    """A process's output lines, read as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line.rstrip())

    def has(self, text: str) -> bool:
        return any(text in line for line in self.lines)


def test_the_pool_grows_for_a_burst_and_drains_back_to_its_minimum(
    redis_server_url: str, store: RedisStore, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "QCL_STORE": "redis",
        "QCL_REDIS_URL": redis_server_url,
        "QCL_REDIS_PREFIX": store._prefix,
        "QCL_STATE_DIR": str(tmp_path),
    }
    command = [sys.executable, "-m", "qcl.cli", "jobs", "autoscale", "--min", "1", "--max", "3"]
    command += ["--target-wait-s", "1", "--scale-down-after-s", "2", "--workers", "2", "--fake-ms-per-token", "10"]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    output = Lines(process)
    try:
        assert wait_for(lambda: output.has("0 -> 1 (the policy's minimum)"), timeout_s=30)
        jobs = JobQueue(store, QuotaBook(store, UNLIMITED))
        body = {"kind": "completion", "prompts": [f"job {i}" for i in range(120)], "max_tokens": 10}
        submitted = jobs.submit(JobRequest.model_validate(body).jobs(key_id="k1", now=jobs.clock()))
        # 120 jobs of 100 ms on 2 threads: 6 s on one process, against a 1 s target wait.
        assert wait_for(lambda: output.has("-> 3 ("), timeout_s=30), output.lines  # up to the maximum
        assert wait_for(lambda: jobs.totals()[1] == 120, timeout_s=60)
        assert wait_for(lambda: output.has("2 -> 1"), timeout_s=60), output.lines  # one at a time, back down
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:  # failed: its worker processes share its process group
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    final = [jobs.get(job.id) for job in submitted]
    assert all(job is not None and job.state == "done" and job.attempts == 1 for job in final)
    assert len({job.worker.rsplit("/", 1)[0] for job in final if job and job.worker}) >= 2  # added processes worked
    assert output.has("stopped (")
    logs = list((tmp_path / "autoscale").glob("worker-*.log"))
    assert len(logs) >= 3


def test_without_a_shared_store_it_refuses_to_start(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["jobs", "autoscale"], env={"QCL_STORE": "memory"})
    assert result.exit_code == 2
    assert "worker processes share the queue through the store: set QCL_STORE=redis" in result.output
    up = subprocess.run(
        [sys.executable, "-m", "qcl.cli", "up", "--autoscale", "2", "--port", "0"],
        env={**os.environ, "QCL_STATE_DIR": str(tmp_path), "QCL_STORE": "memory"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert up.returncode == 1
    assert "--autoscale runs the job workers as processes that share the queue" in up.stderr
    assert "it needs --store redis" in up.stderr


def test_the_bench_reports_reaction_no_loss_and_node_seconds_against_a_fixed_pool(
    redis_server_url: str, store: RedisStore
) -> None:
    settings = Settings(store="redis", redis_url=redis_server_url, redis_prefix=store._prefix)
    policy = ScalingPolicy(min_replicas=1, max_replicas=2, target_wait_s=1.0, scale_down_after_s=1.0, interval_s=0.2)
    result = run_autoscale_bench(
        settings, store, burst=60, trickle_per_s=2.0, trickle_s=6.0, tokens=5, ms_per_token=10.0, policy=policy
    )
    scaled, fixed = result["autoscaled"], result["fixed"]
    for pool in (scaled, fixed):
        assert pool["jobs"] == pool["done"] > 60
        assert (pool["lost"], pool["duplicated"], pool["worker_failures"]) == (0, 0, 0)
    assert scaled["peak_replicas"] == 2 and scaled["back_at_minimum"] is True
    assert scaled["scale_up_decision_s"] is not None and scaled["scale_up_decision_s"] < 5
    assert result["node_seconds_ratio"] == pytest.approx(scaled["node_seconds"] / fixed["node_seconds"], abs=0.01)

"""Kill -9 a worker process mid-job: its lease expires, another worker process takes the job over, and the job
finishes exactly once (real processes, real Redis; the jobs run on the labelled fake runtime so that one is still
running when the kill comes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from qcl.compute.jobs import JobRequest
from qcl.compute.queue import FINISHED, JobQueue
from qcl.store.redis import RedisStore
from tests.backends import unique, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def redis_env(redis_server_url: str) -> Iterator[dict[str, str]]:
    prefix = unique("qcl-kill:") + ":"
    env = {
        **os.environ,
        "QCL_STORE": "redis",
        "QCL_REDIS_URL": redis_server_url,
        "QCL_REDIS_PREFIX": prefix,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "shared"), os.environ.get("PYTHONPATH", "")]),
    }
    yield env
    store = RedisStore(redis_server_url, prefix=prefix)
    store.clear()
    store.close()


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "qcl.cli",
        "jobs",
        "work",
        "--workers",
        "1",
        "--lease-s",
        "1",
        "--fake-ms-per-token",
        "50",
    ]
    with log.open("ab") as sink:
        return subprocess.Popen(command, env=env, stdout=sink, stderr=sink)


def _states(jobs: JobQueue, *job_ids: str) -> list[str | None]:
    return [view.state if (view := jobs.get(job_id)) else None for job_id in job_ids]


def test_a_job_whose_worker_is_killed_mid_job_finishes_exactly_once(redis_env: dict[str, str], tmp_path: Path) -> None:
    store = RedisStore(redis_env["QCL_REDIS_URL"], prefix=redis_env["QCL_REDIS_PREFIX"])
    jobs = JobQueue(store, lease_s=1.0)
    request = JobRequest.model_validate({"kind": "completion", "prompts": ["long job", "next job"], "max_tokens": 60})
    first, second = jobs.submit(request.jobs(key_id="k1", now=jobs.clock()))
    doomed = _worker(redis_env, tmp_path / "doomed.log")
    survivor: subprocess.Popen[bytes] | None = None
    try:
        assert wait_for(lambda: jobs.get(first.id).state == "running", timeout_s=60)  # type: ignore[union-attr]
        running = jobs.get(first.id)
        assert running is not None and running.worker is not None and str(doomed.pid) in running.worker
        wait_for(lambda: False, timeout_s=0.5)  # mid-job: 60 tokens at 50 ms take 3 s
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=10)
        assert jobs.get(first.id).state == "running"  # type: ignore[union-attr]  # nobody knows yet
        survivor = _worker(redis_env, tmp_path / "survivor.log")
        assert wait_for(lambda: _states(jobs, first.id, second.id) == ["done", "done"], timeout_s=60), (
            tmp_path / "survivor.log"
        ).read_text()
        done = jobs.get(first.id)
        assert done is not None and done.attempts == 2 and str(survivor.pid) in (done.worker or "")
        assert done.result is not None and done.result["tokens"] == 60
        wait_for(lambda: False, timeout_s=2.5)  # past two more lease periods: nothing runs it again
        assert float(store.get(FINISHED) or 0) == 2.0  # two jobs, two outcomes: none lost, none twice
        assert jobs.get(first.id).attempts == 2  # type: ignore[union-attr]
        assert jobs.depth()["running"] == 0 and jobs.usage("k1").running == 0
    finally:
        for process in (doomed, survivor):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        store.close()

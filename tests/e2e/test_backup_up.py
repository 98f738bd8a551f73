"""Disaster recovery as an operator runs it: a real `qcl up` on Redis makes state, `qcl backup create` saves it, the
store and the state directory are wiped, `qcl backup restore` writes it into a fresh stack, and that stack's API
serves the same keys, tasks, queued jobs and attestations (which still verify) and goes on deciding new oracle jobs.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from qcl.events import OracleResult
from qcl.oracle.attestation import verify_attestation
from qcl.oracle.committee import load_committee
from qcl.qubic.synth import generate_lines
from qcl.store.redis import RedisStore
from tests.backends import unique, wait_for
from tests.fakes.qubic_rpc import FakeQubicRpc

pytestmark = [pytest.mark.slow, pytest.mark.redis]


@dataclass
class Up:
    process: subprocess.Popen[str]
    output: list[str]
    url: str

    def text(self) -> str:
        return "".join(self.output)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _up(env: dict[str, str], *args: str) -> Up:
    process = subprocess.Popen(
        [sys.executable, "-m", "qcl.cli", "up", "--port", "0", "--store", "redis", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    up = Up(process, output, "")
    if not wait_for(lambda: "qcl up: running" in up.text(), timeout_s=90):
        up.stop()
        raise AssertionError(up.text())
    found = re.search(r"qcl up: api\s+(http://127\.0\.0\.1:\d+)", up.text())
    assert found, up.text()
    up.url = found.group(1)
    return up


def _qcl(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "qcl.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _oracle_task(url: str, auth: dict[str, str]) -> dict[str, Any]:
    submitted = httpx.post(f"{url}/api/tasks", headers=auth, json={"kind": "oracle", "task": "analysis.health_score"})
    assert submitted.status_code == 202, submitted.text
    task_url = f"{url}/api/tasks/{submitted.json()['id']}"
    assert wait_for(lambda: httpx.get(task_url, headers=auth).json()["state"] in ("done", "failed"), timeout_s=60)
    task: dict[str, Any] = httpx.get(task_url, headers=auth).json()
    assert task["state"] == "done", task
    return task


def _job(url: str, auth: dict[str, str]) -> dict[str, Any]:
    job: dict[str, Any] = httpx.get(url, headers=auth).json()
    return {field: job[field] for field in ("id", "state", "kind", "priority", "key_id")}


@pytest.fixture
def env(redis_server_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    base = {
        **os.environ,
        "QCL_NARRATE_MODEL": "false",  # template narration: this test is about state, not the model
        "QCL_REDIS_URL": redis_server_url,
        "QCL_ORACLE_EVERY_REPORTS": "5",
        "QCL_JOBS_WORKERS": "0",  # jobs stay queued: the queue itself is what is backed up
        "QCL_BACKUP_KEY": base64.b64encode(os.urandom(32)).decode(),
        "QCL_BACKUP_TO": str(tmp_path / "backups"),
    }
    yield base


def test_backup_wipe_restore_brings_a_fresh_stack_back_to_the_same_state(
    env: dict[str, str], tmp_path: Path, redis_server_url: str
) -> None:
    capture = tmp_path / "calm.jsonl"
    capture.write_text("\n".join(generate_lines(start=datetime(2025, 11, 8, tzinfo=UTC), hours=0.2)) + "\n")
    old = {**env, "QCL_REDIS_PREFIX": unique("qcl-dr-old-") + ":", "QCL_STATE_DIR": str(tmp_path / "old")}
    new = {**env, "QCL_REDIS_PREFIX": unique("qcl-dr-new-") + ":", "QCL_STATE_DIR": str(tmp_path / "new")}
    stores = [RedisStore(redis_server_url, prefix=old["QCL_REDIS_PREFIX"] + "replay:")]
    stores.append(RedisStore(redis_server_url, prefix=new["QCL_REDIS_PREFIX"]))
    try:
        # 1. A stack replays a capture: analyses, scheduled oracle jobs; a key and an oracle task of our own.
        first = _up(old, "--speed", "0", "--capture", str(capture))
        try:
            admin = (tmp_path / "old" / "admin.key").read_text().strip()
            auth = {"Authorization": f"Bearer {admin}"}
            created = httpx.post(f"{first.url}/api/admin/keys", headers=auth, json={"role": "viewer", "name": "dr"})
            assert created.status_code == 201, created.text
            viewer = {"Authorization": f"Bearer {created.json()['key']}"}
            task = _oracle_task(first.url, auth)
            queued = httpx.post(f"{first.url}/api/jobs", headers=auth, json={"kind": "completion", "prompt": "hi"})
            assert queued.status_code == 202, queued.text  # no workers here: it stays queued
            job_url = "/api/jobs/" + queued.json()["jobs"][0]
            job = _job(first.url + job_url, auth)
            results_url = f"{first.url}/api/oracle/results"
            assert wait_for(lambda: len(httpx.get(results_url, headers=auth).json()["results"]) >= 2, timeout_s=60)
            results = httpx.get(results_url, headers=auth).json()["results"]
            keys = httpx.get(f"{first.url}/api/admin/keys", headers=auth).json()["keys"]
            history = httpx.get(f"{first.url}/api/network/history", headers=auth).json()
            assert history["reports"], history
            # 2. Backed up while it runs, the way a scheduled job does it.
            made = _qcl({**old, "QCL_STORE": "redis"}, "backup", "create", "--json")
        finally:
            first.stop()
        manifest = json.loads(made)["manifest"]
        assert manifest["families"]["oracle:result:{job_id}"] >= 2 and manifest["families"]["task:{task_id}"] >= 1
        # member keys and signing states, the committee file, the admin key, the API keys file and its pepper
        assert manifest["files"] >= 4 + 4 + 1 + 3

        # 3. The disaster: the store's keys and the state directory are gone.
        stores[0].clear()
        shutil.rmtree(tmp_path / "old")

        # 4. Restore into a fresh stack (a new prefix and state dir; a live source, which keeps its store).
        backup_id = _qcl(new, "backup", "list").split()[0]
        restored = _qcl({**new, "QCL_STORE": "redis", "QCL_SOURCE": "rpc"}, "backup", "restore", backup_id)
        assert re.search(r"restored \d+ keys and \d+ files", restored), restored

        with FakeQubicRpc() as rpc:
            second = _up(new, "--source", "rpc", "--rpc-url", rpc.url)
            try:
                assert f"admin key in {tmp_path / 'new' / 'admin.key'}" in second.text()  # reused, not created
                for credential in (auth, viewer):  # the old keys authenticate against the restored hashes
                    assert httpx.get(f"{second.url}/api/nodes", headers=credential).status_code == 200
                assert httpx.get(f"{second.url}/api/admin/keys", headers=auth).json()["keys"] == keys
                assert httpx.get(f"{second.url}/api/tasks/{task['id']}", headers=auth).json() == task
                assert _job(second.url + job_url, auth) == job
                again = httpx.get(f"{second.url}/api/oracle/results", headers=auth).json()["results"]
                assert again[-len(results) :] == results
                committee = load_committee(tmp_path / "new" / "oracle" / "n4" / "committee.json")
                for result in again:
                    verify_attestation(OracleResult.model_validate(result), committee)
                restored_history = httpx.get(f"{second.url}/api/network/history", headers=auth).json()["reports"]
                assert all(report in restored_history for report in history["reports"])
                # The members go on from their restored signing state: a new job is decided and signed.
                after = _oracle_task(second.url, auth)
                assert after["id"] != task["id"]
                verify_attestation(OracleResult.model_validate(after["result"]), committee)
            finally:
                second.stop()
    finally:
        for store in stores:
            store.clear()

"""A federation of two clusters, each a real API server on its own port with its own store (one with workers on a
labelled fake runtime): routing, failover of a whole cluster with no accepted job lost, results kept after a
cluster is gone, the copies left behind cancelled when it returns, and the gateway's HTTP surface."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from qcl.api.schemas import Role
from qcl.api.server import ApiServer
from qcl.cli import app
from qcl.compute.fake import SleepingRuntime
from qcl.compute.placement import Runtimes
from qcl.compute.worker import WorkerPool
from qcl.federation import Cluster, Federation, FederationError, create_gateway
from qcl.store.memory import MemoryStore
from tests.backends import wait_for
from tests.integration.test_api_fixtures import Api, make_api


@dataclass
class Deployment:
    name: str
    api: Api
    server: ApiServer
    workers: WorkerPool | None

    def cluster(self) -> Cluster:
        return Cluster(self.name, self.server.url, self.api.keys[Role.OPERATOR])

    def restart(self) -> None:
        self.server = ApiServer(self.api.app, "127.0.0.1", self.server.port)
        self.server.start()


def deployment(tmp_path: Path, name: str, *, workers: bool) -> Deployment:
    api = make_api(tmp_path / name)
    server = ApiServer(api.app, "127.0.0.1", 0)
    server.start()
    pool = None
    if workers:
        pool = WorkerPool(api.services.jobs, Runtimes({"fake": SleepingRuntime(1.0)}), workers=2, keep_every_s=0.05)
        pool.start()
    return Deployment(name, api, server, pool)


@pytest.fixture
def clusters(tmp_path: Path) -> Iterator[tuple[Deployment, Deployment]]:
    idle, working = deployment(tmp_path, "eu", workers=False), deployment(tmp_path, "us", workers=True)
    yield idle, working
    for each in (idle, working):
        if each.workers is not None:
            each.workers.stop()
        each.server.stop()


def federation(*deployments: Deployment, **options: Any) -> Federation:
    return Federation([d.cluster() for d in deployments], MemoryStore(), failover_after_s=0.3, **options)


BATCH = {"kind": "completion", "prompts": [f"prompt {i}" for i in range(5)], "max_tokens": 3}


def test_a_cluster_lost_with_accepted_jobs_loses_none_of_them(clusters: tuple[Deployment, Deployment]) -> None:
    eu, us = clusters
    fed = federation(eu, us)
    fed.clusters["us"].predicted_wait_s = 60.0  # us looks busy: the batch goes to eu, which has no worker
    ids = fed.submit(BATCH)
    assert {fed.get(i)["cluster"] for i in ids} == {"eu"}
    first_copies = [fed.entry(i)["cluster_job"] for i in ids]
    eu.server.stop()  # the whole cluster goes away with 5 accepted jobs

    def all_done() -> bool:
        fed.sweep()
        return all(fed.get(i)["state"] == "done" for i in ids)

    assert wait_for(all_done, timeout_s=30, interval_s=0.2)
    for job_id in ids:
        view = fed.get(job_id)
        assert view["id"] == job_id and view["cluster"] == "us" and view["moved"] == 1
        assert view["result"]["tokens"] == 3
    assert fed.failovers == 5 and fed.status()["clusters"][0]["up"] is False

    eu.restart()  # it comes back: the copies it still holds are cancelled, so nothing runs twice from here
    assert wait_for(lambda: bool(fed.sweep()) and fed.status()["open_jobs"] == 0, timeout_s=15, interval_s=0.2)
    states = {eu.api.services.jobs.get(copy).state for copy in first_copies}  # type: ignore[union-attr]
    assert states == {"cancelled"}
    assert all(fed.get(i)["moved"] == 0 for i in ids)


def test_a_job_its_cluster_no_longer_has_runs_elsewhere(clusters: tuple[Deployment, Deployment]) -> None:
    eu, us = clusters
    fed = federation(eu, us)
    fed.clusters["us"].predicted_wait_s = 60.0
    (job_id,) = fed.submit({"kind": "completion", "prompt": "hello", "max_tokens": 2})
    eu.api.store.clear()  # eu answers again, but from an empty store: its copy of the job is gone
    assert fed.sweep()["moved"] == 1
    assert wait_for(lambda: fed.get(job_id)["state"] == "done")
    assert fed.get(job_id)["cluster"] == "us"


def test_a_finished_job_stays_readable_after_its_cluster_is_gone(clusters: tuple[Deployment, Deployment]) -> None:
    eu, us = clusters
    fed = federation(eu, us)
    fed.clusters["eu"].predicted_wait_s = 60.0
    (job_id,) = fed.submit({"kind": "completion", "prompt": "hello", "max_tokens": 2})
    assert wait_for(lambda: fed.get(job_id)["state"] == "done")
    us.server.stop()
    for _ in range(3):
        fed.sweep()
    view = fed.get(job_id)
    assert view["state"] == "done" and view["cluster"] == "us" and view["result"]["tokens"] == 2
    assert [c["up"] for c in fed.status()["clusters"]] == [True, False]


def test_a_submission_goes_to_the_soonest_start_and_skips_a_cluster_that_fails(
    clusters: tuple[Deployment, Deployment],
) -> None:
    eu, us = clusters
    fed = federation(eu, us)
    fed.probe()
    fed.clusters["us"].predicted_wait_s = 5.0
    assert [c.name for c in fed.ranked()] == ["eu", "us"]
    eu.server.stop()
    (job_id,) = fed.submit({"kind": "completion", "prompt": "hi", "max_tokens": 2})  # eu fails: us takes it
    assert fed.get(job_id)["cluster"] == "us"
    assert fed.clusters["eu"].failures >= 1


def test_with_every_cluster_down_a_submission_is_refused_and_nothing_recorded(
    clusters: tuple[Deployment, Deployment],
) -> None:
    eu, us = clusters
    fed = federation(eu, us, down_after=1)
    eu.server.stop()
    us.server.stop()
    with pytest.raises(FederationError, match="no cluster is up to take the submission") as refused:
        fed.submit(BATCH)
    assert refused.value.status == 503
    assert fed.status()["open_jobs"] == 0


def test_the_gateway_speaks_the_jobs_api_with_its_own_key(clusters: tuple[Deployment, Deployment]) -> None:
    eu, us = clusters
    fed = federation(eu, us)
    fed.clusters["eu"].predicted_wait_s = 60.0
    gateway = ApiServer(create_gateway(fed, "fed-key"), "127.0.0.1", 0)
    gateway.start()
    try:
        with httpx.Client(base_url=gateway.url) as http:
            auth = {"Authorization": "Bearer fed-key"}
            assert http.post("/api/jobs", json=BATCH).status_code == 401
            assert http.post("/api/jobs", json=BATCH, headers={"Authorization": "Bearer eu-key"}).status_code == 401
            bad = http.post("/api/jobs", json={**BATCH, "max_tokens": 0}, headers=auth)
            assert bad.status_code == 422 and bad.json()["error"]["message"].startswith("max_tokens:")
            assert http.post("/api/jobs", content=b"[1, 2", headers=auth).status_code == 400
            accepted = http.post("/api/jobs", json=BATCH, headers=auth)
            assert accepted.status_code == 202 and len(accepted.json()["jobs"]) == 5
            first = accepted.json()["jobs"][0]
            assert wait_for(lambda: http.get(f"/api/jobs/{first}", headers=auth).json()["state"] == "done")
            assert http.get(f"/api/jobs/{first}", headers=auth).json()["cluster"] == "us"
            assert http.get("/api/jobs/nope", headers=auth).status_code == 404
            assert {c["name"] for c in http.get("/api/federation", headers=auth).json()["clusters"]} == {"eu", "us"}
    finally:
        gateway.stop()


def test_serving_a_federation_of_one_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["federation", "serve", "--cluster", "eu"])
    assert result.exit_code == 2
    assert "a federation needs two or more clusters" in result.output


def test_qcl_federation_serve_routes_through_named_profiles(
    clusters: tuple[Deployment, Deployment], tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys

    from qcl.bus.emulator import free_port

    eu, us = clusters
    runner = CliRunner()
    for deployment_ in (eu, us):
        key_file = tmp_path / f"{deployment_.name}.key"
        key_file.write_text(deployment_.api.keys[Role.OPERATOR] + "\n")
        added = runner.invoke(
            app, ["profile", "add", deployment_.name, "--api", deployment_.server.url, "--key-file", str(key_file)]
        )
        assert added.exit_code == 0, added.output
    port = free_port()
    command = [sys.executable, "-m", "qcl.cli", "federation", "serve", "--cluster", "eu", "--cluster", "us"]
    env = {**os.environ, "QCL_STATE_DIR": str(tmp_path / "gateway")}
    command += ["--port", str(port), "--failover-after-s", "1", "--sweep-s", "0.5"]
    gateway = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        key_path = tmp_path / "gateway" / "federation.key"
        assert wait_for(lambda: key_path.exists() and key_path.read_text().strip() != "", timeout_s=30)
        assert key_path.stat().st_mode & 0o077 == 0  # the gateway's key is not readable by others
        auth = {"Authorization": f"Bearer {key_path.read_text().strip()}"}
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{url}/api/federation", headers=auth).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_for(up, timeout_s=30)
        accepted = httpx.post(f"{url}/api/jobs", json=BATCH, headers=auth)
        assert accepted.status_code == 202
        ids = accepted.json()["jobs"]
        # eu has no worker: whichever took the batch, the jobs end done (eu's are moved once it is stopped).
        eu.server.stop()
        assert wait_for(
            lambda: all(httpx.get(f"{url}/api/jobs/{i}", headers=auth).json()["state"] == "done" for i in ids),
            timeout_s=60,
        )
        gateway.send_signal(signal.SIGTERM)
        assert gateway.wait(timeout=30) == 0
    finally:
        if gateway.poll() is None:
            gateway.kill()
            gateway.wait()
    assert "over eu (up), us (up)" in (gateway.stderr.read() if gateway.stderr else "")

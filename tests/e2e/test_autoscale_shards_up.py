"""`qcl up --shards 2 --autoscale 2`: a batch of jobs through the API makes the stack start a second replica set of
the stage processes, which joins the pool (GET /api/nodes) while every job finishes once; Ctrl-C stops it all."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.backends import wait_for
from tests.e2e.test_api_up import start_up

# Stage-process pools run one at a time, on one worker (pytest-xdist --dist loadgroup).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stage-pools")]


def test_waiting_jobs_start_a_second_replica_set_that_joins_the_pool(tmp_path: Path) -> None:
    env = {"QCL_MODEL": "tiny-random-llama", "QCL_NARRATE_MODEL": "true", "QCL_NARRATE_EMBEDDINGS": "false"}
    env["QCL_JOBS_WORKERS"] = "1"
    with contextmanager(start_up)(tmp_path, ["--shards", "2", "--autoscale", "2"], env, timeout_s=180) as up:
        assert "shard replica sets autoscaled 1..2" in up.text()
        auth = {"Authorization": f"Bearer {(up.state_dir / 'admin.key').read_text().strip()}"}
        ids: list[str] = []
        for round_ in range(10):  # a batch at a time until the autoscaler sees jobs waiting (a fast machine may
            # work a batch off between two of its decisions, a second apart)
            body = {"kind": "completion", "prompts": [f"Is tick {round_}-{i} healthy?" for i in range(20)]}
            submitted = httpx.post(f"{up.url}/api/jobs", json={**body, "max_tokens": 8}, headers=auth, timeout=30)
            assert submitted.status_code == 202, submitted.text
            ids += submitted.json()["jobs"]
            if wait_for(lambda: "autoscale: 1 -> 2 replicas" in up.text(), timeout_s=2):
                break

        def shard_states() -> dict[str, str]:
            nodes = httpx.get(f"{up.url}/api/nodes", headers=auth, timeout=10).json()["nodes"]
            return {n["node_id"]: n["state"] for n in nodes if n["node_id"].startswith("local-")}

        joined = {"local-s0-r1": "up", "local-s1-r1": "up"}
        assert "autoscale: 1 -> 2 replicas" in up.text()
        assert wait_for(lambda: shard_states().items() >= joined.items(), timeout_s=120), shard_states()

        def jobs() -> list[dict[str, Any]]:
            listed = httpx.get(f"{up.url}/api/jobs", params={"limit": 500}, headers=auth, timeout=10).json()["jobs"]
            return [job for job in listed if job["id"] in ids]

        assert wait_for(lambda: [job["state"] for job in jobs()] == ["done"] * len(ids), timeout_s=120)
        assert [job["attempts"] for job in jobs()] == [1] * len(ids)  # none lost, none run twice
    assert up.process.returncode == 0, up.text()  # Ctrl-C stopped the stack and both sets

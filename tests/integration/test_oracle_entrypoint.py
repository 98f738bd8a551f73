"""containers/oracle/main.py as Cloud Run calls it: Pub/Sub pushes in, attestations out; keys from the environment."""

from __future__ import annotations

import base64
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from qcl.bus.memory import MemoryBus
from qcl.config import load_settings
from qcl.events import ORACLE_REQUESTS, ORACLE_RESULTS, Envelope, OracleResult
from qcl.oracle.crypto import NodeKey
from qcl.oracle.errors import CommitteeError
from qcl.oracle.jobs import Blobs
from qcl.oracle.service import OracleCommittee
from qcl.oracle.setup import install_env_keys, open_committee
from qcl.oracle.sim.jobs import sim_input
from qcl.store.memory import MemoryStore
from tests.backends import wait_for

ROOT = Path(__file__).resolve().parents[2]
SEEDS = {f"QCL_ORACLE_NODE_KEY_{i}": base64.b64encode(bytes([i + 7]) * 32).decode() for i in range(4)}


def load_main() -> ModuleType:
    spec = importlib.util.spec_from_file_location("oracle_main", ROOT / "containers/oracle/main.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, OracleCommittee, list[Any]]]:
    for name, value in SEEDS.items():
        monkeypatch.setenv(name, value)
    bus, store = MemoryBus(), MemoryStore()
    results: list[Envelope[OracleResult]] = []
    bus.subscribe(ORACLE_RESULTS, "api", results.append)
    settings = load_settings(state_dir=tmp_path, oracle_view_timeout_ms=400)
    committee = OracleCommittee(settings, bus, store, pull_inputs=False)
    committee.start()
    try:
        yield load_main().create_app(committee).test_client(), committee, results
    finally:
        committee.stop()


def push_body(data: bytes) -> dict[str, Any]:
    return {
        "message": {"data": base64.b64encode(data).decode(), "messageId": "m1", "attributes": {}},
        "subscription": "projects/qcl-local/subscriptions/oracle-requests.oracle",
    }


def test_a_pushed_request_is_relayed_decided_and_published(served: tuple[Any, OracleCommittee, list[Any]]) -> None:
    client, committee, results = served
    request, blob = sim_input("health-score")
    Blobs(committee.store).put(blob)
    answer = client.post(
        "/oracle-requests", json=push_body(ORACLE_REQUESTS.encode(ORACLE_REQUESTS.event(request, source="//t")))
    )
    assert answer.status_code == 200 and answer.get_json()["status"] == "ok"
    assert wait_for(lambda: len(results) == 1, timeout_s=30)
    assert results[0].data.result == 60.0


def test_health_is_ok_while_a_quorum_of_members_runs(served: tuple[Any, OracleCommittee, list[Any]]) -> None:
    client, committee, _ = served
    assert client.get("/healthz").status_code == 200
    committee.nodes[0].stop()
    committee.nodes[1].stop()
    answer = client.get("/healthz")
    assert answer.status_code == 503 and answer.get_json()["members_running"] == 2


def test_a_garbled_push_is_refused_with_400(served: tuple[Any, OracleCommittee, list[Any]]) -> None:
    client, _, _ = served
    assert client.post("/oracle-requests", json={"nope": 1}).status_code == 400


def test_keys_from_the_environment_become_the_committee_every_instance_derives(tmp_path: Path) -> None:
    assert install_env_keys(tmp_path / "a", 4, SEEDS) == 4
    assert install_env_keys(tmp_path / "b", 4, SEEDS) == 4
    from qcl.oracle.setup import init_committee

    init_committee(tmp_path / "a", n=4)
    init_committee(tmp_path / "b", n=4)
    assert open_committee(tmp_path / "a")[0].committee_id == open_committee(tmp_path / "b")[0].committee_id


@pytest.mark.parametrize(
    ("value", "message"),
    [("not base64!", "is not base64"), (base64.b64encode(b"short").decode(), "32-byte")],
)
def test_a_bad_key_in_the_environment_is_refused_naming_the_variable(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(CommitteeError, match=f"QCL_ORACLE_NODE_KEY_0.*{message}|{message}"):
        install_env_keys(tmp_path, 4, {"QCL_ORACLE_NODE_KEY_0": value})


def test_an_environment_key_that_contradicts_the_key_on_disk_is_refused(tmp_path: Path) -> None:
    NodeKey.generate("oracle-0").save(tmp_path / "node-0" / "key.json")
    with pytest.raises(CommitteeError, match="another key than QCL_ORACLE_NODE_KEY_0"):
        install_env_keys(tmp_path, 4, SEEDS)

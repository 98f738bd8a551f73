"""Fault isolation: each committee member a separate process holding only its own key, as in production (one Cloud
Run service or pod per member). Four members agree, keep agreeing with one killed, and a member given another
member's key, or none, refuses to start naming the problem.

    .venv/bin/pytest tests/integration/test_oracle_members.py -n 0

Two ways members run: `qcl oracle node` on loopback UDP (each from a folder with the committee file and its own
key only), and containers/oracle/main.py with QCL_ORACLE_MEMBER=<i> over the Pub/Sub emulator and Redis, its key in
QCL_ORACLE_NODE_KEY_<i> alone: the production shape.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qcl.bus.emulator import PubSubEmulator, free_port
from qcl.bus.pubsub import PubSubBus
from qcl.events import OracleResult
from qcl.oracle.attestation import verify_attestation
from qcl.oracle.committee import Committee
from qcl.oracle.crypto import NodeKey
from qcl.oracle.scheduler import submit_job
from qcl.oracle.setup import export_key, init_committee, member_dir, open_committee
from qcl.oracle.sim.jobs import sim_input
from qcl.oracle.status import read_state
from qcl.store.keys import ORACLE_RESULT
from qcl.store.redis import RedisStore
from tests.backends import unique, wait_for
from tests.integration.test_oracle_processes import QCL, Cluster, job

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "containers" / "oracle" / "main.py"


def split_keys(folder: Path, n: int = 4) -> list[Path]:
    """One folder per member holding the committee file and that member's key only; the shared keys are removed."""
    folders = []
    for index in range(n):
        own = folder / f"member-{index}"
        member_dir(own, index).mkdir(parents=True)
        shutil.copy(folder / "committee.json", own / "committee.json")
        shutil.move(member_dir(folder, index) / "key.json", member_dir(own, index) / "key.json")
        folders.append(own)
    return folders


class IsolatedCluster(Cluster):
    def __init__(self, folder: Path, redis_url: str) -> None:
        super().__init__(folder, redis_url)
        self.folders = split_keys(folder)

    def member_folder(self, index: int) -> Path:
        return self.folders[index]


@pytest.fixture
def isolated(tmp_path: Path, redis_server_url: str) -> Iterator[IsolatedCluster]:
    running = IsolatedCluster(tmp_path, redis_server_url)
    try:
        yield running
    finally:
        running.stop()


def test_members_holding_only_their_own_keys_agree_and_survive_losing_one(isolated: IsolatedCluster) -> None:
    for index in range(4):
        assert "fresh" in isolated.start(index)
        assert sorted(p.parent.name for p in isolated.folders[index].rglob("key.json")) == [f"node-{index}"]
    assert not list(isolated.folder.glob("node-*/key.json"))  # no folder holds more than one key

    answered = isolated.ask(job(isolated, 0), expect=4)
    assert len(answered) == 4 and len({a.digest for a in answered.values()}) == 1

    isolated.kill(3)
    answered = isolated.ask(job(isolated, 1), expect=3)
    assert set(answered) == {"oracle-0", "oracle-1", "oracle-2"}
    assert all(len(a.certificate) >= isolated.committee.quorum for a in answered.values())


def test_a_member_given_another_members_key_file_refuses_to_start(tmp_path: Path) -> None:
    init_committee(tmp_path, n=4)
    folders = split_keys(tmp_path)
    shutil.copy(member_dir(folders[0], 0) / "key.json", member_dir(folders[1], 1) / "key.json")
    command = [QCL, "oracle", "node", "--index", "1", "--dir", str(folders[1]), "--transport", "loopback"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "does not match member 1 of the committee file: it is member 0's key (oracle-0)" in done.stderr


# -- the production shape: containers/oracle/main.py as member i, over Pub/Sub and Redis ---------------------------


class Members:
    """Four `containers/oracle/main.py` processes, member i given QCL_ORACLE_NODE_KEY_<i> and nothing else secret."""

    def __init__(self, folder: Path, emulator: PubSubEmulator, redis_url: str) -> None:
        init_committee(folder, n=4)
        self.folder = folder
        self.committee: Committee = open_committee(folder)[0]
        self.keys = {i: export_key(NodeKey.load(member_dir(folder, i) / "key.json")) for i in range(4)}
        project, prefix = unique("qcl-members"), unique("qcl-members:") + ":"
        self.base = {
            **{k: v for k, v in os.environ.items() if not k.startswith("QCL_ORACLE_NODE_KEY_")},
            **emulator.env,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)]),
            "QCL_BUS": "pubsub",
            "QCL_PROJECT": project,
            "QCL_STORE": "redis",
            "QCL_REDIS_URL": redis_url,
            "QCL_REDIS_PREFIX": prefix,
            "QCL_ORACLE_VIEW_TIMEOUT_MS": "1000",
            "QCL_ORACLE_COMMITTEE_FILE": str(folder / "committee.json"),
        }
        os.environ.update(emulator.env)
        self.bus = PubSubBus(project, create_missing=True)
        self.store = RedisStore(redis_url, prefix=prefix)
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    def env(self, index: int, keys: dict[str, str]) -> dict[str, str]:
        state = self.folder / f"state-{index}"
        return {**self.base, **keys, "QCL_ORACLE_MEMBER": str(index), "QCL_STATE_DIR": str(state)}

    def start(self, index: int) -> None:
        port = free_port()
        env = {**self.env(index, {f"QCL_ORACLE_NODE_KEY_{index}": self.keys[index]}), "PORT": str(port)}
        log = (self.folder / f"member-{index}.log").open("ab")
        self.processes[index] = subprocess.Popen([sys.executable, str(MAIN)], env=env, stdout=log, stderr=log)

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_for(healthy, timeout_s=90, interval_s=0.2), (self.folder / f"member-{index}.log").read_text()

    def refusal(self, index: int, keys: dict[str, str]) -> subprocess.CompletedProcess[str]:
        env = {**self.env(index, keys), "PORT": str(free_port())}
        return subprocess.run([sys.executable, str(MAIN)], env=env, capture_output=True, text=True, timeout=90)

    def attest(self, sequence: int, timeout_s: float = 60) -> OracleResult:
        request, blob = sim_input("findings")
        spec = request.spec.model_copy(update={"subject": f"members test {sequence}"})
        filed = submit_job(self.bus, self.store, spec, blob, source="//test")
        key = ORACLE_RESULT.key(job_id=filed.job_id)
        assert wait_for(lambda: self.store.get(key) is not None, timeout_s=timeout_s, interval_s=0.1)
        attestation = OracleResult.model_validate_json(self.store.get(key) or "")
        verify_attestation(attestation, self.committee)
        return attestation

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=20)
        self.bus.close()
        self.store.clear()
        self.store.close()


@pytest.fixture
def members(tmp_path: Path, pubsub_emulator: PubSubEmulator, redis_server_url: str) -> Iterator[Members]:
    running = Members(tmp_path, pubsub_emulator, redis_server_url)
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.emulator
def test_member_services_each_with_its_own_key_attest_and_survive_losing_one(members: Members) -> None:
    for index in range(4):
        members.start(index)
    first = members.attest(0)
    assert first.status == "committed" and len(first.certificate) >= members.committee.quorum
    # What the dashboard's committee view reads: every member running, each by its own process's key.
    state = read_state(members.store.get)
    assert state is not None and [m.running for m in state.members] == [True] * 4
    assert state.sequence >= first.sequence

    os.kill(members.processes[2].pid, signal.SIGKILL)
    members.processes[2].wait(timeout=10)
    second = members.attest(1, timeout_s=90)
    signers = {s.node_id for s in second.certificate}
    assert second.status == "committed" and "oracle-2" not in signers and len(signers) >= members.committee.quorum


@pytest.mark.emulator
def test_a_member_service_refuses_another_members_key_or_none_or_extra_keys(members: Members) -> None:
    stolen = members.refusal(1, {"QCL_ORACLE_NODE_KEY_1": members.keys[0]})
    assert stolen.returncode == 1
    assert "refusing to start: QCL_ORACLE_NODE_KEY_1 holds member 0's key (oracle-0), not member 1's" in stolen.stderr

    assert "member 1 has no key: set QCL_ORACLE_NODE_KEY_1" in members.refusal(1, {}).stderr
    both = {"QCL_ORACLE_NODE_KEY_1": members.keys[1], "QCL_ORACLE_NODE_KEY_3": members.keys[3]}
    assert "given other members' keys (QCL_ORACLE_NODE_KEY_3)" in members.refusal(1, both).stderr

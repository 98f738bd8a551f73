"""Members as real processes on loopback UDP: kill -9 one, the rest decide; restart it, it rejoins from its disk.

Each member is `qcl oracle node --transport loopback`, its inputs in a shared redis-server; the test is the client,
sending REQUEST datagrams to every member and reading the DECISION datagrams they send back.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qcl.bench.oracle import _free_ports
from qcl.events import OracleRequest, OracleResult
from qcl.oracle.attestation import verify_attestation
from qcl.oracle.committee import Committee
from qcl.oracle.jobs import Blobs, make_request
from qcl.oracle.messages import CLIENT, Message, MsgType, from_wire, to_wire
from qcl.oracle.setup import init_committee, open_committee
from qcl.oracle.sim.jobs import sim_input
from qcl.store.redis import RedisStore
from tests.backends import unique

pytestmark = pytest.mark.slow
QCL = str(Path(sys.executable).with_name("qcl"))


class Cluster:
    def __init__(self, folder: Path, redis_url: str) -> None:
        init_committee(folder, n=4, base_port=_free_ports(4))
        self.folder = folder
        self.committee: Committee = open_committee(folder)[0]
        prefix = unique("qcl-oracle-proc:") + ":"
        self.env = {
            **os.environ,
            "QCL_STORE": "redis",
            "QCL_REDIS_URL": redis_url,
            "QCL_REDIS_PREFIX": prefix,
            "QCL_ORACLE_VIEW_TIMEOUT_MS": "400",
        }
        self.store = RedisStore(redis_url, prefix=prefix)
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.client.bind(("127.0.0.1", 0))
        self.reply_to = f"127.0.0.1:{self.client.getsockname()[1]}"

    def member_folder(self, index: int) -> Path:
        """The --dir member `index` runs from (here the shared folder; test_oracle_members gives each its own)."""
        return self.folder

    def start(self, index: int) -> str:
        log = self.folder / f"node-{index}.log"
        folder = str(self.member_folder(index))
        command = [QCL, "oracle", "node", "--index", str(index), "--dir", folder, "--transport", "loopback"]
        before = log.stat().st_size if log.exists() else 0
        with log.open("ab") as sink:
            self.processes[index] = subprocess.Popen(command, env=self.env, stdout=sink, stderr=sink)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            started = [
                line for line in log.read_bytes()[before:].decode(errors="replace").splitlines() if " up (" in line
            ]
            if started:
                return started[0]
            time.sleep(0.05)
        raise AssertionError(f"member {index} did not start: {log.read_text(errors='replace')}")

    def kill(self, index: int) -> None:
        os.kill(self.processes[index].pid, signal.SIGKILL)
        self.processes[index].wait(timeout=10)

    def ask(self, request: OracleRequest, *, expect: int, timeout_s: float = 30.0) -> dict[str, OracleResult]:
        """Send the job to every member; the attestations of the members that answered within the time."""
        body = {"request": request.model_dump(mode="json"), "reply_to": self.reply_to}
        message = Message(
            type=MsgType.REQUEST, committee_id=self.committee.committee_id, view=0, seq=request.sequence,
            job_id=request.job_id, digest=request.job_id, sender=CLIENT, body=body,
        )  # fmt: skip
        for member in self.committee.members:
            host, port = (member.address or "").rsplit(":", 1)
            self.client.sendto(to_wire(message), (host, int(port)))
        answers: dict[str, OracleResult] = {}
        deadline = time.monotonic() + timeout_s
        while len(answers) < expect and time.monotonic() < deadline:
            self.client.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                raw, _ = self.client.recvfrom(65_507)
            except TimeoutError:
                break
            reply = from_wire(raw)
            attestation = OracleResult.model_validate((reply.body or {})["attestation"])
            if attestation.job_id == request.job_id:
                verify_attestation(attestation, self.committee)
                answers[self.committee.node_id(reply.sender)] = attestation
        return answers

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
        self.client.close()
        self.store.clear()
        self.store.close()


@pytest.fixture
def cluster(tmp_path: Path, redis_server_url: str) -> Iterator[Cluster]:
    running = Cluster(tmp_path, redis_server_url)
    try:
        yield running
    finally:
        running.stop()


def job(cluster: Cluster, sequence: int) -> OracleRequest:
    request, blob = sim_input("findings")
    Blobs(cluster.store).put(blob)
    return make_request(request.spec.model_copy(update={"subject": f"process test {sequence}"}), sequence)


def test_members_killed_with_sigkill_leave_the_rest_deciding_and_rejoin_from_disk(cluster: Cluster) -> None:
    for index in range(4):
        assert "fresh" in cluster.start(index)
    assert len(cluster.ask(job(cluster, 0), expect=4)) == 4

    cluster.kill(2)
    answered = cluster.ask(job(cluster, 1), expect=3)
    assert set(answered) == {"oracle-0", "oracle-1", "oracle-3"}

    assert "restored" in cluster.start(2)  # its state.json survived the kill
    answered = cluster.ask(job(cluster, 2), expect=4)
    assert "oracle-2" in answered and len({a.digest for a in answered.values()}) == 1

    primary_of_job_4 = cluster.committee.primary(4, 0)
    request = job(cluster, 4)
    cluster.kill(primary_of_job_4)  # the primary dies: a view change must replace it
    answered = cluster.ask(request, expect=3)
    assert len(answered) == 3 and all(a.view >= 1 for a in answered.values())

    assert not list(cluster.folder.glob("node-*/evidence.jsonl"))  # nobody was accused of anything

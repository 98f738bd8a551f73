"""`qcl bench oracle`: how long a committee takes to decide, and how many messages a decision costs.

    qcl bench oracle --json                 # n = 4 and 7; no faults, and a silent primary; plus one model job

Real members (the runtime, the protocol core, Ed25519 on every message) in one process, talking over loopback UDP.
Inference is excluded from the protocol figures: the job's executor answers at once (a hash of its input), so the
latency is request -> first attestation, and the messages are the members' point-to-point sends for that job. In
the silent-primary runs the primary of view 0 of every job sends nothing for it, so each decision includes one view
change (base view timeout below). The model job adds the default model's greedy inference on every member, each
running it itself (result cache off, batch of one: batching can change greedy output).
"""

from __future__ import annotations

import platform
import socket
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qcl.events import OracleJobSpec, OracleRequest, OracleResult
from qcl.oracle.canonical import sha256_hex
from qcl.oracle.committee import Committee
from qcl.oracle.jobs import CODE_VERSION, Blobs, Executors, Task, make_request
from qcl.oracle.messages import Message
from qcl.oracle.runtime import NodeRuntime
from qcl.oracle.setup import init_committee, open_committee
from qcl.oracle.state import ProtocolConfig
from qcl.oracle.transport import LoopbackTransport, OnMessage, Transport
from qcl.store.memory import MemoryStore

VIEW_TIMEOUT_MS = 200.0  # base view timeout of the benchmark committees (what a silent primary costs, once)
MODEL_VIEW_TIMEOUT_MS = 60_000.0
BENCH_TASK = "bench.digest"


class CountingTransport(Transport):
    """Loopback, counting point-to-point sends per job; optionally silent for the jobs this member leads."""

    def __init__(self, inner: LoopbackTransport, committee: Committee, *, silent_primary: bool) -> None:
        self.inner, self.committee, self.silent_primary = inner, committee, silent_primary
        self.sent: Counter[int] = Counter()
        self._lock = threading.Lock()

    def start(self, on_message: OnMessage) -> None:
        self.inner.start(on_message)

    def send(self, message: Message, to: int | None = None) -> None:
        if self.silent_primary and self.committee.primary(message.seq, 0) == self.inner.me:
            return
        with self._lock:
            self.sent[message.seq] += 1 if to is not None else self.committee.n - 1
        self.inner.send(message, to)

    def reply(self, address: str, message: Message) -> None:
        self.inner.reply(address, message)

    def close(self) -> None:
        self.inner.close()


def _free_ports(count: int) -> int:
    """A base port with `count` free consecutive ports after it (probed, then released)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65000:
            continue
        try:
            held = []
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
    raise RuntimeError("no free consecutive UDP ports on 127.0.0.1")


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


class BenchCommittee:
    """n members on loopback in this process, all fed by one store; decisions signalled per job."""

    def __init__(
        self,
        folder: Path,
        n: int,
        *,
        silent_primary: bool,
        executors: Executors,
        view_timeout_ms: float = VIEW_TIMEOUT_MS,
    ) -> None:
        init_committee(folder, n=n, base_port=_free_ports(n))
        self.committee, keys = open_committee(folder)
        self.decided: dict[str, float] = {}
        self.attestations: dict[str, OracleResult] = {}
        self._arrived = threading.Condition()
        self.transports: list[CountingTransport] = []
        self.nodes: list[NodeRuntime] = []
        config = ProtocolConfig(view_timeout_ms=view_timeout_ms)
        for index, key in enumerate(keys):
            transport = CountingTransport(
                LoopbackTransport(self.committee, index), self.committee, silent_primary=silent_primary
            )
            node = NodeRuntime(
                self.committee, key, transport=transport, executors=executors, state_dir=folder / f"node-{index}",
                config=config, on_decide=self._on_decide,
            )  # fmt: skip
            self.transports.append(transport)
            self.nodes.append(node)
            node.start()

    def _on_decide(self, attestation: OracleResult) -> None:
        with self._arrived:
            if attestation.job_id not in self.decided:
                self.decided[attestation.job_id] = time.perf_counter()
                self.attestations[attestation.job_id] = attestation
                self._arrived.notify_all()

    def decide(self, request: OracleRequest, timeout_s: float = 60.0) -> tuple[float, OracleResult]:
        """Submit to every member (a client broadcast); seconds until the first attestation, and the attestation."""
        started = time.perf_counter()
        for node in self.nodes:
            node.submit(request, relay=False)
        with self._arrived:
            if not self._arrived.wait_for(lambda: request.job_id in self.decided, timeout_s):
                raise TimeoutError(f"job {request.sequence} undecided after {timeout_s} s")
        return self.decided[request.job_id] - started, self.attestations[request.job_id]

    def messages(self, seq: int) -> int:
        return sum(t.sent[seq] for t in self.transports)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _bench_tasks() -> dict[str, Task]:
    return {BENCH_TASK: Task("exact", lambda blob, spec: {"sha256": sha256_hex(blob)}, None, "instant: no inference")}


def _spec(blob: bytes) -> OracleJobSpec:
    return OracleJobSpec(kind="exact", task=BENCH_TASK, input_digest=sha256_hex(blob), code_version=CODE_VERSION)


def _protocol_run(n: int, scenario: str, samples: int, progress: Callable[[str], None]) -> dict[str, Any]:
    store = MemoryStore()
    blobs = Blobs(store)
    with tempfile.TemporaryDirectory(prefix="qcl-bench-oracle-") as tmp:
        committee = BenchCommittee(
            Path(tmp), n, silent_primary=scenario == "silent-primary", executors=Executors(blobs, _bench_tasks())
        )
        latencies, messages, views = [], [], []
        try:
            for seq in range(samples + 1):  # the first decision warms caches and is not counted
                blob = f"bench job {seq} at {time.time_ns()}".encode()
                blobs.put(blob)
                seconds, attestation = committee.decide(make_request(_spec(blob), seq))
                time.sleep(0.05)  # let the stragglers' messages for this job land before the next one starts
                if seq:
                    latencies.append(seconds * 1000)
                    messages.append(committee.messages(seq))
                    views.append(attestation.view + 1)
                progress(f"oracle bench n={n} {scenario}: {seq}/{samples}")
        finally:
            committee.stop()
    return {
        "n": n,
        "scenario": scenario,
        "samples": samples,
        "latency_ms_p50": round(_percentile(latencies, 50), 2),
        "latency_ms_p95": round(_percentile(latencies, 95), 2),
        "messages_per_decision": round(statistics.mean(messages), 1),
        "views_per_decision": round(statistics.mean(views), 2),
    }


def _model_run(progress: Callable[[str], None]) -> dict[str, Any]:
    from qcl.config import load_settings
    from qcl.model.errors import ModelUnavailableError
    from qcl.oracle.model_job import MODEL_TASK, model_spec, model_task
    from qcl.oracle.sim.jobs import sim_input

    settings = load_settings(model_result_cache=0, model_max_batch=1)
    try:
        from qcl.model.service import load_service

        service = load_service(settings)
    except ModelUnavailableError as exc:
        return {"skipped": str(exc)}
    try:
        store = MemoryStore()
        blobs = Blobs(store)
        _, blob = sim_input("findings")
        blobs.put(blob)
        executors = Executors(blobs, {MODEL_TASK: model_task(service)})
        with tempfile.TemporaryDirectory(prefix="qcl-bench-oracle-model-") as tmp:
            # Members finish inference at different times (one shared model worker): the view timer, which starts at
            # a member's own result, must outlast the others' inference (reference notes §2: size it to inference).
            committee = BenchCommittee(
                Path(tmp), 4, silent_primary=False, executors=executors, view_timeout_ms=MODEL_VIEW_TIMEOUT_MS
            )
            try:
                progress(f"oracle bench: one {service.model_id} job on 4 members")
                seconds, attestation = committee.decide(make_request(model_spec(service, blob), 0), timeout_s=600)
                messages = committee.messages(0)
            finally:
                committee.stop()
    finally:
        service.close()
    return {
        "n": 4,
        "model": service.model_id,
        "weights_sha256": service.loaded.weights_sha256,
        "latency_ms": round(seconds * 1000, 1),
        "messages": messages,
        "status": attestation.status,
        "answer": attestation.result,
        "note": "includes every member's own greedy inference on one shared model worker (sequential)",
    }


def run_oracle_bench(
    *, samples: int = 30, model: bool = True, progress: Callable[[str], None] = lambda line: None
) -> dict[str, Any]:
    runs = [
        _protocol_run(n, scenario, samples, progress) for n in (4, 7) for scenario in ("no-faults", "silent-primary")
    ]
    return {
        "machine": f"{platform.machine()} {platform.processor() or ''} Python {platform.python_version()}".strip(),
        "transport": "loopback UDP, all members in one process",
        "view_timeout_ms": VIEW_TIMEOUT_MS,
        "runs": runs,
        "model_job": _model_run(progress) if model else None,
    }

"""The pool on one machine: each stage (and each replica) a separate `qcl shard serve` process on loopback.

    qcl shard pool up --stages 3 --replicas 2          # the CLI around this module
    pool = LocalPool(settings, "smollm2-135m-instruct", stages=3).start()
    pool.addresses                                     # seeds for the coordinator (open_sharded_model)
    pool.kill("local-s1-r0")                           # kill -9, as the fault tests do; the supervisor restarts it
    pool.restart_stage("local-s1-r0")                  # an operator's restart: SIGTERM, then started again
    pool.add_replica()                                 # one more process per stage (qcl.shard.replicas scales)
    pool.remove_stage("local-s1-r1")                   # stopped for good and forgotten
    pool.stop()

Layer ranges come from the capacity- and FLOP-aware plan (partition.py) for equal nodes. Every process gets
OMP_WAIT_POLICY=PASSIVE, so a stage waiting for its next frame sleeps instead of spinning on cores the computing
stage needs (model-facts.md: on 2 cores, idle OpenMP spinning is the main cost of three processes), and an explicit
intra-op thread count. The supervisor restarts a stage that exits (as Docker's restart policy and the managed
instance group do in the cloud), on the same port, so a killed stage comes back at its address.

With QCL_SHARD_TLS (the default) the pool speaks mTLS like a deployed one: it keeps a project CA under
<state_dir>/pki (creating it once), issues each stage a certificate for its node id whenever it starts it, and
one for the coordinator (`coordinator_tls` finds it there). One handshake per channel is the whole cost, and the
local pool then exercises the same code path as the cloud's.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from transformers import AutoConfig

from qcl.bus.emulator import free_port
from qcl.config import Settings, cpu_threads
from qcl.model.loading import _quantization
from qcl.model.registry import get_spec, model_cache_dir
from qcl.pki import Pki, identity
from qcl.shard.client import Channels, check_health
from qcl.shard.errors import ShardError
from qcl.shard.loading import ensure_weights
from qcl.shard.partition import ModelCosts, NodeCapacity, StagePlan, plan_stages
from qcl.shard.tls import LOCAL_COORDINATOR, TlsMaterial

log = logging.getLogger(__name__)
# Coverage's request to measure subprocesses (`patch = ["subprocess"]` in pyproject.toml): a stage process is not
# traced. Its code (shard/server.py) is measured in-process by its own tests; tracing torch's Python layers in every
# stage cost about a sixth of the CPU of the tests that start stages (`make test` is CPU-bound on 2 cores).
UNTRACED = frozenset({"COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START"})

START_TIMEOUT_S = 300.0  # importing torch and loading a stage on a busy 2-core machine
RESTART_DELAY_S = 0.5


@dataclass
class StageProcess:
    stage: int
    replica: int
    layers: range
    port: int
    log_path: Path
    metrics_port: int = field(default_factory=free_port)  # Prometheus scrapes it (`qcl up --ops`)
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    stopped: bool = False  # stopped on purpose: the supervisor leaves it down
    started: list[float] = field(default_factory=list)

    @property
    def node_id(self) -> str:
        return f"local-s{self.stage}-r{self.replica}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def metrics_address(self) -> str:
        return f"127.0.0.1:{self.metrics_port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None


def local_plan(settings: Settings, model_id: str, stages: int) -> StagePlan:
    """The plan for `stages` equal local nodes (compute 1, no memory bound: they share this machine's RAM)."""
    spec = get_spec(model_id)
    folder = ensure_weights(model_id, settings)
    if folder is None:  # a tiny seeded model: its config is in the registry's spec
        from qcl.shard.loading import load_skeleton

        config = load_skeleton(model_id, settings).model.config
    else:
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
    costs = ModelCosts.from_config(config, quantization=_quantization(spec, settings, None))
    return plan_stages(costs, [NodeCapacity(f"stage-{i}") for i in range(stages)], keep_order=True)


class LocalPool:
    def __init__(
        self,
        settings: Settings,
        model_id: str,
        *,
        stages: int = 3,
        replicas: int = 1,
        threads: int = 0,
        ranges: list[range] | None = None,
        restart: bool = True,
        log_dir: Path | None = None,
        max_sessions: int | None = None,
    ) -> None:
        self.settings = settings
        self.model_id = model_id
        self.threads = cpu_threads(threads)
        self.restart = restart
        self.ranges = ranges or local_plan(settings, model_id, stages).ranges
        self.max_sessions = max_sessions or settings.shard_max_sessions
        self.log_dir = log_dir or settings.state_dir / "shard-logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.pki = Pki(settings.state_dir / "pki") if settings.shard_tls else None
        self.processes = [
            StageProcess(stage, replica, layers, free_port(), self.log_dir / f"stage{stage}-replica{replica}.log")
            for stage, layers in enumerate(self.ranges)
            for replica in range(replicas)
        ]
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="qcl-shard-supervisor", daemon=True)

    @property
    def addresses(self) -> list[str]:
        return [p.address for p in self.processes]

    def process(self, node_id: str) -> StageProcess:
        for stage_process in self.processes:
            if stage_process.node_id == node_id:
                return stage_process
        raise KeyError(f"no local stage {node_id!r}; stages: {', '.join(p.node_id for p in self.processes)}")

    def start(self, *, timeout_s: float = START_TIMEOUT_S) -> LocalPool:
        """Spawn every stage and return once all answer SERVING; ShardError with a log tail if one dies first."""
        if self.pki is not None:
            if not self.pki.exists:
                self.pki.init()
            self.pki.issue(LOCAL_COORDINATOR, ("127.0.0.1", "localhost"))
        try:
            for stage_process in self.processes:
                self._spawn(stage_process)
            self.wait_serving(self.processes, timeout_s=timeout_s)
        except BaseException:  # `with LocalPool(...)` never reaches __exit__ when starting fails: end what started
            self.stop()
            raise
        if self.restart:
            self._supervisor.start()
        return self

    def wait_serving(self, processes: list[StageProcess], *, timeout_s: float = START_TIMEOUT_S) -> None:
        channels = Channels(self.client_tls())
        deadline = time.monotonic() + timeout_s
        try:
            waiting = list(processes)
            while waiting:
                for stage_process in list(waiting):
                    if check_health(channels.get(stage_process.address, stage_process.node_id), timeout_s=0.5):
                        waiting.remove(stage_process)
                    elif self._exited(stage_process) and not self._supervisor.is_alive():
                        tail = self.log_tail(stage_process)
                        raise ShardError(f"{stage_process.node_id} exited while starting:\n{tail}")
                if waiting and time.monotonic() > deadline:
                    names = ", ".join(p.node_id for p in waiting)
                    tail = self.log_tail(waiting[0])
                    raise ShardError(
                        f"stages not serving after {timeout_s:g} s: {names}; {waiting[0].node_id} log:\n{tail}"
                    )
                if waiting:
                    time.sleep(0.2)
        finally:
            channels.close()

    def client_tls(self) -> TlsMaterial | None:
        """The coordinator's certificate this pool issued (None when it runs plaintext)."""
        if self.pki is None:
            return None
        return TlsMaterial.load(self.pki.node_dir(LOCAL_COORDINATOR), role="coordinator")

    @staticmethod
    def _exited(stage_process: StageProcess) -> bool:
        return stage_process.process is not None and stage_process.process.poll() is not None

    def kill(self, node_id: str, sig: int = signal.SIGKILL) -> StageProcess:
        """Send `sig` to a stage (SIGKILL: kill -9; SIGSTOP/SIGCONT: a stage that stalls and comes back)."""
        stage_process = self.process(node_id)
        if stage_process.process is not None:
            stage_process.process.send_signal(sig)
        return stage_process

    def stop_stage(self, node_id: str) -> None:
        """Terminate a stage for good (the supervisor does not restart it)."""
        stage_process = self.process(node_id)
        with self._lock:  # a restart the supervisor has due is dropped (see _spawn), or its process is ours to end
            stage_process.stopped = True
        self._terminate(stage_process)

    def start_stage(self, node_id: str) -> None:
        """Start a stopped stage again, on its port."""
        stage_process = self.process(node_id)
        stage_process.stopped = False
        self._spawn(stage_process)

    def restart_stage(self, node_id: str) -> None:
        """Stop a stage gracefully and start it again on its port (it loads its layers and rejoins)."""
        stage_process = self.process(node_id)
        with self._lock:  # the supervisor must not race us to restart it
            stage_process.stopped = True
        self._terminate(stage_process)
        stage_process.restarts += 1
        self.start_stage(node_id)

    def add_replica(self) -> list[StageProcess]:
        """Start one more process for every stage, on the same ranges (replica number one above the highest); returns
        them at once: they serve once they have loaded (`wait_serving`)."""
        with self._lock:
            replica = max((p.replica for p in self.processes), default=-1) + 1
            added = [
                StageProcess(stage, replica, layers, free_port(), self.log_dir / f"stage{stage}-replica{replica}.log")
                for stage, layers in enumerate(self.ranges)
            ]
            self.processes = [*self.processes, *added]  # a new list: the supervisor iterates the one it read
        for stage_process in added:
            self._spawn(stage_process)
        return added

    def remove_stage(self, node_id: str) -> None:
        """Stop a stage for good and forget it (a retired replica's process)."""
        self.stop_stage(node_id)
        with self._lock:
            self.processes = [p for p in self.processes if p.node_id != node_id]

    def stop(self) -> None:
        with self._lock:  # after this no stage is spawned (a restart due meanwhile is dropped), so none outlives us
            self._stopping.set()
        for stage_process in self.processes:
            self._terminate(stage_process)

    def log_tail(self, stage_process: StageProcess, lines: int = 30) -> str:
        try:
            return "\n".join(stage_process.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> LocalPool:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _command(self, stage_process: StageProcess) -> list[str]:
        layers = stage_process.layers
        return [
            sys.executable,
            "-m",
            "qcl.cli",
            "shard",
            "serve",
            "--model",
            self.model_id,
            "--layers",
            f"{layers.start}:{layers.stop}",
            "--host",
            "127.0.0.1",
            "--port",
            str(stage_process.port),
            "--node-id",
            stage_process.node_id,
            "--threads",
            str(self.threads),
            "--max-sessions",
            str(self.max_sessions),
            "--store",
            "memory",  # the coordinator heartbeats local stages itself: a memory store is not shared
            "--device",
            "cpu",
            "--metrics-port",
            str(stage_process.metrics_port),
            *(["--tls-dir", str(self._tls_dir(stage_process))] if self.pki is not None else []),
        ]

    def _tls_dir(self, stage_process: StageProcess) -> Path:
        assert self.pki is not None
        return self.pki.node_dir(identity("shard", stage_process.node_id))

    def _environment(self) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if name not in UNTRACED}
        env.update(
            {
                "OMP_WAIT_POLICY": "PASSIVE",
                "OMP_NUM_THREADS": str(self.threads),
                "MKL_NUM_THREADS": str(self.threads),
                "QCL_MODEL_CACHE_DIR": str(model_cache_dir(self.settings).resolve()),
                "QCL_QUANTIZATION": self.settings.quantization,
                "QCL_STATE_DIR": str(self.settings.state_dir.resolve()),
                "QCL_SHARD_SESSION_TTL_S": str(self.settings.shard_session_ttl_s),
                "QCL_MODEL_HUB": "true" if self.settings.model_hub else "false",
                "TOKENIZERS_PARALLELISM": "false",
                "QCL_SHARD_TLS": "true" if self.pki is not None else "false",
            }
        )
        if self.settings.model_path is not None:
            env["QCL_MODEL_PATH"] = str(self.settings.model_path)
        if self.settings.log_dir is not None:  # the stage's JSON lines join the stack's searchable logs
            env["QCL_LOG_DIR"] = str(self.settings.log_dir.resolve())
        return env

    def _spawn(self, stage_process: StageProcess, *, restart: bool = False) -> None:
        with self._lock:
            # A supervisor's restart waits RESTART_DELAY_S: a stage stopped for good meanwhile stays stopped, and one
            # an operator started again meanwhile (restart_stage) is not started twice (the first would be orphaned).
            running = stage_process.process is not None and stage_process.process.poll() is None
            if self._stopping.is_set() or (restart and (stage_process.stopped or running)):
                return
            if self.pki is not None:  # a fresh certificate at every (re)start of a stage
                self.pki.issue(identity("shard", stage_process.node_id), ("127.0.0.1", "localhost"))
            handle = stage_process.log_path.open("ab")
            stage_process.process = subprocess.Popen(
                self._command(stage_process),
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=self._environment(),
                start_new_session=True,  # Ctrl-C in a terminal reaches the pool, which stops its stages in order
            )
            handle.close()
            stage_process.started.append(time.monotonic())
            log.info("started %s (layers %s, pid %d)", stage_process.node_id, stage_process.layers, stage_process.pid)

    def _terminate(self, stage_process: StageProcess) -> None:
        process = stage_process.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def _supervise(self) -> None:
        while not self._stopping.wait(0.2):
            for stage_process in self.processes:
                process = stage_process.process
                if stage_process.stopped or process is None or process.poll() is None:
                    continue
                log.warning("%s exited with %s; restarting it", stage_process.node_id, process.returncode)
                if self._stopping.wait(RESTART_DELAY_S):
                    return
                stage_process.restarts += 1
                self._spawn(stage_process, restart=True)

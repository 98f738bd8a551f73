"""Autoscaling the job workers from one policy: the queue, its forecast and the workers' measured throughput decide
how many worker processes run; one that leaves drains (takes no new job, finishes those in flight).

    scaler = Autoscaler(jobs, WorkerProcesses(worker_command(settings)), ScalingPolicy(min_replicas=1, max_replicas=4))
    scaler.start()          # a thread: one decision every policy.interval_s
    scaler.status()         # replicas, the last signal and recommendation, the scaling events
    scaler.stop()           # stops the loop, then every worker process (each drains)

The recommendation (`recommend`) is Kubernetes' HPA rule applied to throughput: enough replicas to keep up with the
arrival rate forecast `horizon_s` ahead (qcl.compute.forecast) and to work the backlog off within `target_wait_s`,
at the throughput one replica was measured to give while work was waiting for it. Scaling up happens at once (by
as many replicas as the recommendation asks); scaling down only once no recommendation of the last
`scale_down_after_s` asked for the current count (HPA's stabilisation window), one replica at a time, so that a
dip in arrivals does not stop a worker that is needed again a minute later. Before anything was measured, one
replica more is started while jobs wait, and kept while a job runs or one is forecast
within `horizon_s`.

The same policy drives the cloud runtimes' own autoscalers where they exist (infra: Cloud Run's concurrency; K8s
HPA on the `qcl_jobs_*` gauges); this module is the local one, `qcl jobs autoscale`.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from qcl.compute.queue import JobQueue

log = logging.getLogger(__name__)

CAPACITY_WEIGHT = 0.3  # EWMA weight of the newest per-replica throughput sample


@dataclass(frozen=True)
class ScalingPolicy:
    min_replicas: int = 1
    max_replicas: int = 4
    target_wait_s: float = 10.0  # a job waiting now should start within this
    horizon_s: float = 5.0  # how far ahead the arrival forecast looks: about the time a new replica takes to serve
    scale_down_after_s: float = 60.0  # the stabilisation window before a replica is removed
    interval_s: float = 1.0  # between decisions

    def __post_init__(self) -> None:
        if not 0 <= self.min_replicas <= self.max_replicas or self.max_replicas < 1:
            raise ValueError(
                f"replicas: need 0 <= min <= max and max >= 1 (got min {self.min_replicas}, max {self.max_replicas})"
            )
        for name in ("target_wait_s", "horizon_s", "interval_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be above 0 (got {getattr(self, name)})")
        if self.scale_down_after_s < 0:
            raise ValueError(f"scale_down_after_s must not be negative (got {self.scale_down_after_s})")


@dataclass(frozen=True)
class Signal:
    """What the queue says at one moment (every process's jobs: the counters live in the store)."""

    queued: int  # waiting to be claimed (ready, and retries due)
    running: int  # leased by a worker
    arrival_rate: float  # jobs a second, forecast horizon_s ahead
    service_rate: float  # jobs a second finishing now


def recommend(policy: ScalingPolicy, signal: Signal, replicas: int, per_replica: float | None) -> int:
    """Replicas wanted for `signal`, within the policy's bounds; `per_replica` is one replica's measured throughput
    (jobs a second) while it had work waiting, None before it was measured."""
    if per_replica is None or per_replica <= 0:
        if signal.queued > 0:
            wanted = replicas + 1
        else:  # a burst worked off between two decisions was never measured: idle, it is no reason to stay
            arriving = signal.arrival_rate * policy.horizon_s >= 1  # a job expected within the horizon
            wanted = replicas if signal.running or arriving else 0
    else:
        keep_up = signal.arrival_rate / per_replica
        work_off = signal.queued / (per_replica * policy.target_wait_s)
        wanted = math.ceil(round(keep_up + work_off, 6))
        if signal.queued or signal.running:
            wanted = max(wanted, 1)  # work in the system is never left with no worker
    return min(policy.max_replicas, max(policy.min_replicas, wanted))


class Scalable(Protocol):
    """What the autoscaler resizes: a group of identical workers."""

    def replicas(self) -> int: ...

    def scale_to(self, replicas: int) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ScalingEvent:
    at: float  # the clock's time
    replicas_from: int
    replicas_to: int
    reason: str


@dataclass
class Autoscaler:
    jobs: JobQueue
    target: Scalable
    policy: ScalingPolicy = field(default_factory=ScalingPolicy)
    clock: Callable[[], float] = time.monotonic
    on_event: Callable[[ScalingEvent], None] = lambda event: None

    def __post_init__(self) -> None:
        self.events: list[ScalingEvent] = []
        self.per_replica: float | None = None
        self.last_signal: Signal | None = None
        self.last_recommendation: int | None = None
        self._recommendations: deque[tuple[float, int]] = deque()
        self._changed_at = self.clock()
        self._measured_replicas = 0  # replicas serving during the interval the last signal measured
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def signal(self) -> Signal:
        self.jobs.observe_load()  # at most once a second, shared counters: any process's jobs count
        forecast = self.jobs.forecast
        return Signal(
            queued=forecast.queued,
            running=self.jobs.depth().get("running", 0),
            arrival_rate=forecast.arrivals.forecast(self.policy.horizon_s),
            service_rate=forecast.service.forecast(0),
        )

    def step(self, signal: Signal | None = None) -> int:
        """One decision: measure, recommend, resize; returns the replica count asked of the target."""
        now = self.clock()
        signal = self.signal() if signal is None else signal
        replicas = self.target.replicas()
        measured = min(replicas, self._measured_replicas)  # a replica started since has not finished anything yet
        self._measured_replicas = replicas
        if signal.queued > 0 and measured > 0 and signal.service_rate > 0:  # work waited: what a replica gives
            sample = signal.service_rate / measured
            previous = sample if self.per_replica is None else self.per_replica
            self.per_replica = CAPACITY_WEIGHT * sample + (1 - CAPACITY_WEIGHT) * previous
        wanted = recommend(self.policy, signal, replicas, self.per_replica)
        self.last_signal, self.last_recommendation = signal, wanted
        self._recommendations.append((now, wanted))
        while self._recommendations and self._recommendations[0][0] < now - self.policy.scale_down_after_s:
            self._recommendations.popleft()
        if wanted > replicas:
            return self._resize(now, replicas, wanted, f"{signal.queued} queued, {signal.arrival_rate:.1f}/s forecast")
        settled = now - self._changed_at >= self.policy.scale_down_after_s
        if wanted < replicas and settled and max(w for _, w in self._recommendations) < replicas:
            return self._resize(now, replicas, replicas - 1, f"{self.policy.scale_down_after_s:.0f} s below {replicas}")
        return replicas

    def _resize(self, now: float, current: int, wanted: int, reason: str) -> int:
        self.target.scale_to(wanted)
        self._changed_at = now
        event = ScalingEvent(now, current, wanted, reason)
        self.events.append(event)
        log.info("autoscale: %d -> %d replicas (%s)", current, wanted, reason)
        self.on_event(event)
        return wanted

    def start(self) -> Autoscaler:
        if self.target.replicas() < self.policy.min_replicas:
            self._resize(self.clock(), self.target.replicas(), self.policy.min_replicas, "the policy's minimum")
        self._thread = threading.Thread(target=self._run, name="qcl-autoscaler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.policy.interval_s):
            try:
                self.step()
            except Exception:  # the store failed a read: keep the replicas as they are, try again next round
                log.exception("autoscale: a decision failed; the replicas stay as they are")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.policy.interval_s + 30)
        self.target.close()

    def status(self) -> dict[str, Any]:
        return {
            "replicas": self.target.replicas(),
            "policy": asdict(self.policy),
            "per_replica_jobs_per_s": None if self.per_replica is None else round(self.per_replica, 3),
            "signal": None if self.last_signal is None else asdict(self.last_signal),
            "recommendation": self.last_recommendation,
            "events": [asdict(e) for e in self.events],
        }


def worker_command(workers: int, *, fake_ms_per_token: float | None = None) -> list[str]:
    """`qcl jobs work` as a replica: `workers` threads on the model (or on the FAKE sleeping runtime)."""
    command = [sys.executable, "-m", "qcl.cli", "jobs", "work", "--workers", str(workers)]
    if fake_ms_per_token is not None:
        command += ["--fake-ms-per-token", str(fake_ms_per_token)]
    return command


@dataclass
class _Replica:
    process: subprocess.Popen[bytes]
    started_at: float
    log: IO[bytes] | None
    stopping_at: float | None = None


class WorkerProcesses:
    """Worker processes, one replica each, on the store the environment names (QCL_STORE=redis: they share the
    queue). A replica removed gets SIGTERM and drains: `qcl jobs work` takes no new job and finishes those in flight
    (their leases renewed), then exits. The newest replica goes first."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        log_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.command = list(command)
        self.env = dict(os.environ if env is None else env)
        self.log_dir = log_dir
        self.clock = clock
        self._replicas: list[_Replica] = []
        self._lock = threading.Lock()
        self._spawned = 0
        self.exits: list[int] = []  # exit codes of the replicas that ended, in the order they were reaped
        # Replicas that ended otherwise than by the stop asked of them: an exit code other than 0, except death by
        # that SIGTERM itself, which a replica removed while still starting (before it can handle the signal,
        # so before it took any job) gets from the interpreter.
        self.failures = 0
        self.node_seconds = 0.0  # lifetimes of the replicas that ended

    def _reap(self) -> None:
        for replica in list(self._replicas):
            code = replica.process.poll()
            if code is not None:
                self._replicas.remove(replica)
                self.exits.append(code)
                if code != 0 and not (replica.stopping_at is not None and code == -signal.SIGTERM):
                    self.failures += 1
                self.node_seconds += self.clock() - replica.started_at
                if replica.log is not None:
                    replica.log.close()
                if replica.stopping_at is None:
                    log.warning("autoscale: worker process %d exited on its own with %d", replica.process.pid, code)

    def replicas(self) -> int:
        """Replicas running and not draining."""
        with self._lock:
            self._reap()
            return sum(1 for r in self._replicas if r.stopping_at is None)

    def pids(self) -> set[int]:
        """Process ids of the replicas serving now."""
        with self._lock:
            self._reap()
            return {r.process.pid for r in self._replicas if r.stopping_at is None}

    def draining(self) -> int:
        with self._lock:
            self._reap()
            return sum(1 for r in self._replicas if r.stopping_at is not None)

    def live_node_seconds(self) -> float:
        """Node-seconds so far: the ended replicas' lifetimes and the running ones' up to now."""
        with self._lock:
            now = self.clock()
            return self.node_seconds + sum(now - r.started_at for r in self._replicas)

    def scale_to(self, replicas: int) -> None:
        with self._lock:
            self._reap()
            serving = [r for r in self._replicas if r.stopping_at is None]
            for _ in range(replicas - len(serving)):
                self._replicas.append(self._spawn())
            for replica in reversed(serving[replicas:] if replicas < len(serving) else []):
                replica.stopping_at = self.clock()
                replica.process.send_signal(signal.SIGTERM)

    def _spawn(self) -> _Replica:
        self._spawned += 1
        output: IO[bytes] | None = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = (self.log_dir / f"worker-{self._spawned}.log").open("ab")
        process = subprocess.Popen(
            self.command, env=self.env, stdout=output or subprocess.DEVNULL, stderr=output or subprocess.DEVNULL
        )
        return _Replica(process, self.clock(), output)

    def close(self, timeout_s: float = 60.0) -> None:
        """Stop every replica (each drains), waiting up to `timeout_s`; one still running then is killed."""
        self.scale_to(0)
        deadline = time.monotonic() + timeout_s
        for replica in list(self._replicas):
            try:
                replica.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("autoscale: worker process %d did not drain in time; killed", replica.process.pid)
                replica.process.kill()
                replica.process.wait()
        with self._lock:
            self._reap()

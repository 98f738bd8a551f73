"""`qcl bench soak`: a mixed load for hours or days on one stack, its process sampled for leaks.

    qcl bench soak --duration 30m --json                     # an embedded `qcl up` with a 2-stage shard pool
    qcl bench soak --duration 20s --sample-s 1 --shards 0    # no pool: no stage is killed
    qcl bench soak --duration 72h --api https://qcl.example.com --key-file prod.key --out soak.jsonl

The load, each part on its own clock so that a slow part does not slow the others:
  readers      cached reads (GET /api/network/latest, /api/ai/status), closed loop with a random pause
  subscribers  WebSockets on /api/ws for the whole run, each closing and reconnecting every `ws_cycle_s`
  questions    POST /api/ai/question, every other one new (a cache miss)
  jobs         POST /api/jobs (a short interactive completion), followed until final; where a model runs
  oracle       POST /api/tasks oracle jobs (one per task and newest observation), followed until done; where the
               stack runs an oracle committee
  stage kills  SIGKILL one shard stage of the local pool (round robin) every `kill_every_s`; the time until the
               pool's supervisor has it running again is the op `stage_restart`
Every `sample_s` a sample is written (a JSON line): RSS, descriptors and threads of the stack's process, and per
operation the window's count, p50/p95 and errors. At the end the summary holds the run's percentiles and errors per
operation and the leak detector (qcl.bench.soak_stats.detect_leaks) over the samples' second half.

An embedded stack is `qcl up` in a child process (qcl.bench.api.StackProcess) replaying a calm synthetic capture at
`speed`x (one observation every 30 s of capture time), long enough for the run, with QCL_MODEL=tiny-random-qwen2
split over `shards` stages; its process is sampled directly. A remote deployment (`api`) is sampled through its
/metrics (process_* gauges and qcl_process_threads, of the instance that answers the scrape).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import platform
import random
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx

from qcl.bench.api import StackProcess, wait_for_analysis
from qcl.bench.soak_stats import (
    MIB,
    LeakThresholds,
    LocalProbe,
    OpStats,
    ProcessSample,
    child_processes,
    detect_leaks,
    metrics_sample,
)

ORACLE_TASKS = ("analysis.health_score", "analysis.findings", "analysis.price_change_1h_pct")
FINAL_JOB_STATES = {"done", "failed", "cancelled", "dead"}
MAX_IN_FLIGHT = 50  # per periodic operation: past this the server is not keeping up, and the soak says so
POLL_S = 0.25  # how often a followed job or task is asked for its state


@dataclass(frozen=True)
class SoakPlan:
    duration_s: float
    sample_s: float = 10.0  # a sample (process figures, each operation's window) every this many seconds
    readers: int = 4  # users reading cached views, each closed loop with a pause
    read_think_s: float = 0.5  # a reader's mean pause between two reads (exponential, seeded)
    subscribers: int = 10  # WebSocket subscribers on /api/ws
    ws_cycle_s: float = 60.0  # a subscriber closes and reconnects this often (connection churn shows descriptor leaks)
    question_every_s: float = 2.0  # one question this often
    job_every_s: float = 5.0  # one job this often (where a model runs)
    oracle_every_s: float = 15.0  # one oracle job this often (where an oracle committee runs)
    kill_every_s: float | None = 300.0  # a shard stage killed this often (local pool only); None: never
    final_timeout_s: float = 120.0  # a job or task not final by then is an error "timeout"
    thresholds: LeakThresholds = field(default_factory=LeakThresholds)

    def __post_init__(self) -> None:
        for name in (
            "duration_s",
            "sample_s",
            "read_think_s",
            "ws_cycle_s",
            "question_every_s",
            "job_every_s",
            "oracle_every_s",
            "final_timeout_s",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be positive, got {getattr(self, name)}")
        if self.kill_every_s is not None and self.kill_every_s <= 0:
            raise ValueError(f"kill_every_s: must be positive or None, got {self.kill_every_s}")
        if self.readers < 0 or self.subscribers < 0:
            raise ValueError("readers and subscribers: must not be negative")
        if self.sample_s * 2 > self.duration_s:
            raise ValueError(f"sample_s: {self.sample_s:g} s leaves fewer than 2 samples in {self.duration_s:g} s")


class StageKiller:
    """The shard stage processes under the stack's process (`qcl shard serve --node-id ...`), killed in turn."""

    def __init__(self, stack_pid: int) -> None:
        self.stack_pid = stack_pid
        self._turn = itertools.count()

    def stages(self) -> dict[str, int]:
        """node id -> pid of each stage process running now."""
        found = {}
        for pid, command in child_processes(self.stack_pid).items():
            if "serve" in command and "--node-id" in command[:-1]:
                found[command[command.index("--node-id") + 1]] = pid
        return found

    def kill_next(self) -> tuple[str, int] | None:
        stages = self.stages()
        if not stages:
            return None
        node_id = sorted(stages)[next(self._turn) % len(stages)]
        os.kill(stages[node_id], signal.SIGKILL)
        return node_id, stages[node_id]


class Soak:
    def __init__(
        self,
        plan: SoakPlan,
        url: str,
        key: str,
        *,
        probe: Callable[[], Awaitable[ProcessSample]],
        killer: StageKiller | None,
        jobs: bool,
        oracle: bool,
        out: TextIO | None = None,
        progress: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.plan, self.url, self.key = plan, url, key
        self.probe, self.killer, self.jobs, self.oracle = probe, killer, jobs, oracle
        self.out, self.progress = out, progress
        self.ops: dict[str, OpStats] = {}
        self.samples: list[dict[str, Any]] = []
        self.events: list[str] = []
        self.kills: list[dict[str, Any]] = []
        self.ws_messages: Counter[str] = Counter()
        self.ws_connections = 0
        self.skipped: Counter[str] = Counter()  # periodic operations left out, and why (not errors)
        self._oracle_at: str | None = None  # the newest observation oracle jobs were filed on
        self._oracle_filed: set[str] = set()  # ... and the tasks filed on it
        self._in_flight: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = 0.0
        self._deadline = 0.0

    # -- bookkeeping -------------------------------------------------------------------------------------------------

    def op(self, name: str) -> OpStats:
        return self.ops.setdefault(name, OpStats())

    def _left(self) -> float:
        return self._deadline - time.monotonic()

    async def _request(self, client: httpx.AsyncClient, op: str, method: str, path: str, **kw: Any) -> Any:
        """The answer's JSON, its latency recorded under `op`; None (the error counted) on a failure."""
        started = time.perf_counter()
        try:
            answer = await client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            self.op(op).error(type(exc).__name__)
            return None
        if answer.status_code >= 300:
            self.op(op).error(str(answer.status_code))
            return None
        self.op(op).ok((time.perf_counter() - started) * 1000)
        return answer.json()

    # -- the load ----------------------------------------------------------------------------------------------------

    async def _reader(self, client: httpx.AsyncClient, rng: random.Random) -> None:
        for turn in itertools.count():
            await asyncio.sleep(min(rng.expovariate(1 / self.plan.read_think_s), max(0.0, self._left())))
            if self._left() <= 0:
                return
            if turn % 2 == 0:
                await self._request(client, "read_latest", "GET", "/api/network/latest")
            else:
                await self._request(client, "read_status", "GET", "/api/ai/status")

    async def _subscriber(self, index: int) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import WebSocketException

        ws_url = self.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/api/ws"
        headers = {"Authorization": f"Bearer {self.key}"}
        # The first cycles are staggered so that reconnections spread over the cycle instead of coming together.
        cycle_s = self.plan.ws_cycle_s * (index + 1) / max(1, self.plan.subscribers)
        while self._left() > 0:
            started = time.perf_counter()
            try:
                async with connect(ws_url, additional_headers=headers, open_timeout=30) as ws:
                    hello = json.loads(await ws.recv())
                    self.op("ws_connect").ok((time.perf_counter() - started) * 1000)
                    self.ws_connections += 1
                    self.ws_messages[hello.get("type", "?")] += 1
                    until = min(time.monotonic() + cycle_s, self._deadline)
                    while (wait_s := until - time.monotonic()) > 0:
                        try:
                            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=wait_s))
                        except TimeoutError:
                            break
                        self.ws_messages[message.get("type", "?")] += 1
            except (OSError, TimeoutError, WebSocketException) as exc:
                self.op("ws_connect").error(type(exc).__name__)
                await asyncio.sleep(min(1.0, max(0.0, self._left())))
            cycle_s = self.plan.ws_cycle_s

    async def _every(self, op: str, period_s: float, action: Callable[[int], Coroutine[Any, Any, None]]) -> None:
        """Start `action(n)` every `period_s` without waiting for the one before (an open loop)."""
        next_at = time.monotonic()
        for n in itertools.count():
            next_at += period_s
            await asyncio.sleep(max(0.0, min(next_at, self._deadline) - time.monotonic()))
            if self._left() <= 0:
                return
            if self._in_flight[op] >= MAX_IN_FLIGHT:  # the server is not keeping up: an error, not a silent skip
                self.op(op).error("client_backlog")
                continue
            self._in_flight[op] += 1
            task = asyncio.create_task(self._counted(op, action(n)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _counted(self, op: str, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        finally:
            self._in_flight[op] -= 1

    async def _question(self, client: httpx.AsyncClient, n: int) -> None:
        question = "Is the network healthy?" if n % 2 == 0 else f"How did the price move? (soak {n})"
        await self._request(
            client, "question", "POST", "/api/ai/question", json={"question": question, "language": "en"}
        )

    async def _follow(self, client: httpx.AsyncClient, op: str, path: str, started: float) -> None:
        """Poll `path` until its state is final; the time from submission to "done" is `op`'s latency."""
        while time.perf_counter() - started < self.plan.final_timeout_s:
            await asyncio.sleep(POLL_S)
            try:
                answer = await client.get(path)
            except httpx.HTTPError as exc:
                self.op(op).error(type(exc).__name__)
                return
            if answer.status_code != 200:
                self.op(op).error(str(answer.status_code))
                return
            state = answer.json()["state"]
            if state == "done":
                self.op(op).ok((time.perf_counter() - started) * 1000)
                return
            if state in FINAL_JOB_STATES:
                self.op(op).error(state)
                return
        self.op(op).error("timeout")

    async def _job(self, client: httpx.AsyncClient, n: int) -> None:
        started = time.perf_counter()
        body = {
            "kind": "completion",
            "prompt": f"Summarise the network's health ({n}).",
            "max_tokens": 8,
            "priority": "interactive",
        }
        accepted = await self._request(client, "job_submit", "POST", "/api/jobs", json=body)
        if accepted is not None:
            await self._follow(client, "job", f"/api/jobs/{accepted['jobs'][0]}", started)

    async def _oracle_job(self, client: httpx.AsyncClient, n: int) -> None:
        # A job's id is the hash of its spec (task and window): one per task and newest observation, never twice.
        latest = await self._request(client, "read_latest", "GET", "/api/network/latest")
        observed = latest.get("observed_at") if latest is not None else None
        if observed != self._oracle_at:
            self._oracle_at, self._oracle_filed = observed, set()
        task = next((t for t in ORACLE_TASKS if t not in self._oracle_filed), None)
        if observed is None or task is None:  # the feed has not moved on since the last three
            self.skipped["oracle"] += 1
            return
        self._oracle_filed.add(task)
        started = time.perf_counter()
        body = {"kind": "oracle", "task": task}
        accepted = await self._request(client, "oracle_submit", "POST", "/api/tasks", json=body)
        if accepted is not None:
            await self._follow(client, "oracle", f"/api/tasks/{accepted['id']}", started)

    async def _kill_stages(self) -> None:
        assert self.killer is not None and self.plan.kill_every_s is not None
        killer = self.killer
        while self._left() > self.plan.kill_every_s:  # no kill so late that its restart falls after the run
            await asyncio.sleep(self.plan.kill_every_s)
            killed = await asyncio.to_thread(killer.kill_next)
            if killed is None:
                self.op("stage_restart").error("no_stage_running")
                continue
            node_id, pid = killed
            killed_at, at_s = time.perf_counter(), round(time.monotonic() - self._started, 1)
            self.events.append(f"killed {node_id} (pid {pid})")
            while time.perf_counter() - killed_at < self.plan.final_timeout_s:
                await asyncio.sleep(0.2)
                running = await asyncio.to_thread(killer.stages)
                if running.get(node_id, pid) != pid:
                    restart_s = time.perf_counter() - killed_at
                    self.op("stage_restart").ok(restart_s * 1000)
                    self.kills.append({"t_s": at_s, "node_id": node_id, "restart_s": round(restart_s, 2)})
                    break
            else:
                self.op("stage_restart").error("timeout")
                self.kills.append({"t_s": at_s, "node_id": node_id, "restart_s": None})

    # -- samples -----------------------------------------------------------------------------------------------------

    async def _sample(self, phase: str = "load") -> None:
        at_s = time.monotonic() - self._started
        try:
            figures = await self.probe()
        except Exception as exc:  # a failed sample is reported in the series and the run goes on
            figures = ProcessSample(None, None, None)
            self.events.append(f"sample failed: {type(exc).__name__}: {exc}")

        def mib(value: int | None) -> float | None:
            return round(value / MIB, 2) if value is not None else None

        ops = {name: stats.take_window() for name, stats in sorted(self.ops.items())}
        record = {
            "t_s": round(at_s, 2),
            "phase": phase,  # "start" before the load, "load", "after" once it stopped and followed jobs finished
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "rss_mib": mib(figures.rss_bytes),
            "open_fds": figures.open_fds,
            "threads": figures.threads,
            "children_rss_mib": mib(figures.children_rss_bytes),
            "children": figures.children,
            "requests": sum(op["n"] for op in ops.values()),
            "errors": sum(op["errors"] for op in ops.values()),
            "ws_messages": sum(self.ws_messages.values()),
            "ops": ops,
            "events": self.events,
        }
        self.events = []
        self.samples.append(record)
        if self.out is not None:
            self.out.write(json.dumps(record) + "\n")
            self.out.flush()
        self.progress(
            f"soak {_clock(at_s)}/{_clock(self.plan.duration_s)}  rss {record['rss_mib']} MiB  fds {record['open_fds']}"
            f"  threads {record['threads']}  requests {record['requests']}  errors {record['errors']}"
            + (f"  [{'; '.join(record['events'])}]" if record["events"] else "")
        )

    async def _sampler(self) -> None:
        for n in itertools.count(1):
            await asyncio.sleep(
                max(0.0, min(self._started + n * self.plan.sample_s, self._deadline) - time.monotonic())
            )
            if self._left() <= 0:
                return
            await self._sample()

    # -- the run -----------------------------------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        plan = self.plan
        limits = httpx.Limits(max_connections=plan.readers + 2 * MAX_IN_FLIGHT, max_keepalive_connections=64)
        headers = {"Authorization": f"Bearer {self.key}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers, limits=limits, timeout=30.0) as client:
            self._started = time.monotonic()
            self._deadline = self._started + plan.duration_s
            await self._sample("start")  # before any load: the start figures
            parts: list[Coroutine[Any, Any, None]] = [self._sampler()]
            parts += [self._reader(client, random.Random(seed)) for seed in range(plan.readers)]  # noqa: S311 - pauses
            parts += [self._subscriber(index) for index in range(plan.subscribers)]
            parts.append(self._every("question", plan.question_every_s, lambda n: self._question(client, n)))
            if self.jobs:
                parts.append(self._every("job", plan.job_every_s, lambda n: self._job(client, n)))
            if self.oracle:
                parts.append(self._every("oracle", plan.oracle_every_s, lambda n: self._oracle_job(client, n)))
            if self.killer is not None and plan.kill_every_s is not None:
                parts.append(self._kill_stages())
            await asyncio.gather(*parts)
            if self._tasks:  # jobs and tasks still followed finish (or time out) before the last sample
                await asyncio.wait(set(self._tasks), timeout=plan.final_timeout_s + 5)
            await self._sample("after")
        return self.summary(time.monotonic() - self._started)

    def summary(self, elapsed_s: float) -> dict[str, Any]:
        first, last = self.samples[0], self.samples[-1]

        def series(name: str) -> list[Any]:
            return [s[name] for s in self.samples if s.get(name) is not None]

        ops = {name: stats.summary() for name, stats in sorted(self.ops.items())}
        return {
            "suite": "soak",
            "duration_s": round(elapsed_s, 1),
            "samples": len(self.samples),
            "requests": sum(op["n"] for op in ops.values()),
            "errors": sum(op["errors"] for op in ops.values()),
            "process": {
                "rss_mib_start": first["rss_mib"],
                "rss_mib_end": last["rss_mib"],  # after the load (the last sample)
                "rss_mib_max": max(series("rss_mib"), default=None),
                "open_fds_start": first["open_fds"],
                "open_fds_end": last["open_fds"],
                "threads_start": first["threads"],
                "threads_end": last["threads"],
                "children_rss_mib_start": first["children_rss_mib"],
                "children_rss_mib_end": last["children_rss_mib"],
            },
            # Under load only: the sample after it (connections closed) would bend the slope down.
            "leak": detect_leaks([s for s in self.samples if s["phase"] != "after"], self.plan.thresholds),
            "ops": ops,
            "skipped": dict(self.skipped),
            "websocket": {"connections": self.ws_connections, "messages": dict(self.ws_messages)},
            "load": {"jobs": self.jobs, "oracle": self.oracle, "stage_kills": self.killer is not None},
            "kills": self.kills,
            "plan": {**asdict(self.plan), "thresholds": asdict(self.plan.thresholds)},
        }


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


async def _features(url: str, key: str) -> tuple[bool, bool]:
    """(a model runs jobs, an oracle committee runs) on the target, from /api/ai/status and /api/nodes."""
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        status = (await client.get("/api/ai/status")).raise_for_status().json()
        nodes = (await client.get("/api/nodes")).raise_for_status().json()["nodes"]
    return status.get("models") is not None, any(node["role"] == "oracle" for node in nodes)


def _remote_probe(url: str, key: str) -> Callable[[], Awaitable[ProcessSample]]:
    async def probe() -> ProcessSample:
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            answer = await client.get("/metrics")
        answer.raise_for_status()
        return metrics_sample(answer.text)

    return probe


def run_soak(
    plan: SoakPlan,
    *,
    api: str | None = None,
    key: str | None = None,
    shards: int = 2,
    model: str = "tiny-random-qwen2",
    speed: float = 10.0,
    out: Path | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Soak a remote deployment (`api` and `key`), or an embedded stack started for the run (`shards` stages of
    `model`, 0: no pool; its replay at `speed`x)."""
    if (api is None) != (key is None):
        raise ValueError("api and key: give both (a remote deployment) or neither (an embedded stack)")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
    sink = out.open("w", encoding="utf-8") if out is not None else None
    try:
        if api is not None and key is not None:
            url = api.rstrip("/")
            jobs, oracle = asyncio.run(_features(url, key))
            soak = Soak(
                plan,
                url,
                key,
                probe=_remote_probe(url, key),
                killer=None,
                jobs=jobs,
                oracle=oracle,
                out=sink,
                progress=progress,
            )
            return {**asyncio.run(soak.run()), "target": url, "process_source": "/metrics", **_machine()}
        with tempfile.TemporaryDirectory(prefix="qcl-bench-soak-") as tmp:
            # Capture time for the whole run at `speed`x, plus an hour: the analyzer's window and the oracle's.
            hours = plan.duration_s * speed / 3600 + 1
            env = {
                "QCL_MODEL": model,
                "QCL_NARRATE_MODEL": "true",
                "QCL_NARRATE_EMBEDDINGS": "false",
                "QCL_SHARD_THREADS": "1",
            }
            args = ("--shards", str(shards)) if shards else ()
            stack = StackProcess(Path(tmp), progress, hours=hours, speed=speed, env=env, args=args, start_timeout_s=300)
            try:
                wait_for_analysis(stack.url, stack.key, timeout_s=120)
                jobs, oracle = asyncio.run(_features(stack.url, stack.key))
                local = LocalProbe(stack.process.pid)
                killer = StageKiller(stack.process.pid) if shards and plan.kill_every_s is not None else None
                soak = Soak(
                    plan,
                    stack.url,
                    stack.key,
                    probe=lambda: asyncio.to_thread(local.sample),
                    killer=killer,
                    jobs=jobs,
                    oracle=oracle,
                    out=sink,
                    progress=progress,
                )
                result = asyncio.run(soak.run())
            finally:
                stack.stop()
        target = f"embedded qcl up ({model} on {shards} shard stages)" if shards else "embedded qcl up (no shard pool)"
        return {**result, "target": target, "process_source": local.source, "speed": speed, **_machine()}
    finally:
        if sink is not None:
            sink.close()


def _machine() -> dict[str, Any]:
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "date": datetime.now(UTC).date().isoformat(),
    }

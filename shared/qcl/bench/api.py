"""`qcl bench api`: load on `qcl up`'s HTTP API over loopback, from a bounded async client in another process.

    qcl bench api --json                      # 100 and 1,000 concurrent clients, 3,000 requests per case
    qcl bench api --concurrency 10 --requests 200
    qcl bench api --cases network_latest --concurrency 1000 --think-s 5    # 1,000 users who read, then think

The server is a real `qcl up` (a child process, port picked free, state in a temporary directory, rate limits
raised so that they do not cap the measurement) fed a short calm capture, so that the pipeline is idle while the
API is loaded. Cases: GET /api/network/latest (a cached read), GET /api/ai/status, POST /api/ai/question with
the same question every time (cache hit) and with a new question every time (cache miss: the narrator composes the
answer from the report; with QCL_NARRATE_MODEL=true a model is loaded and narrates in the background meanwhile;
the mode is reported from /api/ai/status); ws_fanout: `concurrency` WebSocket subscribers on /api/ws, then 20 tasks
submitted one after another, each timed from its POST to its "queued" event at each subscriber. Each HTTP case runs
`requests` requests, or stops at `max_s`; latency is from sending a request to its whole answer, per request;
errors count non-2xx answers by status and failed connections by exception. The client and the server share the
machine's cores.

By default each client is closed-loop (its next request leaves as its answer arrives): N clients then offer as much
load as the server can take, and latency is mostly queueing (a thousand such clients at p95 250 ms need about 4,000
requests/s). With `think_s` a client waits a random time (exponential, mean `think_s`, seeded) before each request,
the first one included, as a person between two clicks does: N users then offer about N / think_s requests/s, and
latency is what each of them sees. The result reports the offered rate beside the served one.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from qcl.qubic.synth import generate_lines

WS_EVENTS = 20  # events timed per subscriber in ws_fanout

CASES = ("network_latest", "ai_status", "question_cache_hit", "question_cache_miss", "ws_fanout")
_URL = re.compile(r"qcl up: api\s+(http://\S+)")


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


class StackProcess:
    """`qcl up` as a child process fed a calm synthetic capture of `hours`, replayed at `speed` (0: as fast as it
    goes); `env` and `args` add to its environment and command line. Stopped with Ctrl-C (SIGINT) as a user would."""

    def __init__(
        self,
        state_dir: Path,
        progress: Callable[[str], None],
        *,
        hours: float = 0.5,
        speed: float = 0,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        start_timeout_s: float = 120,
    ) -> None:
        capture = state_dir / "calm.jsonl"
        capture.write_text("\n".join(generate_lines(start=datetime(2025, 11, 8, tzinfo=UTC), hours=hours)) + "\n")
        unlimited = "1000000"
        env = {
            **os.environ,
            "QCL_STATE_DIR": str(state_dir),
            "QCL_PORT": "0",
            "QCL_RATE_LIMIT_KEY_PER_S": unlimited,
            "QCL_RATE_LIMIT_KEY_BURST": unlimited,
            "QCL_RATE_LIMIT_IP_PER_S": unlimited,
            "QCL_RATE_LIMIT_IP_BURST": unlimited,
            "QCL_WS_PER_KEY_MAX": unlimited,  # ws_fanout's subscribers share one key
            "QCL_LOG_LEVEL": "WARNING",
            # Templates: the API's own cost (cache, narrator call, serialisation), not the model's seconds per answer.
            "QCL_NARRATE_MODEL": os.environ.get("QCL_NARRATE_MODEL", "false"),
            **(env or {}),
        }
        command = [sys.executable, "-m", "qcl.cli", "up", "--speed", f"{speed:g}", "--capture", str(capture), *args]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output: deque[str] = deque(maxlen=500)  # the tail: a soak's stack runs for days
        self._url: str | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(start_timeout_s) or self._url is None:
            self.stop()
            raise RuntimeError("qcl up did not print its API URL:\n" + "".join(list(self.output)[-30:]))
        self.url: str = self._url
        self.key: str = (state_dir / "admin.key").read_text().strip()
        progress(f"qcl up serving at {self.url}")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            match = _URL.search(line)
            if match:
                self._url = match.group(1)
                self._ready.set()
        self._ready.set()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(2)  # SIGINT: graceful shutdown
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


async def _load(
    url: str, key: str, case: str, concurrency: int, requests: int, max_s: float, think_s: float = 0.0
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    counter = itertools.count()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    deadline = time.perf_counter() + max_s
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    def request(client: httpx.AsyncClient, n: int) -> Any:
        if case == "network_latest":
            return client.get("/api/network/latest")
        if case == "ai_status":
            return client.get("/api/ai/status")
        question = "What is the price trend?" if case == "question_cache_hit" else f"What is the price trend? ({n})"
        return client.post("/api/ai/question", json={"question": question, "language": "en"})

    async def worker(client: httpx.AsyncClient, rng: random.Random) -> None:
        while True:
            if think_s > 0:  # a pause past the deadline would only stretch the run's time
                await asyncio.sleep(min(rng.expovariate(1 / think_s), max(0.0, deadline - time.perf_counter())))
            if (n := next(counter)) >= requests or time.perf_counter() >= deadline:
                return
            started = time.perf_counter()
            try:
                answer = await request(client, n)
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            if answer.status_code >= 300:
                errors[str(answer.status_code)] += 1

    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60.0) as client:
        if case == "question_cache_hit":  # fill the cache first; the hit case measures hits only
            await request(client, 0)
        started = time.perf_counter()
        rngs = [random.Random(seed) for seed in range(concurrency)]  # noqa: S311 - seeded pauses, not secrets
        await asyncio.gather(*(worker(client, rng) for rng in rngs))
        elapsed = time.perf_counter() - started
    done = len(latencies)
    return {
        "case": case,
        "concurrency": concurrency,
        "think_s": think_s,
        "offered_requests_per_s": round(concurrency / think_s, 1) if think_s > 0 else None,
        "requests": done,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(done / elapsed, 1) if elapsed > 0 else 0.0,
        "latency_ms_p50": round(_percentile(latencies, 50), 1) if latencies else None,
        "latency_ms_p95": round(_percentile(latencies, 95), 1) if latencies else None,
        "latency_ms_p99": round(_percentile(latencies, 99), 1) if latencies else None,
        "errors": dict(errors),
    }


async def _fanout(url: str, key: str, subscribers: int, max_s: float) -> dict[str, Any]:
    """`subscribers` WebSockets; each of WS_EVENTS task submissions timed from its POST to its event at each."""
    from websockets.asyncio.client import connect

    sent: dict[str, float] = {}
    errors: Counter[str] = Counter()
    ws_url = url.replace("http://", "ws://") + "/api/ws"

    received: list[tuple[str, float]] = []  # (task id, when), matched with `sent` at the end

    async def subscriber(ready: asyncio.Event) -> None:
        try:
            async with connect(ws_url, additional_headers={"Authorization": f"Bearer {key}"}, open_timeout=60) as ws:
                await ws.recv()  # hello
                ready.set()
                seen = 0
                while seen < WS_EVENTS:
                    message = json.loads(await asyncio.wait_for(ws.recv(), timeout=max_s))
                    if message["type"] == "task" and message["data"]["state"] == "queued":
                        received.append((message["data"]["id"], time.perf_counter()))
                        seen += 1
        except Exception as exc:
            errors[type(exc).__name__] += 1
            ready.set()

    readies = [asyncio.Event() for _ in range(subscribers)]
    tasks = [asyncio.create_task(subscriber(ready)) for ready in readies]
    for ready in readies:
        await ready.wait()
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        for _ in range(WS_EVENTS):
            before = time.perf_counter()
            answer = await client.post("/api/tasks", json={"kind": "narration", "language": "en"})
            if answer.status_code != 202:
                errors[str(answer.status_code)] += 1
                continue
            sent[answer.json()["id"]] = before
            await asyncio.sleep(0.25)  # events apart, as a live network's are
    await asyncio.wait(tasks, timeout=max_s)
    for task in tasks:
        task.cancel()
    latencies = [(at - sent[task_id]) * 1000 for task_id, at in received if task_id in sent]
    missing = subscribers * WS_EVENTS - len(latencies) - sum(errors.values())
    if missing > 0:
        errors["event_not_received"] += missing
    return {
        "case": "ws_fanout",
        "concurrency": subscribers,
        "requests": len(latencies),
        "seconds": round(time.perf_counter() - started, 2),
        "requests_per_s": round(len(latencies) / (time.perf_counter() - started), 1),
        "latency_ms_p50": round(_percentile(latencies, 50), 1) if latencies else None,
        "latency_ms_p95": round(_percentile(latencies, 95), 1) if latencies else None,
        "latency_ms_p99": round(_percentile(latencies, 99), 1) if latencies else None,
        "errors": dict(errors),
    }


def wait_for_analysis(url: str, key: str, timeout_s: float = 60.0) -> dict[str, Any]:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if client.get("/api/network/latest").status_code == 200:
                status: dict[str, Any] = client.get("/api/ai/status").json()
                return status
            time.sleep(0.2)
    raise RuntimeError(f"no analysis report reached the API within {timeout_s:.0f} s")


def run_api_bench(
    *,
    requests: int = 3000,
    concurrency: list[int] | None = None,
    max_s: float = 30.0,
    cases: tuple[str, ...] = CASES,
    think_s: float = 0.0,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    levels = concurrency or [100, 1000]
    with tempfile.TemporaryDirectory(prefix="qcl-bench-api-") as tmp:
        server = StackProcess(Path(tmp), progress)
        try:
            status = wait_for_analysis(server.url, server.key)
            results = []
            for case in cases:
                for level in levels:
                    if case == "ws_fanout":
                        row = asyncio.run(_fanout(server.url, server.key, level, max_s))
                    else:
                        row = asyncio.run(_load(server.url, server.key, case, level, requests, max_s, think_s))
                    progress(f"{case:<20} c={level:<5} {row['requests_per_s']:>8.1f} req/s  errors {row['errors']}")
                    results.append(row)
        finally:
            server.stop()
    return {
        "suite": "api",
        "server": "qcl up: uvicorn, the Flask app on worker threads (qcl.api.server), embedded memory bus and store",
        "client": "httpx.AsyncClient in a separate process, one connection per client, on loopback",
        "think_s": think_s,
        "narration": status.get("narration"),
        "narration_note": {
            "model": "a model was loaded (and narrating reports); JSON answers are composed without waiting for it",
            "templates": "the narrator answered from templates (QCL_NARRATE_MODEL=false, or no model could load)",
            "absent": "no narrator in this stack: /api/ai/question answered 503 (counted in errors)",
        }.get(str(status.get("narration")), ""),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "requests_per_case": requests,
        "max_s_per_case": max_s,
        "results": results,
    }

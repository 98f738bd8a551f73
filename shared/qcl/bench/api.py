"""`qcl bench api`: load on `qcl up`'s HTTP API over loopback, from a bounded async client in another process.

    qcl bench api --json                      # 100 and 1,000 concurrent clients, 3,000 requests per case
    qcl bench api --concurrency 10 --requests 200

The server is a real `qcl up` (a child process, port picked free, state in a temporary directory, rate limits
raised so that they do not cap the measurement) fed a short calm capture, so that the pipeline is idle while the
API is loaded. Cases: GET /api/network/latest (a cached read), GET /api/ai/status, POST /api/ai/question with
the same question every time (cache hit) and with a new question every time (cache miss: the narrator composes the
answer from the report; with QCL_NARRATE_MODEL=true a model is loaded and narrates in the background meanwhile;
the mode is reported from /api/ai/status). Each case runs
`requests` requests, or stops at `max_s`; latency is from sending a request to its whole answer, per request;
errors count non-2xx answers by status and failed connections by exception. The client and the server share the
machine's cores.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from qcl.qubic.synth import generate_lines

CASES = ("network_latest", "ai_status", "question_cache_hit", "question_cache_miss")
_URL = re.compile(r"qcl up: api\s+(http://\S+)")


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


class _Server:
    """`qcl up` as a child process; stopped with Ctrl-C (SIGINT) as a user would."""

    def __init__(self, state_dir: Path, progress: Callable[[str], None]) -> None:
        capture = state_dir / "calm.jsonl"
        capture.write_text("\n".join(generate_lines(start=datetime(2025, 11, 8, tzinfo=UTC), hours=0.5)) + "\n")
        unlimited = "1000000"
        env = {
            **os.environ,
            "QCL_STATE_DIR": str(state_dir),
            "QCL_PORT": "0",
            "QCL_RATE_LIMIT_KEY_PER_S": unlimited,
            "QCL_RATE_LIMIT_KEY_BURST": unlimited,
            "QCL_RATE_LIMIT_IP_PER_S": unlimited,
            "QCL_RATE_LIMIT_IP_BURST": unlimited,
            "QCL_LOG_LEVEL": "WARNING",
            # Templates: the API's own cost (cache, narrator call, serialisation), not the model's seconds per answer.
            "QCL_NARRATE_MODEL": os.environ.get("QCL_NARRATE_MODEL", "false"),
        }
        command = [sys.executable, "-m", "qcl.cli", "up", "--speed", "0", "--capture", str(capture)]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output: list[str] = []
        self._url: str | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(120) or self._url is None:
            self.stop()
            raise RuntimeError("qcl up did not print its API URL:\n" + "".join(self.output[-30:]))
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


async def _load(url: str, key: str, case: str, concurrency: int, requests: int, max_s: float) -> dict[str, Any]:
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

    async def worker(client: httpx.AsyncClient) -> None:
        while (n := next(counter)) < requests and time.perf_counter() < deadline:
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
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    done = len(latencies)
    return {
        "case": case,
        "concurrency": concurrency,
        "requests": done,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(done / elapsed, 1) if elapsed > 0 else 0.0,
        "latency_ms_p50": round(_percentile(latencies, 50), 1) if latencies else None,
        "latency_ms_p95": round(_percentile(latencies, 95), 1) if latencies else None,
        "latency_ms_p99": round(_percentile(latencies, 99), 1) if latencies else None,
        "errors": dict(errors),
    }


def _wait_for_analysis(url: str, key: str, timeout_s: float = 60.0) -> dict[str, Any]:
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
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    levels = concurrency or [100, 1000]
    with tempfile.TemporaryDirectory(prefix="qcl-bench-api-") as tmp:
        server = _Server(Path(tmp), progress)
        try:
            status = _wait_for_analysis(server.url, server.key)
            results = []
            for case in cases:
                for level in levels:
                    row = asyncio.run(_load(server.url, server.key, case, level, requests, max_s))
                    progress(f"{case:<20} c={level:<5} {row['requests_per_s']:>8.1f} req/s  errors {row['errors']}")
                    results.append(row)
        finally:
            server.stop()
    return {
        "suite": "api",
        "server": "qcl up: Werkzeug threaded WSGI server, embedded memory bus and store",
        "client": "httpx.AsyncClient in a separate process, one connection per client, on loopback",
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

"""Real backends for the shared test suites: the Pub/Sub emulator, a redis-server and moto's AWS server.

Where a real component is missing the tests that need it skip with the reason, except where
REQUIRE_REAL_SERVICES=1 (set by .ci/run): there a missing component fails the run instead of hiding it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from qcl.bus.emulator import PubSubEmulator, free_port, is_listening, unavailable_reason
from qcl.obs.monitor import OpsMonitor


def missing(reason: str) -> None:
    if os.environ.get("REQUIRE_REAL_SERVICES") == "1":
        pytest.fail(f"a real component CI must test is missing: {reason}")
    pytest.skip(reason)


def start_emulator() -> Iterator[PubSubEmulator]:
    reason = unavailable_reason()
    if reason:
        missing(reason)
    with PubSubEmulator() as emulator:
        yield emulator


def redis_url() -> Iterator[str]:
    """The machine's redis-server on 127.0.0.1:6379, or one started for the session on a free port."""
    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        yield url
        return
    except redis.RedisError:
        pass
    server = shutil.which("redis-server")
    if server is None:
        missing("redis-server is not installed and nothing answers on 127.0.0.1:6379")
    port = free_port()
    process = subprocess.Popen(
        [str(server), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    for _ in range(50):
        try:
            client.ping()
            break
        except redis.RedisError:
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


def start_moto() -> Iterator[str]:
    """moto's AWS server (SNS, SQS, STS over HTTP, as AWS answers them) as its own process on a free port; yields
    its endpoint URL for AWS_ENDPOINT_URL."""
    server = Path(sys.executable).with_name("moto_server")
    if not server.exists():
        missing("moto's server is not installed (pip install 'moto[server]'; make setup does)")
    port = free_port()
    process = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        if not wait_for(lambda: is_listening(f"127.0.0.1:{port}"), timeout_s=30, interval_s=0.1):
            pytest.fail(f"moto's server did not listen on 127.0.0.1:{port} within 30 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def wait_for(predicate: Callable[[], bool], timeout_s: float = 15.0, interval_s: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()


def start_ops_monitor(state: Path) -> Iterator[OpsMonitor]:
    if not (shutil.which("prometheus") and shutil.which("prometheus-alertmanager")):
        missing("prometheus or prometheus-alertmanager is not installed")
    (state / "key").write_text("unused\n")
    root = Path(__file__).resolve().parents[1]
    ops = OpsMonitor(
        state,
        rules=root / "ops/prometheus/alerts.yml",
        routes=root / "ops/alertmanager/alertmanager.yml",
        key_file=state / "key",
    )
    ops.start("http://127.0.0.1:9", {})
    try:
        deadline = time.monotonic() + 30
        while not httpx.get(f"{ops.prometheus_url}/api/v1/rules").json()["data"]["groups"]:
            assert time.monotonic() < deadline, "Prometheus did not load the rules"
            time.sleep(0.2)
        yield ops
    finally:
        ops.stop()

"""`qcl shard serve`, `qcl shard pool up`, `qcl shard plan` and `qcl bench shard` as an operator runs them."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from qcl.bus.emulator import free_port
from qcl.shard.client import check_health, fetch_record
from qcl.shard.registry import ShardRegistry
from qcl.store.redis import RedisStore
from tests.backends import wait_for

MODEL = "tiny-random-qwen2"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    # Plaintext on loopback: these check the commands' other behaviour; mTLS has its own suite (test_shard_tls.py,
    # which also shows `qcl shard serve` without a certificate refusing to start).
    state, models = str(tmp_path / "state"), str(tmp_path / "models")
    return {**os.environ, "QCL_STATE_DIR": state, "QCL_MODEL_CACHE_DIR": models, "QCL_SHARD_TLS": "false"}


class Running:
    """A command in the background with its output collected line by line."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        self.lines.extend(iter(self.process.stdout.readline, ""))

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self._reader.join(timeout=5)


@pytest.fixture
def running() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for command in started:
        command.stop()


def _qcl(*args: str) -> list[str]:
    return [sys.executable, "-m", "qcl.cli", *args]


def test_the_shard_container_serves_its_layers_with_the_health_service_and_stops_on_sigterm(
    env: dict[str, str], running: list[Running]
) -> None:
    port = free_port()
    main = str(ROOT / "containers" / "shard" / "main.py")
    shard = Running(
        [sys.executable, main, "--model", MODEL, "--layers", "0:2", "--port", str(port), "--host", "127.0.0.1"], env
    )
    running.append(shard)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        assert wait_for(lambda: check_health(channel), timeout_s=120), shard.output
        record = fetch_record(channel, timeout_s=5)
        assert record.ranges == [(0, 2)] and record.model == MODEL and record.address == f"127.0.0.1:{port}"
    finally:
        channel.close()
    assert shard.stop() == 0
    assert "serving layers 0:2 of tiny-random-qwen2" in shard.output and "stopped" in shard.output


def test_serve_refuses_a_range_outside_the_model(env: dict[str, str]) -> None:
    result = subprocess.run(
        _qcl("shard", "serve", "--model", MODEL, "--layers", "0:5", "--port", "0"),
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "layers: expected a range A:B with 0 <= A < B <= 2 for tiny-random-qwen2, got 0:5" in result.stderr


def test_serve_refuses_a_model_not_in_the_registry(env: dict[str, str]) -> None:
    result = subprocess.run(
        _qcl("shard", "serve", "--model", "nope", "--layers", "0:1"), env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "model 'nope' is unavailable: not in the model registry; registered models: " in result.stderr


def test_serve_refuses_a_malformed_range(env: dict[str, str]) -> None:
    result = subprocess.run(_qcl("shard", "serve", "--layers", "ten:2"), env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert "layers: expected A:B with integers" in result.stderr


@pytest.mark.redis
def test_a_shard_with_a_redis_store_registers_itself_and_leaves_on_sigterm(
    env: dict[str, str], running: list[Running], redis_server_url: str
) -> None:
    prefix = f"qcl-shard-e2e-{uuid.uuid4().hex[:8]}:"
    port = free_port()
    shard_env = {**env, "QCL_STORE": "redis", "QCL_REDIS_URL": redis_server_url, "QCL_REDIS_PREFIX": prefix}
    shard = Running(
        _qcl("shard", "serve", "--model", MODEL, "--layers", "0:2", "--port", str(port), "--host", "127.0.0.1"),
        shard_env,
    )
    running.append(shard)
    store = RedisStore(redis_server_url, prefix=prefix)
    try:
        registry = ShardRegistry(store)
        assert wait_for(lambda: [r.address for r in registry.live()] == [f"127.0.0.1:{port}"], timeout_s=120), (
            shard.output
        )
        assert shard.stop() == 0
        assert registry.live() == []  # it left at once instead of timing out
    finally:
        store.clear()
        store.close()


@pytest.mark.slow
def test_pool_up_starts_every_stage_and_stops_them_on_sigterm(env: dict[str, str], running: list[Running]) -> None:
    pool = Running(_qcl("shard", "pool", "up", "--stages", "2", "--model", MODEL, "--threads", "1"), env)
    running.append(pool)
    assert wait_for(lambda: "running; QCL_SHARD_NODES=" in pool.output, timeout_s=240), pool.output
    addresses = re.findall(r"layers (\d+:\d+) on (127\.0\.0\.1:\d+)", pool.output)
    assert [layers for layers, _ in addresses] == ["0:1", "1:2"]
    channels = [grpc.insecure_channel(address) for _, address in addresses]
    try:
        assert all(check_health(channel, timeout_s=5) for channel in channels)
        assert pool.stop() == 0
        assert not any(check_health(channel, timeout_s=1) for channel in channels)
    finally:
        for channel in channels:
            channel.close()


@pytest.mark.slow
def test_bench_shard_reports_speed_identity_and_recovery(env: dict[str, str]) -> None:
    result = subprocess.run(
        _qcl("bench", "shard", "--model", MODEL, "--stages", "2", "--tokens", "12", "--threads", "1", "--json"),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["tokens_identical"] is True and figures["token_agreement"] == 1.0
    assert figures["tokens_identical_after_recovery"] is True and figures["adoptions"] == 1
    assert figures["ratio_sharded_over_single"] > 0 and figures["recovery_s"] > 0 and figures["recovery_cold_s"] > 0
    assert figures["wire_bytes_per_token"] > 0 and figures["stages"] == ["0:1", "1:2"]

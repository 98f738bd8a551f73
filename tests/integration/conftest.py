"""Fixtures that give each shared suite every backend: `bus` (memory, pubsub, sqs) and `store` (memory, redis)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from qcl.bus.base import Bus
from qcl.bus.emulator import PubSubEmulator
from qcl.bus.memory import MemoryBus
from qcl.obs.monitor import OpsMonitor
from qcl.store.base import Store
from qcl.store.memory import MemoryStore
from tests.backends import start_ops_monitor, unique


def make_bus(backend: str, request: pytest.FixtureRequest, *, max_attempts: int = 5) -> Bus:
    if backend == "memory":
        return MemoryBus(max_attempts=max_attempts)
    if backend == "sqs":
        os.environ.update(aws_environment(request.getfixturevalue("moto_endpoint")))
        from qcl.bus.sqs import SqsBus

        # Names of their own keep tests apart on one server; a nack comes back at once, as on the other backends.
        return SqsBus(unique("t") + "-", max_attempts=max_attempts, create_missing=True, retry_backoff_s=0)
    emulator: PubSubEmulator = request.getfixturevalue("pubsub_emulator")
    os.environ.update(emulator.env)
    from qcl.bus.pubsub import PubSubBus

    # A project per test keeps tests apart on one emulator.
    return PubSubBus(unique("qcl-t"), max_attempts=max_attempts, create_missing=True)


def make_store(backend: str, request: pytest.FixtureRequest) -> Store:
    if backend == "memory":
        return MemoryStore()
    from qcl.store.redis import RedisStore

    return RedisStore(request.getfixturevalue("redis_server_url"), prefix=unique("qcl-test:") + ":")


def aws_environment(endpoint: str) -> dict[str, str]:
    """boto3's settings for moto's server: its endpoint, a region, and the credentials moto accepts."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


@pytest.fixture(
    params=["memory", pytest.param("pubsub", marks=pytest.mark.emulator), pytest.param("sqs", marks=pytest.mark.aws)]
)
def bus(request: pytest.FixtureRequest) -> Iterator[Bus]:
    instance = make_bus(request.param, request)
    yield instance
    instance.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    instance = make_store(request.param, request)
    yield instance
    instance.clear()  # leave the shared server as we found it
    instance.close()


@pytest.fixture(scope="session")
def ops_monitor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpsMonitor]:
    """A real Prometheus (with ops/'s rules loaded) and Alertmanager, scraping nothing, for silences."""
    yield from start_ops_monitor(tmp_path_factory.mktemp("ops"))

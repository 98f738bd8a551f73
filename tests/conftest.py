"""Shared fixtures. Each test runs with QCL_* variables restored afterwards and the settings cache cleared."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from qcl.bus.emulator import PubSubEmulator
from qcl.config import settings
from tests.backends import redis_url, start_emulator


@pytest.fixture(autouse=True)
def _restore_environment() -> Iterator[None]:
    saved = dict(os.environ)
    settings.cache_clear()
    yield
    os.environ.clear()
    os.environ.update(saved)
    settings.cache_clear()


@pytest.fixture(scope="session")
def pubsub_emulator() -> Iterator[PubSubEmulator]:
    """A Pub/Sub emulator for the whole session (started on a free port, stopped at the end)."""
    yield from start_emulator()


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    yield from redis_url()

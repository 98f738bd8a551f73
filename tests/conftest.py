"""Shared fixtures. Each test runs with QCL_* variables restored afterwards and the settings cache cleared."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from qcl.bus.emulator import PubSubEmulator
from qcl.config import settings
from tests.backends import redis_url, start_emulator

_CREATED_MODEL_CACHE: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """One conversion of the default model per test session (about 40 s): every test and subprocess that loads it
    with default settings shares this cache. QCL_TEST_MODEL_CACHE_DIR keeps the cache across sessions."""
    if "QCL_MODEL_CACHE_DIR" not in os.environ:
        kept = os.environ.get("QCL_TEST_MODEL_CACHE_DIR")
        if not kept:
            kept = tempfile.mkdtemp(prefix="qcl-test-models-")
            _CREATED_MODEL_CACHE.append(kept)
        os.environ["QCL_MODEL_CACHE_DIR"] = kept


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _CREATED_MODEL_CACHE:
        shutil.rmtree(folder, ignore_errors=True)


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

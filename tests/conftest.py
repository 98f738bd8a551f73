"""Shared fixtures. Each test runs with QCL_* variables restored afterwards and the settings cache cleared."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator

import pytest

from qcl.bus.emulator import PubSubEmulator
from qcl.config import settings
from tests.backends import redis_url, start_emulator, start_moto

_CREATED_FOLDERS: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C reaches the processes tests start; models run on one thread; one conversion of the default model per
    test session (about 40 s): every test and subprocess that loads it with default settings shares this cache
    (xdist workers inherit the variable). QCL_TEST_MODEL_CACHE_DIR keeps the cache across sessions."""
    # A shell that starts a job in the background (`make test &`) ignores SIGINT in it, and every process it starts
    # inherits that: the tests that press Ctrl-C on `qcl up` would wait out their timeouts. Python's own handler is
    # reset to the default in each child, which then turns Ctrl-C into KeyboardInterrupt as a user's terminal does.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # The remote CLI's target (qcl.remote) must not come from the person running the tests: no QCL_API/QCL_API_KEY,
    # no profile, and a profiles file of the session's own (a `qcl keys` with no target acts on the local store).
    for name in ("QCL_API", "QCL_API_KEY", "QCL_PROFILE"):
        os.environ.pop(name, None)
    config_home = tempfile.mkdtemp(prefix="qcl-test-config-")
    _CREATED_FOLDERS.append(config_home)
    os.environ["XDG_CONFIG_HOME"] = config_home
    # One thread per model: 4 xdist workers and the processes they start share 2 cores, where a model's second
    # OpenMP (or llama.cpp) thread mostly waits at barriers for a core. Beside three busy processes, the llama.cpp
    # agreement test took 156 s with the default threads and 19 s with one. QCL_MODEL_THREADS and QCL_SHARD_THREADS
    # of 0 (the default) take this (config.cpu_threads); subprocesses inherit it.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if "QCL_MODEL_CACHE_DIR" not in os.environ:
        kept = os.environ.get("QCL_TEST_MODEL_CACHE_DIR")
        if not kept:
            kept = tempfile.mkdtemp(prefix="qcl-test-models-")
            _CREATED_FOLDERS.append(kept)
        os.environ["QCL_MODEL_CACHE_DIR"] = kept


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _CREATED_FOLDERS:
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


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's AWS server for the whole session: the "sqs" bus's SNS topics and SQS queues."""
    yield from start_moto()

"""Shared fixtures. Each test runs with QCL_* variables restored afterwards and the settings cache cleared."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from qcl.config import settings


@pytest.fixture(autouse=True)
def _restore_environment() -> Iterator[None]:
    saved = dict(os.environ)
    settings.cache_clear()
    yield
    os.environ.clear()
    os.environ.update(saved)
    settings.cache_clear()

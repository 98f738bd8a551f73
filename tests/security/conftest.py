"""The penetration suite's fixtures: the real API on the production server (uvicorn, qcl.api.server) over loopback.

`serve(**settings)` starts one with the given QCL_* settings (rate limits, CORS origins, ...) and stops it after
the test; the keys of every role are in `served.api.keys`, and `key(...)` makes more (revoked, expired, scoped).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from qcl.api.schemas import Role
from tests.integration.test_api_fixtures import Served, make_api, serving


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/security/" in str(item.path):
            item.add_marker(pytest.mark.security)


Serve = Callable[..., Served]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    with ExitStack() as stack:
        count = 0

        def start(*, server_options: dict[str, Any] | None = None, **settings: Any) -> Served:
            nonlocal count
            count += 1
            api = make_api(tmp_path / f"api{count}", start_stream=True, **settings)
            return stack.enter_context(serving(api, **(server_options or {})))

        yield start


@pytest.fixture
def served(serve: Serve) -> Served:
    return serve()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def client(served: Served, role: Role | None = None) -> httpx.Client:
    """An HTTP client of the served API, with the key of `role` (None: no key)."""
    headers = bearer(served.api.keys[role]) if role is not None else {}
    return httpx.Client(base_url=served.url, headers=headers, timeout=10)

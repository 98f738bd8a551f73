"""Log injection: a request field holding CR/LF, a forged JSON line or ANSI escapes cannot forge a log line.

The API's lines are JSON (qcl.obs.logging.CloudLoggingFormatter, what servers write and Cloud Logging reads): a
caller's text stays inside one field of one line, escaped. The field here is the OpenAI `user`, which the /v1
routes log with each completion; the request id a client sends is used only when it is plain.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from qcl.api.schemas import Role
from qcl.config import load_settings
from qcl.model.loading import load_model
from qcl.model.service import GenerationService
from qcl.obs.logging import CloudLoggingFormatter
from tests.integration.test_api_fixtures import Served, make_api, serving
from tests.security.conftest import bearer

pytestmark = pytest.mark.xdist_group("security_logs")

FORGED = '{"severity": "CRITICAL", "message": "forged: admin key leaked"}'
INJECTED = f"mallory\r\n{FORGED}\n\x1b[2K\x1b[31mred\x1b[0m\u2028end"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    models = load_settings(model_cache_dir=tmp_path_factory.mktemp("models"))
    tiny = load_model("tiny-random-llama", models, progress=None)
    with (
        GenerationService(tiny, result_cache=0) as generation,
        serving(make_api(tmp_path_factory.mktemp("api"), generation=generation, start_stream=True)) as running,
    ):
        yield running


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(CloudLoggingFormatter(service="api"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(level)


def entries(buffer: io.StringIO) -> list[dict[str, Any]]:
    """Every line of the log as JSON (a line that is not is a forged or broken one: the test fails on it)."""
    return [json.loads(line) for line in buffer.getvalue().split("\n") if line]


def test_cr_lf_and_ansi_escapes_in_a_request_field_stay_in_one_json_field(
    served: Served, json_log: io.StringIO
) -> None:
    answer = httpx.post(
        f"{served.url}/v1/chat/completions",
        headers=bearer(served.api.keys[Role.OPERATOR]),
        json={
            "model": "tiny-random-llama",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 2,
            "user": INJECTED,
        },
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    logged = entries(json_log)
    carrying = [entry for entry in logged if "mallory" in entry["message"]]
    assert len(carrying) == 1 and INJECTED in carrying[0]["message"]  # whole, in the message field, verbatim
    assert carrying[0]["request_id"] == answer.headers["x-request-id"]
    assert [entry for entry in logged if entry.get("severity") == "CRITICAL"] == []
    assert "\x1b" not in json_log.getvalue() and "\r" not in json_log.getvalue()  # escaped, never raw


def test_a_request_id_that_is_not_plain_is_replaced_not_logged(served: Served, json_log: io.StringIO) -> None:
    """Control characters in a header are refused by the HTTP parser (400) before the app; quotes, braces and
    spaces reach it, and the id is then a new one."""
    assert httpx.get(f"{served.url}/api/health", headers={"X-Request-Id": "abc\x1b[31m"}).status_code == 400
    sent = '", "severity": "CRITICAL", "x": "{}'

    answer = httpx.get(f"{served.url}/api/no-such-route", headers={"X-Request-Id": sent})
    assert answer.status_code == 404 and answer.headers["x-request-id"] != sent
    assert answer.json()["error"]["request_id"] == answer.headers["x-request-id"]
    assert all(entry.get("request_id") != sent for entry in entries(json_log))

"""http.* connectors against a real HTTP server on loopback: answers, HTTP errors as tagged errors, retries."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from qcl.store.memory import MemoryStore
from tests.integration.workflow_fixtures import make_service


class Flaky(BaseHTTPRequestHandler):
    busy_left: ClassVar[int] = 0

    def do_GET(self) -> None:
        if self.path.startswith("/busy") and Flaky.busy_left > 0:
            Flaky.busy_left -= 1
            self._answer(503, {"error": "busy"})
        elif self.path.startswith("/missing"):
            self._answer(404, {"error": "nothing here"})
        else:
            self._answer(200, {"path": self.path, "agent": self.headers.get("X-Test", "")})

    def _answer(self, status: int, body: dict[str, str]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


GET = """
main:
  params: [args]
  steps:
    - fetch:
        try:
          call: http.get
          args:
            url: ${args.url}
            query:
              q: "1"
            headers:
              X-Test: qcl
          result: answer
        retry:
          predicate: ${http.default_retry_predicate}
          max_retries: 3
          backoff: {initial_delay: 0.01, max_delay: 0.05, multiplier: 2}
        except:
          as: e
          steps:
            - failed:
                return: ${[e.tags, default(map.get(e, "code"), 0)]}
    - done:
        return: ${[answer.code, answer.body.path, answer.body.agent]}
"""


def run(url: str) -> object:
    service = make_service(MemoryStore(), None)
    service.deploy("get", GET)
    record = service.run("get", {"url": url}, wait_s=30)
    assert record["state"] == "succeeded", record["error"]
    return record["result"]


def test_http_get_returns_code_and_decoded_body(base_url: str) -> None:
    assert run(f"{base_url}/ok") == [200, "/ok?q=1", "qcl"]


def test_a_503_is_retried_by_the_default_predicate(base_url: str) -> None:
    Flaky.busy_left = 2
    assert run(f"{base_url}/busy") == [200, "/busy?q=1", "qcl"]
    assert Flaky.busy_left == 0


def test_a_404_is_an_http_error_with_its_code_and_not_retried(base_url: str) -> None:
    assert run(f"{base_url}/missing") == [["HttpError"], 404]


def test_a_refused_connection_is_a_connection_error() -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert run(f"http://127.0.0.1:{port}/") == [["ConnectionError"], 0]

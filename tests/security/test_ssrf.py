"""SSRF: no route makes the server fetch the cloud metadata server or a link-local address for a caller.

The one place a caller chooses a URL the server fetches is a workflow's http.* step (an operator deploys the
source and runs it over POST /api/workflows). Alert channels, the Alertmanager, Prometheus, RPC and OIDC URLs are
settings of whoever runs the service, not request input. Every URL below is refused before a connection is made,
directly or at a redirect; loopback stays reachable (the embedded stack's workflows call this machine).
"""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import httpx
import pytest

from qcl.api.schemas import Role
from tests.integration.test_api_fixtures import Served
from tests.security.conftest import bearer

FETCH = """
main:
  params: [args]
  steps:
    - fetch:
        try:
          call: http.get
          args:
            url: ${args.url}
            headers:
              Metadata-Flavor: Google
            timeout: 3
          result: answer
        except:
          as: e
          steps:
            - failed:
                return: ${[e.tags, e.message]}
    - done:
        return: ${[["ok"], answer.code]}
"""


class Redirecting(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/ok":
            self.send_response(200)
            self.end_headers()
            return
        self.send_response(302)
        self.send_header("Location", "http://169.254.169.254/computeMetadata/v1/instance/service-accounts/")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def redirector() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def fetch(served: Served, url: str) -> list[Any]:
    key = bearer(served.api.keys[Role.OPERATOR])
    deployed = httpx.post(f"{served.url}/api/workflows", headers=key, json={"name": "fetch", "source": FETCH})
    assert deployed.status_code in (200, 201), deployed.text
    ran = httpx.post(
        f"{served.url}/api/workflows/fetch/executions", headers=key, json={"argument": {"url": url}, "wait_s": 20}
    )
    assert ran.status_code == 200 and ran.json()["state"] == "succeeded", ran.text
    result: list[Any] = ran.json()["result"]
    return result


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
    ],
)
def test_a_workflow_cannot_fetch_the_metadata_server_or_link_local_addresses(served: Served, url: str) -> None:
    tags, message = fetch(served, url)
    assert tags == ["ValueError"] and "refused to call" in message


def test_a_redirect_to_the_metadata_server_is_refused_at_the_hop(served: Served, redirector: str) -> None:
    tags, message = fetch(served, f"{redirector}/bounce")
    assert tags == ["ValueError"] and "169.254.169.254" in message and "link-local" in message


def test_loopback_stays_reachable(served: Served, redirector: str) -> None:
    assert fetch(served, f"{redirector}/ok") == [["ok"], 200]

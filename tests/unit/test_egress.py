"""qcl.egress: which addresses a process may call on a user's behalf."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import httpx
import pytest

from qcl.egress import EgressRefused, egress_client, guard, refusal


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://169.254.169.254/computeMetadata/v1/", "169.254.169.254 is link-local"),
        ("http://metadata.google.internal./computeMetadata/v1/", "metadata.google.internal is the cloud metadata"),
        ("http://METADATA/", "metadata is the cloud metadata server"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
        ("http://[fe80::1]/", "fe80::1 is link-local"),
        ("http://0.0.0.0:8080/", "0.0.0.0 is unspecified"),
        ("http://224.0.0.1/", "224.0.0.1 is multicast"),
        ("http://240.0.0.1/", "240.0.0.1 is reserved"),
    ],
)
def test_metadata_and_link_local_addresses_are_refused_saying_why(url: str, why: str) -> None:
    assert why in (refusal(url) or "")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/", "http://localhost/", "http://10.1.2.3/", "https://[::1]/"])
def test_loopback_and_private_networks_stay_reachable(url: str) -> None:
    assert refusal(url) is None


def test_an_unresolvable_name_is_left_to_fail_as_a_connection_error() -> None:
    assert refusal("http://no-such-host.invalid/") is None


def test_the_request_hook_refuses_before_connecting() -> None:
    with pytest.raises(EgressRefused, match=r"refused to call 169\.254\.169\.254"):
        guard(httpx.Request("GET", "http://169.254.169.254/"))
    guard(httpx.Request("GET", "http://127.0.0.1/"))


@pytest.fixture
def loopback() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 answering 200 "here"."""

    class Here(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"here")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Here)
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://rebind.test:{server.server_address[1]}/"
    server.shutdown()


def test_a_name_that_rebinds_to_the_metadata_server_after_the_check_is_refused_at_the_connection(
    loopback: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name resolves to loopback for the request hook, then to 169.254.169.254 (TTL 0). The
    connection resolves once more and must refuse what it would connect to, not trust the hook's answer."""
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1"])

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        address = next(answers, "169.254.169.254")
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with egress_client(timeout=3) as http, pytest.raises(EgressRefused, match=r"resolves to 169\.254\.169\.254"):
        http.get(loopback)


def test_the_checked_connection_reaches_the_address_it_checked(loopback: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def to_loopback(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == "rebind.test" else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", to_loopback)
    with egress_client(timeout=3) as http:
        answer = http.get(loopback)
    assert answer.status_code == 200 and answer.text == "here"

"""Where the processes may send HTTP on a user's behalf: never to the cloud metadata server or link-local addresses.

    refusal("http://169.254.169.254/computeMetadata/v1/")   # -> "169.254.169.254 is link-local (...)"
    http = egress_client(timeout=30.0, follow_redirects=True)  # checks every hop, and the address it connects to

A workflow's http.* steps fetch URLs its author wrote (qcl.workflows.connectors). On GCP the metadata server
(169.254.169.254, metadata.google.internal) hands the service account's access token to any local caller that
sends `Metadata-Flavor: Google`, so a step could read it and return it in its result: that is refused, as are all
link-local (IPv4 169.254/16, IPv6 fe80::/10), unspecified, multicast and reserved addresses, by name or after
resolving it. Loopback and private networks stay reachable: the embedded stack's workflows call services on this
machine and the VPC.

Two checks: a request hook refuses each hop's URL before anything is sent (with a message naming the host), and
the connection itself resolves the name once and connects only to the address it has just checked. A name that
resolves to an allowed address for the hook and to the metadata server a moment later (DNS rebinding, a TTL of 0)
is refused at the connection, where the check and the connect use the same answer.
"""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import httpcore
import httpx

from qcl.errors import QclError

METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata"})


class EgressRefused(QclError, httpx.RequestError):
    """A request to an address this process must not call on a user's behalf."""


def refusal(url: str) -> str | None:
    """Why `url` may not be fetched, or None when it may."""
    host = httpx.URL(url).host.lower().rstrip(".")
    if host in METADATA_HOSTS:
        return f"{host} is the cloud metadata server"
    try:
        addresses = [ip_address(host)]
    except ValueError:
        try:
            found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError):
            return None  # unresolvable: the request fails as a connection error, as before
        addresses = [ip_address(str(info[4][0]).split("%")[0]) for info in found]
    for address in addresses:
        why = _forbidden(address)
        if why:
            return f"{host} is {why}" if str(address) == host else f"{host} resolves to {address}, {why}"
    return None


def _forbidden(address: IPv4Address | IPv6Address) -> str | None:
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:  # ::ffff:169.254.169.254
        address = address.ipv4_mapped
    if address.is_link_local:
        return "link-local (the metadata server's range)"
    if address.is_loopback:  # before `reserved`: IPv6's ::1 is in the reserved ::/8
        return None
    for kind in ("unspecified", "multicast", "reserved"):
        if getattr(address, f"is_{kind}"):
            return kind
    return None


class _CheckedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to an address it has checked (TLS still verifies the name)."""

    def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"{host}: {exc}") from exc
        addresses = [ip_address(str(info[4][0]).split("%")[0]) for info in found]
        for address in addresses:
            why = _forbidden(address)
            if why:
                raise EgressRefused(f"refused to connect to {host}: it resolves to {address}, {why}")
        return super().connect_tcp(str(addresses[0]), port, *args, **kwargs)


def egress_client(**options: Any) -> httpx.Client:
    """An httpx client for URLs a user chose: `guard` on every hop, and connections only to checked addresses."""
    transport = httpx.HTTPTransport()
    pool = transport._pool  # httpx takes no network backend; httpcore's pool keeps it here (a test proves it works)
    if not isinstance(pool, httpcore.ConnectionPool):
        raise TypeError(f"qcl.egress: unexpected httpx pool {type(pool).__name__}")
    pool._network_backend = _CheckedBackend()
    return httpx.Client(transport=transport, event_hooks={"request": [guard]}, **options)


def guard(request: httpx.Request) -> None:
    """An httpx request hook: refuse a forbidden address before connecting (every redirect hop passes here)."""
    why = refusal(str(request.url))
    if why:
        raise EgressRefused(f"refused to call {request.url.host}: {why}", request=request)

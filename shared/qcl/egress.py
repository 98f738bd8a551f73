"""Where the processes may send HTTP on a user's behalf: never to the cloud metadata server or link-local addresses.

    refusal("http://169.254.169.254/computeMetadata/v1/")   # -> "169.254.169.254 is link-local (...)"
    client = httpx.Client(event_hooks={"request": [guard]})   # checks every hop, redirects included

A workflow's http.* steps fetch URLs its author wrote (qcl.workflows.connectors). On GCP the metadata server
(169.254.169.254, metadata.google.internal) hands the service account's access token to any local caller that
sends `Metadata-Flavor: Google`, so a step could read it and return it in its result: that is refused, as are all
link-local (IPv4 169.254/16, IPv6 fe80::/10), unspecified, multicast and reserved addresses, by name or after
resolving it. Loopback and private networks stay reachable: the embedded stack's workflows call services on this
machine and the VPC. A name resolved here may resolve differently when the request connects (DNS rebinding); the
hook sees every redirect hop, not that.
"""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, IPv6Address, ip_address

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


def guard(request: httpx.Request) -> None:
    """An httpx request hook: refuse a forbidden address before connecting (every redirect hop passes here)."""
    why = refusal(str(request.url))
    if why:
        raise EgressRefused(f"refused to call {request.url.host}: {why}", request=request)

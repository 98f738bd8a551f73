"""Who may reach the API at all: the client's address against the allow and deny lists, and rate limits.

Deny wins over allow; an empty allow list allows every address that is not denied. The client address is the
socket's peer, or, behind `trusted_proxy_hops` proxies (Cloud Run's front end is one), the address those proxies
recorded in X-Forwarded-For (Werkzeug's ProxyFix reads it; a client cannot forge the hops the proxies append).
Rate limits are token buckets in the store, so every instance draws from the same bucket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address

from qcl.store.base import Store

Network = IPv4Network | IPv6Network


@dataclass(frozen=True)
class IpLists:
    allow: Sequence[Network]
    deny: Sequence[Network]

    def refusal(self, address: str | None) -> str | None:
        """Why `address` is refused, or None when it may pass."""
        try:
            ip = ip_address((address or "").split("%")[0])  # drop an IPv6 zone id
        except ValueError:
            return f"client address {address!r} is not an IP address" if (self.allow or self.deny) else None
        if ip.version == 6 and ip.ipv4_mapped is not None:  # ::ffff:10.0.0.1 is 10.0.0.1
            ip = ip.ipv4_mapped
        if any(ip in network for network in self.deny if network.version == ip.version):
            return f"client address {ip} is in a denied network"
        if self.allow and not any(ip in network for network in self.allow if network.version == ip.version):
            return f"client address {ip} is not in an allowed network"
        return None


@dataclass(frozen=True)
class RateLimit:
    per_s: float
    burst: int

    def wait_s(self, store: Store, bucket: str) -> float:
        """0.0 when a request may pass now, else the seconds until it may (the request is not counted)."""
        return store.take_tokens(f"ratelimit:{bucket}", capacity=self.burst, refill_per_s=self.per_s)

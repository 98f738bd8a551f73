"""Who may reach the API at all: the client's address against the allow and deny lists, and rate limits; and
whose tasks and jobs a caller may see.

Deny wins over allow; an empty allow list allows every address that is not denied. The client address is the
socket's peer, or, behind `trusted_proxy_hops` proxies (Cloud Run's front end is one), the address those proxies
recorded in X-Forwarded-For (Werkzeug's ProxyFix reads it; a client cannot forge the hops the proxies append).
Rate limits are token buckets in the store, so every instance draws from the same bucket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any

from qcl.store.base import Store
from qcl.store.keys import RATE_LIMIT

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
        return store.take_tokens(RATE_LIMIT.key(bucket=bucket), capacity=self.burst, refill_per_s=self.per_s)


def sees(caller: Any, owner: str | None) -> bool:
    """Whether `caller` (a key record or session: `id`, `role`) may see what `owner` (a key id; None: nobody in
    particular) submitted: its own, and an admin everyone's. Another's answers 404, as if it did not exist."""
    admin = caller.role == "admin"  # Role.ADMIN (qcl.api.schemas imports this module, so not the other way)
    return owner is None or caller.id == owner or admin


def forget_key_bucket(store: Store, key_id: str) -> None:
    """Drop a key's rate-limit bucket (an erasure: its name holds the key id); a later request starts a full one."""
    store.delete(RATE_LIMIT.key(bucket=f"key:{key_id}"))

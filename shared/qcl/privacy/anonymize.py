"""Client addresses cut to their network before they are written (logs, the audit trail), as Google Analytics'
anonymize_ip does: an IPv4 address keeps its /24 (the last octet zeroed), an IPv6 address its /48.

    anonymize_ip("203.0.113.77")          # "203.0.113.0"
    anonymize_ip("2001:db8:1234:5678::1")  # "2001:db8:1234::"

/24 and /48 are the prefixes a site or a provider is assigned (RIPE-690 for IPv6): what is left names a network,
not a subscriber. An IPv4 address mapped into IPv6 (::ffff:203.0.113.77) is an IPv4 client and is cut as one.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

IPV4_PREFIX = 24
IPV6_PREFIX = 48


def anonymize_ip(address: str) -> str:
    """The network part of `address`; a value that is not an IP address (a Unix socket's peer, "unknown") is
    replaced by "invalid", never written as given (it may be anything a client sent through a proxy header)."""
    try:
        ip: IPv4Address | IPv6Address = ip_address(address.split("%")[0].strip())  # drop an IPv6 zone id
    except ValueError:
        return "invalid"
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return str(ip_network(f"{ip}/{prefix}", strict=False).network_address)


def client_address(address: str | None, *, anonymize: bool) -> str | None:
    """What a log line or an audit entry records of a client's address (QCL_ANONYMIZE_IP says whether to cut it)."""
    if not address:
        return None
    return anonymize_ip(address) if anonymize else address

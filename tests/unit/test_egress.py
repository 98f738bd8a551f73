"""qcl.egress: which addresses a process may call on a user's behalf."""

from __future__ import annotations

import httpx
import pytest

from qcl.egress import EgressRefused, guard, refusal


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

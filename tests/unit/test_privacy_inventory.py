"""The inventory of personal data (qcl.privacy.inventory) against the key registry and the settings, and the IP
anonymisation every log line and audit entry goes through.

.venv/bin/pytest tests/unit/test_privacy_inventory.py
"""

from __future__ import annotations

import re

import pytest

from qcl.config import Settings
from qcl.privacy.anonymize import anonymize_ip, client_address
from qcl.privacy.inventory import INVENTORY, KINDS
from qcl.store.keys import FAMILIES


@pytest.mark.parametrize(
    ("address", "kept"),
    [
        ("203.0.113.77", "203.0.113.0"),  # IPv4: its /24
        ("10.1.2.255", "10.1.2.0"),
        ("2001:db8:1234:5678:9abc::1", "2001:db8:1234::"),  # IPv6: its /48
        ("fe80::1%eth0", "fe80::"),  # a zone id is dropped
        ("::ffff:198.51.100.9", "198.51.100.0"),  # an IPv4 client mapped into IPv6 is cut as IPv4
    ],
)
def test_an_address_is_cut_to_its_network(address: str, kept: str) -> None:
    assert anonymize_ip(address) == kept


def test_a_value_that_is_not_an_address_is_never_written_as_given() -> None:
    assert anonymize_ip("<script>alert(1)</script>") == "invalid"


def test_anonymisation_can_be_turned_off_and_a_missing_address_stays_missing() -> None:
    assert client_address("203.0.113.77", anonymize=False) == "203.0.113.77"
    assert client_address("203.0.113.77", anonymize=True) == "203.0.113.0"
    assert client_address(None, anonymize=True) is None


def test_every_store_family_of_a_key_is_in_the_inventory() -> None:
    listed = {family.pattern for kind in INVENTORY for family in kind.families}
    per_key = {family.pattern for family in FAMILIES if "{key_id}" in family.pattern}
    assert per_key - listed == set(), "a family holding a key's data says nowhere how long it lives"


def test_the_inventory_names_only_registered_families_and_unique_kinds() -> None:
    registered = {id(family) for family in FAMILIES}
    assert all(id(family) in registered for kind in INVENTORY for family in kind.families)
    assert len(KINDS) == len(INVENTORY)


def test_every_setting_a_retention_names_exists() -> None:
    named = {m.lower() for kind in INVENTORY for m in re.findall(r"QCL_([A-Z_]+[A-Z])", kind.retention)}
    assert named and named <= set(Settings.model_fields), named - set(Settings.model_fields)


def test_the_retention_defaults_the_inventory_states_are_the_settings_defaults() -> None:
    defaults = Settings()
    assert defaults.retention_tasks_s == 7 * 86400 and "QCL_RETENTION_TASKS_S (7 days)" in KINDS["task"].retention
    assert defaults.retention_jobs_s == 7 * 86400 and "QCL_RETENTION_JOBS_S (7 days)" in KINDS["job"].retention
    assert defaults.anonymize_ip is True


def test_what_an_erasure_keeps_says_why() -> None:
    for kind in INVENTORY:
        assert kind.erased == "deleted" or kind.why_kept, kind.name

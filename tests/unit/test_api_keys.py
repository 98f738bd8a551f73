"""API keys: only an HMAC is stored, verification, revocation, persistence, the pepper, the admin key file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from qcl.api.access import IpLists
from qcl.api.keys import FileKeyStorage, KeyService, StoreKeyStorage, UnknownKeyError, load_pepper, open_keys
from qcl.api.schemas import Role
from qcl.config import load_settings
from qcl.errors import ConfigError
from qcl.store.memory import MemoryStore

PEPPER = b"0123456789abcdef0123456789abcdef"


def file_keys(tmp_path: Path) -> KeyService:
    return KeyService(FileKeyStorage(tmp_path / "keys.json"), PEPPER)


def test_a_created_key_verifies_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    keys = file_keys(tmp_path)
    record, key = keys.create(Role.OPERATOR, "dash", created_by="test")
    assert keys.verify(key) == record
    stored = (tmp_path / "keys.json").read_text()
    assert key not in stored and key.split("_")[2] not in stored and record.hash in stored


def test_the_key_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    file_keys(tmp_path).create(Role.VIEWER, "v", created_by="test")
    assert stat.S_IMODE((tmp_path / "keys.json").stat().st_mode) == 0o600


@pytest.mark.parametrize("presented", ["", "qcl_", "qcl_zzzzzzzz_" + "a" * 43, "Bearer x", "qcl_0000000_" + "a" * 43])
def test_a_malformed_key_does_not_verify(tmp_path: Path, presented: str) -> None:
    assert file_keys(tmp_path).verify(presented) is None


def test_a_key_with_a_changed_secret_does_not_verify(tmp_path: Path) -> None:
    keys = file_keys(tmp_path)
    _, key = keys.create(Role.ADMIN, "a", created_by="test")
    assert keys.verify(key[:-1] + ("A" if key[-1] != "A" else "B")) is None


def test_another_pepper_does_not_verify_the_same_key(tmp_path: Path) -> None:
    _, key = file_keys(tmp_path).create(Role.ADMIN, "a", created_by="test")
    other = KeyService(FileKeyStorage(tmp_path / "keys.json"), b"another-pepper-of-32-bytes-long!")
    assert other.verify(key) is None


def test_a_revoked_key_stops_verifying_and_stays_listed(tmp_path: Path) -> None:
    keys = file_keys(tmp_path)
    record, key = keys.create(Role.VIEWER, "v", created_by="test")
    keys.revoke(record.id, revoked_by="test")
    assert keys.verify(key) is None
    assert [r.revoked_at is not None for r in keys.list()] == [True]


def test_revoking_an_unknown_key_names_it(tmp_path: Path) -> None:
    with pytest.raises(UnknownKeyError, match="0badc0de"):
        file_keys(tmp_path).revoke("0badc0de", revoked_by="test")


def test_a_key_created_by_another_process_is_seen_without_a_restart(tmp_path: Path) -> None:
    server, cli = file_keys(tmp_path), file_keys(tmp_path)
    server.list()  # the server has read the file once
    _, key = cli.create(Role.VIEWER, "from the cli", created_by="cli")
    assert server.verify(key) is not None


def test_keys_in_the_store_are_shared_by_instances() -> None:
    store = MemoryStore()
    first, second = KeyService(StoreKeyStorage(store), PEPPER), KeyService(StoreKeyStorage(store), PEPPER)
    record, key = first.create(Role.ADMIN, "a", created_by="test")
    assert second.verify(key) == record and [r.id for r in second.list()] == [record.id]


def test_a_short_pepper_is_refused() -> None:
    with pytest.raises(ConfigError, match="16 bytes"):
        KeyService(StoreKeyStorage(MemoryStore()), b"short")


def test_the_embedded_pepper_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    settings = load_settings(state_dir=tmp_path)
    assert load_pepper(settings) == load_pepper(settings)
    assert stat.S_IMODE((tmp_path / "api-key-pepper").stat().st_mode) == 0o600


def test_keys_in_the_store_need_a_configured_pepper(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="QCL_API_KEY_PEPPER"):
        open_keys(load_settings(state_dir=tmp_path, api_keys="store"), MemoryStore())


def test_the_admin_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    keys = file_keys(tmp_path)
    path, created = keys.ensure_admin_key(tmp_path / "state")
    assert created and stat.S_IMODE(path.stat().st_mode) == 0o600
    record = keys.verify(path.read_text().strip())
    assert record is not None and record.role is Role.ADMIN
    assert keys.ensure_admin_key(tmp_path / "state") == (path, False)


def test_a_revoked_admin_key_file_is_replaced(tmp_path: Path) -> None:
    keys = file_keys(tmp_path)
    path, _ = keys.ensure_admin_key(tmp_path)
    first = keys.verify(path.read_text().strip())
    assert first is not None
    keys.revoke(first.id, revoked_by="test")
    assert keys.ensure_admin_key(tmp_path) == (path, True)


def test_ip_lists_deny_wins_over_allow() -> None:
    lists = IpLists(load_settings(ip_allow="10.0.0.0/8").ip_allow, load_settings(ip_deny="10.1.0.0/16").ip_deny)
    assert lists.refusal("10.2.3.4") is None
    assert "denied" in (lists.refusal("10.1.2.3") or "")
    assert "not in an allowed" in (lists.refusal("192.0.2.1") or "")


def test_ip_lists_read_an_ipv4_mapped_address_as_ipv4() -> None:
    lists = IpLists([], load_settings(ip_deny="10.0.0.0/8").ip_deny)
    assert lists.refusal("::ffff:10.0.0.1") is not None


def test_an_unparseable_client_address_is_refused_only_when_lists_are_set() -> None:
    assert IpLists([], []).refusal("unix-socket") is None
    assert IpLists([], load_settings(ip_deny="10.0.0.0/8").ip_deny).refusal("unix-socket") is not None


def test_an_invalid_cidr_in_the_settings_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"QCL_IP_DENY: .*'10\.0\.0\.1/8' is not a CIDR network"):
        load_settings(ip_deny="10.0.0.1/8")


def test_an_expired_admin_key_file_is_replaced_by_a_new_key(tmp_path: Path) -> None:
    keys = file_keys(tmp_path)
    path, created = keys.ensure_admin_key(tmp_path)
    first = path.read_text().strip()
    record = keys.verify(first)
    assert created and record is not None
    keys.update(record.id, {"expires_at": keys.now()}, updated_by="test")
    _, created_again = keys.ensure_admin_key(tmp_path)
    assert created_again and path.read_text().strip() != first

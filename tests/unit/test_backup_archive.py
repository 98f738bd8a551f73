"""The backup file (qcl.backup.archive): what comes out is what went in, and every kind of damage is refused by name.

.venv/bin/pytest tests/unit/test_backup_archive.py
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from qcl.backup.archive import FORMAT_VERSION, MAGIC, BackupError, read_manifest, seal, unseal

KEY = bytes(range(32))
RECORDS: list[dict[str, Any]] = [
    {"store": {"family": "task:{task_id}", "key": "task:t1", "kind": "value", "value": "{}", "expires_at": None}},
    {"store": {"family": "jobs:all", "key": "jobs:all", "kind": "window", "value": [["j1", 1.0]], "expires_at": None}},
    {"file": {"path": "admin.key", "mode": 0o600, "data": "cWNsXzEyMzQ="}},
]


def _sealed() -> bytes:
    return seal(RECORDS, KEY, source="test")


def _with_manifest(data: bytes, **changes: object) -> bytes:
    """The same file with manifest fields changed (and nothing else)."""
    end = data.index(b"\n", len(MAGIC))
    fields = {**json.loads(data[len(MAGIC) : end]), **changes}
    return MAGIC + json.dumps(fields).encode() + data[end:]


def test_unseal_returns_the_records_sealed_with_their_counts() -> None:
    manifest, records = unseal(_sealed(), KEY)
    assert records == RECORDS
    assert manifest.families == {"jobs:all": 1, "task:{task_id}": 1} and manifest.files == 1
    assert manifest.format == FORMAT_VERSION


def test_the_manifest_reads_without_the_key_and_the_payload_does_not() -> None:
    data = _sealed()
    assert read_manifest(data).files == 1
    assert b"task:t1" not in data and b"admin.key" not in data  # encrypted at rest, names included


def test_a_truncated_backup_is_refused_saying_how_much_is_there() -> None:
    data = _sealed()
    with pytest.raises(BackupError, match="truncated"):
        unseal(data[:-10], KEY)
    with pytest.raises(BackupError, match="truncated: its manifest line does not end"):
        unseal(data[: len(MAGIC) + 20], KEY)


def test_a_changed_payload_byte_fails_the_authentication_tag() -> None:
    data = bytearray(_sealed())
    data[-40] ^= 0x01
    with pytest.raises(BackupError, match="changed after it was written"):
        unseal(bytes(data), KEY)


def test_a_changed_manifest_fails_the_tag_too() -> None:
    with pytest.raises(BackupError, match="changed after it was written"):
        unseal(_with_manifest(_sealed(), files=0), KEY)


def test_a_newer_format_is_refused_before_anything_else_is_read() -> None:
    newer = _with_manifest(_sealed(), format=FORMAT_VERSION + 1, qcl_version="9.0.0", unknown_field=True)
    with pytest.raises(BackupError, match=rf"format {FORMAT_VERSION + 1} \(qcl 9.0.0\).*newer qcl"):
        unseal(newer, KEY)
    with pytest.raises(BackupError, match="newer qcl"):
        read_manifest(newer)


def test_a_wrong_key_is_named_as_such() -> None:
    with pytest.raises(BackupError, match=r"encrypted with key [0-9a-f]{16}, the key given is [0-9a-f]{16}"):
        unseal(_sealed(), os.urandom(32))


def test_a_key_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(BackupError, match="32 bytes"):
        seal(RECORDS, b"short", source="test")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x03\x04 a zip file", "not a qcl backup"),
        (MAGIC + b"{not json\n", "manifest is not JSON"),
        (MAGIC + b'{"qcl_version": "0.1.0"}\n', "no format version"),
        (MAGIC + b'{"format": 1, "files": "many"}\n', "manifest is not valid"),
    ],
)
def test_a_file_that_is_not_a_backup_is_refused_by_name(data: bytes, message: str) -> None:
    with pytest.raises(BackupError, match=message):
        unseal(data, KEY)


def test_two_backups_of_the_same_records_differ_in_their_nonce() -> None:
    assert _sealed()[-60:] != _sealed()[-60:]

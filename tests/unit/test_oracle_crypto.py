"""Node keys on disk and the domain-separated bytes every signature covers."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from qcl.oracle.crypto import DOMAIN, NodeKey, signed_bytes, verify_signature
from qcl.oracle.errors import KeyFileError


def test_a_saved_key_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "node-0" / "key.json"
    NodeKey.generate("oracle-0").save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_key_survives_the_round_trip_through_its_file(tmp_path: Path) -> None:
    key = NodeKey.generate("oracle-3")
    key.save(tmp_path / "key.json")
    loaded = NodeKey.load(tmp_path / "key.json")
    assert (loaded.node_id, loaded.public_key) == ("oracle-3", key.public_key)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_readable_by_others_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "key.json"
    NodeKey.generate("oracle-0").save(path)
    os.chmod(path, mode)
    with pytest.raises(KeyFileError, match=rf"permissions {mode:04o}.*chmod 600"):
        NodeKey.load(path)


def test_a_missing_key_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"does not exist.*qcl oracle init"):
        NodeKey.load(tmp_path / "absent.json")


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps({"node_id": "x"}),
        json.dumps({"node_id": "x", "seed": "zz"}),
        json.dumps({"node_id": "x", "seed": "ab"}),
    ],
)
def test_a_malformed_key_file_is_refused(tmp_path: Path, body: str) -> None:
    path = tmp_path / "key.json"
    path.write_text(body)
    os.chmod(path, 0o600)
    with pytest.raises(KeyFileError, match=r"key\.json"):
        NodeKey.load(path)


def test_every_field_of_a_vote_changes_the_signed_bytes() -> None:
    base = ("COMMIT", "c" * 64, 1, 7, "j" * 64, "d" * 64, 2)
    variants = [
        ("PREPARE", *base[1:]),
        (base[0], "x" * 64, *base[2:]),
        (*base[:2], 2, *base[3:]),
        (*base[:3], 8, *base[4:]),
        (*base[:4], "k" * 64, *base[5:]),
        (*base[:5], "e" * 64, base[6]),
        (*base[:6], 3),
    ]
    reference = signed_bytes(*base)
    assert all(signed_bytes(*v) != reference for v in variants)
    assert signed_bytes(*base, domain="other-protocol/v1") != reference
    assert DOMAIN.encode() in reference


def test_a_signature_verifies_only_for_its_key_and_message() -> None:
    key, other = NodeKey.generate("a"), NodeKey.generate("b")
    signature = key.sign(b"vote")
    assert verify_signature(key.public_key, b"vote", signature)
    assert not verify_signature(other.public_key, b"vote", signature)
    assert not verify_signature(key.public_key, b"vote!", signature)


@pytest.mark.parametrize("garbage", ["", "not base64!", "AAAA", "A" * 88])
def test_verifying_garbage_returns_false_instead_of_raising(garbage: str) -> None:
    assert not verify_signature(NodeKey.generate("a").public_key, b"vote", garbage)
    assert not verify_signature("zz", b"vote", garbage)

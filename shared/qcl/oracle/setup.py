"""A committee on disk: one folder per member (key.json, 0600; state.json; attestations/), one committee.json.

    folder = init_committee(Path(".qcl/oracle/n4"), n=4, base_port=47100)   # once; never overwrites keys
    committee, keys = open_committee(folder)                                 # verifies the file, loads the keys

Layout:  <folder>/committee.json   <folder>/node-<i>/key.json   <folder>/node-<i>/state.json
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from pathlib import Path

from qcl.oracle.committee import Committee, create_committee, load_committee, save_committee
from qcl.oracle.crypto import NodeKey
from qcl.oracle.errors import CommitteeError

COMMITTEE_FILE = "committee.json"
ENV_KEY = "QCL_ORACLE_NODE_KEY_{index}"  # a member's Ed25519 seed, base64 (Secret Manager on Google Cloud)


def member_dir(folder: Path, index: int) -> Path:
    return folder / f"node-{index}"


def init_committee(folder: Path, *, n: int = 4, base_port: int = 47100, host: str = "127.0.0.1") -> Path:
    """Create keys and a signed committee file in `folder` unless one is there; returns the committee file."""
    path = folder / COMMITTEE_FILE
    if path.exists():
        return path
    keys = []
    for index in range(n):
        key_path = member_dir(folder, index) / "key.json"
        key = NodeKey.load(key_path) if key_path.exists() else NodeKey.generate(f"oracle-{index}")
        if not key_path.exists():
            key.save(key_path)
        keys.append(key)
    addresses = [f"{host}:{base_port + i}" for i in range(n)]
    save_committee(create_committee(keys, addresses=addresses), path)
    return path


def install_env_keys(folder: Path, n: int, environ: Mapping[str, str] = os.environ) -> int:
    """Write members' keys given as QCL_ORACLE_NODE_KEY_<i> (base64 seeds) into `folder` (0600); returns how many.

    Every instance given the same seeds derives the same committee file (Ed25519 signatures are deterministic).
    """
    installed = 0
    for index in range(n):
        text = environ.get(ENV_KEY.format(index=index))
        if not text:
            continue
        try:
            seed = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise CommitteeError(f"{ENV_KEY.format(index=index)} is not base64") from None
        if len(seed) != 32:
            raise CommitteeError(f"{ENV_KEY.format(index=index)} must hold a 32-byte Ed25519 seed, got {len(seed)}")
        key, path = NodeKey.from_seed(f"oracle-{index}", seed), member_dir(folder, index) / "key.json"
        if path.exists() and NodeKey.load(path).public_key != key.public_key:
            raise CommitteeError(f"{path} holds another key than {ENV_KEY.format(index=index)}")
        key.save(path)
        installed += 1
    return installed


def open_committee(folder: Path) -> tuple[Committee, list[NodeKey]]:
    """The verified committee and the member keys found in `folder` (a member's own host holds only its key)."""
    committee = load_committee(folder / COMMITTEE_FILE)
    keys = []
    for index in range(committee.n):
        key_path = member_dir(folder, index) / "key.json"
        if key_path.exists():
            key = NodeKey.load(key_path)
            if key.public_key != committee.members[index].public_key:
                raise CommitteeError(f"{key_path} holds another key than member {index} of the committee file")
            keys.append(key)
    return committee, keys


def member_key(folder: Path, committee: Committee, index: int) -> NodeKey:
    if not 0 <= index < committee.n:
        raise CommitteeError(f"member index {index} is outside 0..{committee.n - 1}")
    key = NodeKey.load(member_dir(folder, index) / "key.json")
    if key.public_key != committee.members[index].public_key:
        raise CommitteeError(f"the key of node-{index} does not match member {index} of the committee file")
    return key

"""A committee on disk: one folder per member (key.json, 0600; state.json; attestations/), one committee.json.

    folder = init_committee(Path(".qcl/oracle/n4"), n=4, base_port=47100)   # once; never overwrites keys
    committee, keys = open_committee(folder)                                 # verifies the file, loads the keys

Layout:  <folder>/committee.json   <folder>/node-<i>/key.json   <folder>/node-<i>/state.json
"""

from __future__ import annotations

from pathlib import Path

from qcl.oracle.committee import Committee, create_committee, load_committee, save_committee
from qcl.oracle.crypto import NodeKey
from qcl.oracle.errors import CommitteeError

COMMITTEE_FILE = "committee.json"


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

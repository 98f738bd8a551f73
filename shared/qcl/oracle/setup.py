"""A committee on disk: one folder per member (key.json, 0600; state.json; attestations/), one committee.json.

    folder = init_committee(Path(".qcl/oracle/n4"), n=4, base_port=47100)   # once; never overwrites keys
    committee, keys = open_committee(folder)                                 # verifies the file, loads the keys
    key = own_key(committee, 2, os.environ)       # a member on its own host: QCL_ORACLE_NODE_KEY_2 and no other

Layout:  <folder>/committee.json   <folder>/node-<i>/key.json   <folder>/node-<i>/state.json
"""

from __future__ import annotations

import base64
import binascii
import os
import re
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
        key, path = _env_key(index, text), member_dir(folder, index) / "key.json"
        if path.exists() and NodeKey.load(path).public_key != key.public_key:
            raise CommitteeError(f"{path} holds another key than {ENV_KEY.format(index=index)}")
        key.save(path)
        installed += 1
    return installed


def _env_key(index: int, text: str) -> NodeKey:
    """Member `index`'s key from its variable's value (a base64 Ed25519 seed)."""
    name = ENV_KEY.format(index=index)
    try:
        seed = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CommitteeError(f"{name} is not base64") from None
    if len(seed) != 32:
        raise CommitteeError(f"{name} must hold a 32-byte Ed25519 seed, got {len(seed)}")
    return NodeKey.from_seed(f"oracle-{index}", seed)


def export_key(key: NodeKey) -> str:
    """The key as its QCL_ORACLE_NODE_KEY_<i> value (base64 seed): what goes into the member's own secret."""
    return base64.b64encode(bytes(key.signing_key)).decode()


def _whose(committee: Committee, key: NodeKey) -> str:
    owner = next((i for i, m in enumerate(committee.members) if m.public_key == key.public_key), None)
    return "no member's key" if owner is None else f"member {owner}'s key ({committee.node_id(owner)})"


def own_key(committee: Committee, index: int, environ: Mapping[str, str] = os.environ) -> NodeKey:
    """Member `index`'s key from QCL_ORACLE_NODE_KEY_<index>, for a member that runs alone (its own service or pod).

    Refused, naming the problem: an index outside the committee, no key, a key that is not member `index`'s (another
    member's, or nobody's), and any other member's key in the environment: a member's host holds its own key only,
    so that taking over one host yields one vote, never a quorum.
    """
    if not 0 <= index < committee.n:
        raise CommitteeError(f"member index {index} is outside 0..{committee.n - 1}")
    others = sorted(
        name
        for name, value in environ.items()
        if value and name != ENV_KEY.format(index=index) and re.fullmatch(r"QCL_ORACLE_NODE_KEY_[0-9]+", name)
    )
    if others:
        raise CommitteeError(
            f"member {index} is given other members' keys ({', '.join(others)}); a member holds only its own key"
        )
    text = environ.get(ENV_KEY.format(index=index))
    if not text:
        raise CommitteeError(
            f"member {index} has no key: set {ENV_KEY.format(index=index)} to its Ed25519 seed, base64 "
            f"(`qcl oracle export-key --index {index}`; its own Secret Manager secret on Google Cloud)"
        )
    key = _env_key(index, text)
    if key.public_key != committee.members[index].public_key:
        raise CommitteeError(
            f"{ENV_KEY.format(index=index)} holds {_whose(committee, key)}, not member {index}'s "
            f"({committee.node_id(index)}) of committee {committee.committee_id[:16]}…"
        )
    return NodeKey.from_seed(committee.node_id(index), bytes(key.signing_key))


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
        raise CommitteeError(
            f"the key of node-{index} does not match member {index} of the committee file: "
            f"it is {_whose(committee, key)}"
        )
    return key

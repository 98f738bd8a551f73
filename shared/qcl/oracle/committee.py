"""The committee: n = 3f+1 members with Ed25519 keys, in a file every member has signed.

    committee = load_committee(Path(".qcl/oracle/committee.json"))   # raises CommitteeError unless it all checks
    committee.quorum        # 2f+1 distinct signatures decide (any two quorums share an honest member)
    committee.primary(seq, view)

The committee id is the hash of the membership (names, keys, f, addresses), so it changes whenever membership
does, and every protocol signature names it: a certificate from another committee checks against nothing here.
Each member signs the membership (like a genesis file's validator signatures), proving it holds its key.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qcl.oracle.canonical import canonical_json, digest_of
from qcl.oracle.crypto import DOMAIN, NodeKey, verify_signature
from qcl.oracle.errors import CommitteeError

SUPPORTED_SIZES = (4, 7)  # n = 3f+1 for f = 1, 2; larger committees work but are not exercised by the tests


class Member(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    node_id: str = Field(min_length=1, max_length=64)
    public_key: str = Field(pattern=r"^[0-9a-f]{64}$")  # raw Ed25519 key, hex
    address: str | None = Field(default=None, pattern=r"^[0-9.]+:[0-9]{1,5}$")  # loopback transport: host:port


class Membership(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    f: int = Field(ge=1)
    members: list[Member]


class MemberSignature(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    node_id: str
    signature: str


class CommitteeFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = 1
    committee_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    membership: Membership
    signatures: list[MemberSignature]


def _membership_bytes(committee_id: str) -> bytes:
    return canonical_json([DOMAIN, "COMMITTEE", committee_id])


@dataclass(frozen=True)
class Committee:
    """A verified membership; everything the protocol asks about who counts."""

    membership: Membership
    committee_id: str
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {m.node_id: i for i, m in enumerate(self.membership.members)})

    @property
    def n(self) -> int:
        return len(self.membership.members)

    @property
    def f(self) -> int:
        return self.membership.f

    @property
    def quorum(self) -> int:
        """2f+1: votes that decide; two quorums intersect in f+1 members, at least one of them honest."""
        return 2 * self.f + 1

    @property
    def members(self) -> list[Member]:
        return self.membership.members

    def node_id(self, index: int) -> str:
        return self.membership.members[index].node_id

    def index_of(self, node_id: str) -> int | None:
        return self._index.get(node_id)

    def primary(self, seq: int, view: int) -> int:
        """The primary of `view` for job `seq`: rotating with the sequence spreads the primary's work, and a view
        change moves to the next member (PBFT: primary = v mod n; node 0 leads view 0 of job 0)."""
        return (seq + view) % self.n

    def verify(self, sender: int, message: bytes, signature: str) -> bool:
        if not 0 <= sender < self.n:
            return False
        return verify_signature(self.membership.members[sender].public_key, message, signature)


def check_membership(membership: Membership) -> None:
    n, f = len(membership.members), membership.f
    if n != 3 * f + 1:
        raise CommitteeError(f"a committee needs n = 3f+1 members; f = {f} needs {3 * f + 1}, the file lists {n}")
    ids = [m.node_id for m in membership.members]
    keys = [m.public_key for m in membership.members]
    if len(set(ids)) != n:
        raise CommitteeError(f"member ids must be distinct; got {ids}")
    if len(set(keys)) != n:
        raise CommitteeError("member public keys must be distinct (one key, one vote)")


def create_committee(
    keys: Sequence[NodeKey], *, name: str = "qcl-oracle", addresses: Sequence[str] = ()
) -> CommitteeFile:
    """A committee file for `keys` (n = 3f+1), signed by every member."""
    n = len(keys)
    if n < 4 or (n - 1) % 3:
        raise CommitteeError(f"a committee needs n = 3f+1 >= 4 members (4 and 7 are supported); got {n}")
    members = [
        Member(node_id=k.node_id, public_key=k.public_key, address=addresses[i] if addresses else None)
        for i, k in enumerate(keys)
    ]
    membership = Membership(name=name, f=(n - 1) // 3, members=members)
    check_membership(membership)
    committee_id = digest_of(membership.model_dump(mode="json"))
    signatures = [MemberSignature(node_id=k.node_id, signature=k.sign(_membership_bytes(committee_id))) for k in keys]
    return CommitteeFile(committee_id=committee_id, membership=membership, signatures=signatures)


def verify_committee(file: CommitteeFile) -> Committee:
    """Check the file: n = 3f+1, distinct members, id = hash of the membership, every member's signature."""
    check_membership(file.membership)
    expected = digest_of(file.membership.model_dump(mode="json"))
    if file.committee_id != expected:
        raise CommitteeError(
            f"committee id {file.committee_id[:16]}… is not the hash of its membership ({expected[:16]}…)"
        )
    committee = Committee(file.membership, file.committee_id)
    signed = {s.node_id: s.signature for s in file.signatures}
    for index, member in enumerate(file.membership.members):
        signature = signed.get(member.node_id)
        if signature is None:
            raise CommitteeError(f"member {member.node_id} has not signed the committee file")
        if not committee.verify(index, _membership_bytes(file.committee_id), signature):
            raise CommitteeError(f"member {member.node_id}'s signature on the committee file does not verify")
    return committee


def save_committee(file: CommitteeFile, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(file.model_dump(mode="json"), indent=2) + "\n")


def load_committee(path: Path) -> Committee:
    """Read and verify a committee file; raises CommitteeError saying what is wrong."""
    try:
        file = CommitteeFile.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise CommitteeError(f"committee file {path} does not exist (qcl oracle init writes one)") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CommitteeError(f"committee file {path} does not parse: {where}: {first['msg']}") from None
    return verify_committee(file)

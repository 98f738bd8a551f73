"""Protocol messages: one signed shape for every type, and the checks any receiver runs before looking inside.

    msg = sign_message(key, committee, me, MsgType.PREPARE, view, seq, job_id, digest)
    verify_message(msg, committee)   # False for a bad or forged signature, an unknown sender, an unbound body
    to_wire(msg) / from_wire(raw)    # canonical JSON bytes on every transport

The signature covers (domain, type, committee id, view, sequence, job id, digest, sender). Where a message carries
a body that matters (an observation, a view change, a new view), the digest is the hash of that body, so the
signature binds it too. A client's REQUEST is the one unsigned message: it is checked by its content (the job id is
the hash of the job spec), not by who relayed it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qcl.oracle.canonical import canonical_json, digest_of
from qcl.oracle.committee import Committee
from qcl.oracle.crypto import NodeKey, signed_bytes

CLIENT = -1  # the sender index of a REQUEST sent by a client rather than relayed by a member


class MsgType(StrEnum):
    REQUEST = "REQUEST"  # a job, from a client or relayed by the member that took it off the bus
    OBSERVE = "OBSERVE"  # a member's own result: commitment H(result) + knowledge proof (exact), or a value (numeric)
    PRE_PREPARE = "PRE_PREPARE"  # the primary's proposal: an outcome and the 2f+1 observations that justify it
    PREPARE = "PREPARE"
    COMMIT = "COMMIT"
    VIEW_CHANGE = "VIEW_CHANGE"
    NEW_VIEW = "NEW_VIEW"
    CHECKPOINT = "CHECKPOINT"
    DECISION = "DECISION"  # a finished attestation, sent to a member that is behind (state transfer)
    SYNC = "SYNC"  # a member back without its disk asks for the decisions it missed


# Types whose digest is the hash of their body: the signature then covers the body as well.
BODY_BOUND = frozenset({MsgType.OBSERVE, MsgType.VIEW_CHANGE, MsgType.NEW_VIEW})


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: MsgType
    committee_id: str = Field(max_length=64)
    view: int = Field(ge=0)
    seq: int = Field(ge=0)
    job_id: str = Field(max_length=64)
    digest: str = Field(max_length=64)
    sender: int = Field(ge=CLIENT)
    body: dict[str, Any] | None = None
    signature: str = Field(default="", max_length=100)

    def signed_bytes(self) -> bytes:
        return signed_bytes(
            self.type.value, self.committee_id, self.view, self.seq, self.job_id, self.digest, self.sender
        )

    @property
    def slot(self) -> tuple[int, str, int, int]:
        """(sender, type, view, seq): a member counts once per slot; two different digests in one slot equivocate."""
        return (self.sender, self.type.value, self.view, self.seq)

    @property
    def uid(self) -> tuple[str, str, int, int, str, str, int, str]:
        """Identity of this exact signed message (for caches of checked signatures)."""
        return (
            self.type.value,
            self.committee_id,
            self.view,
            self.seq,
            self.job_id,
            self.digest,
            self.sender,
            self.signature,
        )


def sign_message(
    key: NodeKey,
    committee: Committee,
    sender: int,
    msg_type: MsgType,
    view: int,
    seq: int,
    job_id: str,
    digest: str | None = None,
    body: dict[str, Any] | None = None,
) -> Message:
    """A signed message; for body-bound types the digest is computed from the body."""
    if msg_type in BODY_BOUND:
        digest = digest_of(body)
    unsigned = Message(
        type=msg_type,
        committee_id=committee.committee_id,
        view=view,
        seq=seq,
        job_id=job_id,
        digest=digest or "",
        sender=sender,
        body=body,
    )
    return unsigned.model_copy(update={"signature": key.sign(unsigned.signed_bytes())})


def verify_message(msg: Message, committee: Committee) -> bool:
    """The checks before anything else: this committee, a member sender, a valid signature, a bound body."""
    if msg.committee_id != committee.committee_id or msg.sender == CLIENT:
        return False
    if msg.type in BODY_BOUND and msg.digest != digest_of(msg.body):
        return False
    return committee.verify(msg.sender, msg.signed_bytes(), msg.signature)


def to_wire(msg: Message) -> bytes:
    return canonical_json(msg.model_dump(mode="json"))


def from_wire(raw: bytes | str) -> Message:
    """Parse wire bytes; raises ValueError naming the problem."""
    try:
        return Message.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"not a protocol message: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None


def parse_message(value: Any) -> Message | None:
    """A message nested in another's body, or None when it does not parse."""
    try:
        return Message.model_validate(value)
    except ValidationError:
        return None


class Verifier:
    """verify_message with a memory: nested messages (observations in proposals, certificates in view changes)
    reach a node many times, and Ed25519 verification is the protocol's main CPU cost."""

    def __init__(self, committee: Committee, capacity: int = 20_000) -> None:
        self.committee = committee
        self._ok: set[tuple[str, str, int, int, str, str, int, str]] = set()
        self._capacity = capacity

    def __call__(self, msg: Message) -> bool:
        uid = msg.uid
        if uid in self._ok:
            return msg.type not in BODY_BOUND or msg.digest == digest_of(msg.body)
        if not verify_message(msg, self.committee):
            return False
        if len(self._ok) >= self._capacity:  # bounded: forget everything, re-verify on demand
            self._ok.clear()
        self._ok.add(uid)
        return True

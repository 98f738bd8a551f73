"""Byzantine and faulty behaviours for the simulator: wrappers around an honest replica (Plenum-style), never a
second protocol implementation.

    behaviour = behaviour_for("equivocate")
    behaviour.outgoing(ctx, message, targets)   -> [(message, target), ...] actually sent
    behaviour.incoming(ctx, message)            -> extra messages this node sends on seeing `message`
    behaviour.result(true_result)               -> what its executor "computes" (NOT_RUN: it does not run the job)

Each keeps the honest node's key and nothing else: what it can sign is what a compromised member could sign.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from qcl.oracle.canonical import digest_of, sha256_hex
from qcl.oracle.committee import Committee
from qcl.oracle.crypto import NodeKey
from qcl.oracle.messages import Message, MsgType, sign_message
from qcl.oracle.proposals import Proposal

NOT_RUN = object()  # a lazy member never runs the job


@dataclass
class Context:
    """What a behaviour may use: its own identity, the committee, and (for replays) foreign-committee messages."""

    committee: Committee
    key: NodeKey
    me: int
    foreign: list[Message] = field(default_factory=list)  # validly signed messages of another committee


class Behaviour(Protocol):
    byzantine: bool

    def outgoing(self, ctx: Context, msg: Message, targets: list[int]) -> list[tuple[Message, int]]: ...

    def incoming(self, ctx: Context, msg: Message) -> list[tuple[Message, int | None]]: ...

    def result(self, true_result: Any) -> Any: ...


class Honest:
    byzantine = False

    def outgoing(self, ctx: Context, msg: Message, targets: list[int]) -> list[tuple[Message, int]]:
        return [(msg, t) for t in targets]

    def incoming(self, ctx: Context, msg: Message) -> list[tuple[Message, int | None]]:
        return []

    def result(self, true_result: Any) -> Any:
        return true_result


class Silent(Honest):
    """Crashed, or cut off: runs, but nothing it sends arrives anywhere."""

    def outgoing(self, ctx: Context, msg: Message, targets: list[int]) -> list[tuple[Message, int]]:
        return []


class WrongResult(Honest):
    """Follows the protocol with a wrong result (a lying member, or a broken one)."""

    byzantine = True

    def result(self, true_result: Any) -> Any:
        if isinstance(true_result, int | float):
            return float(true_result) + 1000.0
        return {"forged": true_result}


def _twin(ctx: Context, msg: Message) -> Message:
    """A conflicting message for the same slot, signed with this member's key."""
    if msg.type == MsgType.PRE_PREPARE:
        proposal = Proposal.from_body(msg.body)
        outcome = {"status": "committed", "result_digest": sha256_hex(b"equivocation:" + msg.digest.encode())}
        body = {"outcome": outcome, "observations": proposal.body()["observations"] if proposal else []}
        return sign_message(
            ctx.key, ctx.committee, ctx.me, msg.type, msg.view, msg.seq, msg.job_id, digest_of(outcome), body
        )
    if msg.type == MsgType.OBSERVE:
        body = dict(msg.body or {})
        if "value" in body:
            body["value"] = float(body["value"]) + 1.0
        else:
            body["result_digest"] = sha256_hex(b"equivocation:" + msg.digest.encode())
        return sign_message(ctx.key, ctx.committee, ctx.me, msg.type, msg.view, msg.seq, msg.job_id, body=body)
    digest = sha256_hex(b"equivocation:" + msg.digest.encode())
    return sign_message(ctx.key, ctx.committee, ctx.me, msg.type, msg.view, msg.seq, msg.job_id, digest, msg.body)


class Equivocate(Honest):
    """Signs two conflicting messages per slot: one half of the members gets each, and one member gets both
    (Twins: the same key in two places); catalogue cases 1 and 11."""

    byzantine = True
    _TYPES = frozenset({MsgType.PRE_PREPARE, MsgType.PREPARE, MsgType.COMMIT, MsgType.OBSERVE})

    def outgoing(self, ctx: Context, msg: Message, targets: list[int]) -> list[tuple[Message, int]]:
        if msg.type not in self._TYPES or len(targets) < 2:
            return [(msg, t) for t in targets]
        twin = _twin(ctx, msg)
        half = len(targets) // 2
        sent = [(msg, t) for t in targets[:half]] + [(twin, t) for t in targets[half:]]
        return [*sent, (msg, targets[-1])]


class LazyCopy(Honest):
    """Runs nothing: copies the first commitment it sees with a made-up knowledge proof, then votes for whatever
    the primary proposes (catalogue case 13)."""

    byzantine = True

    def __init__(self) -> None:
        self.observed: set[int] = set()
        self.voted: set[tuple[int, int]] = set()

    def result(self, true_result: Any) -> Any:
        return NOT_RUN

    def incoming(self, ctx: Context, msg: Message) -> list[tuple[Message, int | None]]:
        out: list[tuple[Message, int | None]] = []
        if msg.type == MsgType.OBSERVE and msg.seq not in self.observed:
            self.observed.add(msg.seq)
            body = dict(msg.body or {})
            if "proof" in body:
                body["proof"] = sha256_hex(b"no result, no proof")
            copy = sign_message(ctx.key, ctx.committee, ctx.me, MsgType.OBSERVE, 0, msg.seq, msg.job_id, body=body)
            out.append((copy, None))
        proposal = msg if msg.type == MsgType.PRE_PREPARE else None
        if msg.type == MsgType.NEW_VIEW and isinstance((msg.body or {}).get("pre_prepare"), dict):
            proposal = Message.model_validate(msg.body["pre_prepare"])  # type: ignore[index]
        if proposal is not None and (proposal.seq, proposal.view) not in self.voted:
            self.voted.add((proposal.seq, proposal.view))
            votes: tuple[tuple[MsgType, dict[str, Any] | None], ...] = (
                (MsgType.PREPARE, {"pp": proposal.signature}),
                (MsgType.COMMIT, None),
            )
            for kind, vote_body in votes:
                vote = sign_message(
                    ctx.key,
                    ctx.committee,
                    ctx.me,
                    kind,
                    proposal.view,
                    proposal.seq,
                    proposal.job_id,
                    proposal.digest,
                    vote_body,
                )
                out.append((vote, None))
        return out


class ForgeSignature(Honest):
    """Honest, plus messages that claim another member as sender (signed with its own key, so they cannot check):
    forged commitments, votes and view changes (catalogue case 7)."""

    byzantine = True

    def outgoing(self, ctx: Context, msg: Message, targets: list[int]) -> list[tuple[Message, int]]:
        sent = [(msg, t) for t in targets]
        if msg.type in (MsgType.OBSERVE, MsgType.PREPARE, MsgType.COMMIT):
            victim = (ctx.me + 1) % ctx.committee.n
            forged = msg.model_copy(update={"sender": victim, "digest": sha256_hex(b"forged" + msg.digest.encode())})
            forged = forged.model_copy(update={"signature": ctx.key.sign(forged.signed_bytes())})
            change = Message(
                type=MsgType.VIEW_CHANGE,
                committee_id=msg.committee_id,
                view=msg.view + 1,
                seq=msg.seq,
                job_id=msg.job_id,
                digest=digest_of({}),
                sender=victim,
                body={},
            )
            change = change.model_copy(update={"signature": ctx.key.sign(change.signed_bytes())})
            sent += [(forged, t) for t in targets] + [(change, t) for t in targets]
        return sent


class Replay(Honest):
    """Honest, plus replays: every message it receives goes out again to everyone, and signed messages of another
    committee (network id) are injected (catalogue case 6)."""

    byzantine = True

    def __init__(self) -> None:
        self.injected = False
        self.replayed: set[tuple[object, ...]] = set()

    def incoming(self, ctx: Context, msg: Message) -> list[tuple[Message, int | None]]:
        out: list[tuple[Message, int | None]] = []
        if msg.type != MsgType.REQUEST and msg.uid not in self.replayed:  # once each: two replayers would echo forever
            self.replayed.add(msg.uid)
            out.append((msg, None))
        if not self.injected:
            self.injected = True
            out += [(m, None) for m in ctx.foreign]
        return out


def behaviour_for(kinds: set[str]) -> Behaviour:
    """The behaviour of a node with these fault kinds (delay, drop and crash-restart are the network's business)."""
    if "silent" in kinds:
        return Silent()
    for kind, cls in (
        ("equivocate", Equivocate),
        ("wrong-result", WrongResult),
        ("lazy-copy", LazyCopy),
        ("forge-signature", ForgeSignature),
        ("replay", Replay),
    ):
        if kind in kinds:
            return cls()
    return Honest()

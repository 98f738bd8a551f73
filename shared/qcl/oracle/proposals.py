"""What the committee agrees on: an outcome, justified by 2f+1 signed observations.

    outcome = {"status": "committed", "result_digest": H(result)}   # exact: 2f+1 equal commitments
    outcome = {"status": "committed", "value": median}              # numeric: OCR's median of >= 2f+1 values
    outcome = {"status": "unresolvable"}                            # provably no 2f+1 honest agreement

The signed digest of PRE-PREPARE/PREPARE/COMMIT is H(outcome); the observations travel beside it. `check_proposal`
is what anyone can check from signatures alone; `acceptable` is what an honest member adds from its own result
(exact: equal digest and every knowledge proof H(result ‖ id) valid; numeric: median within the tolerance).

Why the median is safe (OCR): with >= 2f+1 values and <= f liars, the median lies between two honest values. Why
"unresolvable" cannot be faked while honest members agree: it must show that even if every member not observed
agreed, no candidate reaches 2f+1 - and the 2f+1 honest members would reach it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from qcl.oracle.canonical import digest_of, proof_for, sha256_hex
from qcl.oracle.committee import Committee
from qcl.oracle.messages import Message, MsgType, parse_message, verify_message

UNRESOLVABLE: dict[str, Any] = {"status": "unresolvable"}


def exact_outcome(result_digest: str) -> dict[str, Any]:
    return {"status": "committed", "result_digest": result_digest}


def numeric_outcome(value: float) -> dict[str, Any]:
    return {"status": "committed", "value": float(value)}


def median(values: Sequence[float]) -> float:
    """OCR's median: the middle of the sorted values (the upper middle for an even count)."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def observation_value(msg: Message) -> float | None:
    value = (msg.body or {}).get("value")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def observation_digest(msg: Message) -> str | None:
    value = (msg.body or {}).get("result_digest")
    return value if isinstance(value, str) else None


def max_support_numeric(values: Sequence[float], tolerance: float) -> int:
    """Most values any one candidate m can satisfy (|m - v| <= tolerance): the densest window of width 2·tolerance."""
    ordered, best, start = sorted(values), 0, 0
    for end, high in enumerate(ordered):
        while high - ordered[start] > 2 * tolerance:
            start += 1
        best = max(best, end - start + 1)
    return best


def unresolvable_proven(kind: str, observations: Sequence[Message], n: int, quorum: int, tolerance: float) -> bool:
    """True when, even if every member not in `observations` agreed, no candidate could gather `quorum` support."""
    unseen = n - len(observations)
    if kind == "exact":
        counts = Counter(observation_digest(m) for m in observations)
        support = max(counts.values(), default=0)
    else:
        support = max_support_numeric([v for m in observations if (v := observation_value(m)) is not None], tolerance)
    return support + unseen < quorum


@dataclass(frozen=True)
class Proposal:
    outcome: dict[str, Any]
    observations: tuple[Message, ...]

    @property
    def digest(self) -> str:
        return digest_of(self.outcome)

    def body(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "observations": [m.model_dump(mode="json") for m in self.observations]}

    @classmethod
    def from_body(cls, body: dict[str, Any] | None) -> Proposal | None:
        if not isinstance(body, dict) or not isinstance(body.get("outcome"), dict):
            return None
        raw = body.get("observations")
        if not isinstance(raw, list):
            return None
        parsed = [parse_message(item) for item in raw]
        if any(m is None for m in parsed):
            return None
        return cls(body["outcome"], tuple(m for m in parsed if m is not None))


def build_proposal(
    kind: str,
    observations: Iterable[Message],
    committee: Committee,
    *,
    tolerance: float,
    own_result: bytes | None,
    own_value: float | None,
) -> Proposal | None:
    """The primary's proposal from the valid observations it holds, or None while it must wait for more.

    Prefers a committed outcome; proposes "unresolvable" only once no candidate can reach 2f+1.
    """
    held = sorted(observations, key=lambda m: m.sender)
    if kind == "exact":
        by_digest: dict[str, list[Message]] = {}
        for msg in held:
            digest = observation_digest(msg)
            if digest is not None:
                by_digest.setdefault(digest, []).append(msg)
        for digest, group in by_digest.items():
            if own_result is not None and digest == digest_of_bytes(own_result):
                group = [m for m in group if _proof_ok(m, own_result, committee)]
            if len(group) >= committee.quorum:
                return Proposal(exact_outcome(digest), tuple(group[: committee.quorum]))
    elif len(held) >= committee.quorum:
        value = median([observation_value(m) or 0.0 for m in held])
        if own_value is None or abs(value - own_value) <= tolerance:
            return Proposal(numeric_outcome(value), tuple(held))
    if unresolvable_proven(kind, held, committee.n, committee.quorum, tolerance):
        return Proposal(dict(UNRESOLVABLE), tuple(held))
    return None


def digest_of_bytes(result: bytes) -> str:
    return sha256_hex(result)


def _proof_ok(msg: Message, result: bytes, committee: Committee) -> bool:
    return (msg.body or {}).get("proof") == proof_for(result, committee.node_id(msg.sender))


def check_observation(msg: Message, committee: Committee, kind: str, seq: int, job_id: str) -> str | None:
    """Why `msg` is not a valid observation of this job (None when it is)."""
    if msg.type != MsgType.OBSERVE or msg.seq != seq or msg.job_id != job_id or msg.view != 0:
        return "not an observation of this job"
    if not verify_message(msg, committee):
        return f"observation from member {msg.sender} does not verify"
    body = msg.body or {}
    if kind == "exact":
        if set(body) != {"result_digest", "proof"} or not all(
            isinstance(v, str) and len(v) == 64 for v in body.values()
        ):
            return f"exact observation from member {msg.sender} must carry result_digest and proof"
    elif set(body) != {"value"} or observation_value(msg) is None:
        return f"numeric observation from member {msg.sender} must carry a number"
    return None


def check_proposal(
    proposal: Proposal,
    committee: Committee,
    *,
    kind: str,
    seq: int,
    job_id: str,
    tolerance: float,
    excluded: frozenset[int] = frozenset(),
) -> str | None:
    """Why `proposal` is not justified by its observations (None when it is); needs no result of one's own."""
    senders = [m.sender for m in proposal.observations]
    if len(set(senders)) != len(senders):
        return "observations must come from distinct members"
    for msg in proposal.observations:
        if msg.sender in excluded:
            return f"observation from excluded member {msg.sender}"
        problem = check_observation(msg, committee, kind, seq, job_id)
        if problem:
            return problem
    outcome = proposal.outcome
    if outcome == UNRESOLVABLE:
        if not unresolvable_proven(kind, proposal.observations, committee.n, committee.quorum, tolerance):
            return "observations do not prove the job unresolvable"
        return None
    if len(proposal.observations) < committee.quorum:
        return f"a committed outcome needs {committee.quorum} observations, got {len(proposal.observations)}"
    if kind == "exact":
        digest = outcome.get("result_digest")
        if set(outcome) != {"status", "result_digest"} or outcome.get("status") != "committed":
            return "malformed exact outcome"
        if any(observation_digest(m) != digest for m in proposal.observations):
            return "observations disagree with the proposed result digest"
        return None
    value = outcome.get("value")
    if set(outcome) != {"status", "value"} or outcome.get("status") != "committed" or not isinstance(value, float):
        return "malformed numeric outcome"
    if value != median([observation_value(m) or 0.0 for m in proposal.observations]):
        return "proposed value is not the median of the observations"
    return None


def acceptable(
    proposal: Proposal, committee: Committee, *, own_result: bytes | None, own_value: float | None, tolerance: float
) -> str | None:
    """Why an honest member holding its own result refuses `proposal` (None when it agrees)."""
    outcome = proposal.outcome
    if outcome == UNRESOLVABLE:
        return None
    if "result_digest" in outcome:
        if own_result is None:
            return "no result of our own yet"
        if outcome["result_digest"] != digest_of_bytes(own_result):
            return "proposed result differs from ours"
        bad = [m.sender for m in proposal.observations if not _proof_ok(m, own_result, committee)]
        return f"knowledge proofs of members {bad} do not match the result" if bad else None
    if own_value is None:
        return "no value of our own yet"
    if abs(float(outcome["value"]) - own_value) > tolerance:
        return f"proposed value {outcome['value']} is more than {tolerance} from ours ({own_value})"
    return None

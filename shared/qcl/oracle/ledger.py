"""Reputation: rewards for timely correct votes, penalties by evidence kind, exclusion past a threshold.

    ledger = Ledger(committee)
    ledger.record_attestation(attestation)     # members in it earn, members absent from it miss
    ledger.record_evidence(evidence)           # verified first; each piece counts once
    ledger.excluded()                          # at most f members, worst first

Scores are an exponential moving average in [0, 1], starting at 1 (the design sketch in the reference notes §5):
a reward pulls towards 1, a miss towards 0 (a member absent from every job falls below the threshold after ~14
jobs), a deviation or a bad knowledge proof costs a fixed amount (graded: an honest member with broken determinism
deviates too), and equivocation tombstones at once (Cosmos x/slashing treats double-signing the same way). Never
more than f members are excluded: excluding more would leave fewer than 2f+1 to decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qcl.events import OracleResult
from qcl.oracle.committee import Committee
from qcl.oracle.evidence import Evidence, verify_evidence


@dataclass(frozen=True)
class LedgerRules:
    ema: float = 0.05  # weight of one job in the moving average
    deviation_penalty: float = 0.25  # two deviations and a member sits at the threshold
    exclusion_threshold: float = 0.5


@dataclass
class Ledger:
    committee: Committee
    rules: LedgerRules = field(default_factory=LedgerRules)
    scores: dict[str, float] = field(default_factory=dict)
    tombstoned: set[str] = field(default_factory=set)
    counted: set[tuple[str, str, int]] = field(default_factory=set)  # evidence keys already applied
    jobs: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for member in self.committee.members:
            self.scores.setdefault(member.node_id, 1.0)

    def record_attestation(self, attestation: OracleResult) -> None:
        """Reward the members whose observation or commit is in the certificate; the others earn nothing."""
        if attestation.job_id in self.jobs:
            return
        self.jobs.add(attestation.job_id)
        present = {o.node_id for o in attestation.observations} | {s.node_id for s in attestation.certificate}
        alpha = self.rules.ema
        for node_id, score in self.scores.items():
            target = 1.0 if node_id in present else 0.0
            self.scores[node_id] = score + alpha * (target - score)

    def record_evidence(self, evidence: Evidence) -> None:
        """Apply verified evidence once; unverifiable evidence raises EvidenceError and changes nothing."""
        if evidence.key in self.counted:
            return
        verify_evidence(evidence, self.committee)
        self.counted.add(evidence.key)
        node = evidence.node_id
        if evidence.kind == "equivocation":
            self.tombstoned.add(node)
            self.scores[node] = 0.0
        elif evidence.kind in ("deviation", "bad-knowledge-proof"):
            self.scores[node] = max(0.0, self.scores[node] - self.rules.deviation_penalty)
        else:  # downtime: a miss
            self.scores[node] = self.scores[node] * (1 - self.rules.ema)

    def excluded(self) -> list[str]:
        """Members below the threshold (tombstoned first, then lowest score), at most f of them."""
        below = [n for n, s in self.scores.items() if n in self.tombstoned or s < self.rules.exclusion_threshold]
        ranked = sorted(below, key=lambda n: (n not in self.tombstoned, self.scores[n], n))
        return ranked[: self.committee.f]

    def excluded_indices(self) -> frozenset[int]:
        return frozenset(i for n in self.excluded() if (i := self.committee.index_of(n)) is not None)

    def to_json(self) -> dict[str, object]:
        return {
            "scores": {n: round(s, 4) for n, s in self.scores.items()},
            "tombstoned": sorted(self.tombstoned),
            "excluded": self.excluded(),
        }

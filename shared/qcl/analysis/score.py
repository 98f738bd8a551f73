"""The health score and status.

Rule: score = max(0, 100 − 40 × (critical findings) − 15 × (warning findings)); info findings cost nothing.
Each finding code appears at most once per report, so one problem is counted once.
Status: "healthy" if score ≥ 80, "degraded" if score ≥ 50, else "critical".
So one warning leaves the network healthy (85), one critical finding makes it degraded (60), and a critical
finding with any warning, or four warnings together, make it critical.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from qcl.analysis.report import Finding

PENALTY = {"critical": 40, "warning": 15, "info": 0}
HEALTHY_MIN = 80
DEGRADED_MIN = 50

Status = Literal["healthy", "degraded", "critical"]


def health_score(findings: Iterable[Finding]) -> int:
    return max(0, 100 - sum(PENALTY[finding.severity] for finding in findings))


def status_for(score: int) -> Status:
    if score >= HEALTHY_MIN:
        return "healthy"
    return "degraded" if score >= DEGRADED_MIN else "critical"

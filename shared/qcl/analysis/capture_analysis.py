"""A whole capture, step by step: the findings raised along the way and the final report.

    from qcl.qubic.capture import read_capture
    result = analyze_capture(read_capture(Path("capture.jsonl")))
    print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))

Each valid, consistent observation joins a rolling window of `window_s` seconds and the window is analyzed; an
unreadable line or an impossible observation becomes a data_invalid report and is left out of the window.
A finding is *raised* at onset: when its code was not active at the previous step, or is active again at a
higher severity (escalation). A ten-minute stall is therefore one tick_stall finding (two if it escalates), not
one per observation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qcl.analysis.engine import RollingAnalysis
from qcl.analysis.report import SEVERITY_RANK, AnalysisReport, Finding, FindingCode
from qcl.qubic.capture import InvalidLine
from qcl.qubic.types import Observation

DAY_S = 86400


@dataclass(frozen=True)
class CaptureAnalysis:
    report: AnalysisReport  # the report at the last item of the capture
    findings: list[Finding]  # every finding raised along the way, in order
    observations: int  # valid observations analyzed
    invalid: int  # lines that did not parse, and observations rejected as impossible

    def to_json(self) -> dict[str, Any]:
        return {
            "health_score": self.report.health_score,
            "status": self.report.status,
            "findings": [finding.model_dump(mode="json") for finding in self.findings],
            "observations": self.observations,
            "invalid_lines": self.invalid,
            "final_report": self.report.model_dump(mode="json"),
        }


def analyze_capture(items: Iterable[Observation | InvalidLine], *, window_s: int = DAY_S) -> CaptureAnalysis:
    """Run the engine over a capture in order; see the module docstring for what is raised when."""
    run = _Run(window_s)
    report: AnalysisReport | None = None
    for item in items:
        if isinstance(item, InvalidLine):
            report = run.reject(item.reason, item.observed_at)
        elif (reason := run.rolling.check(item)) is not None:
            report = run.reject(reason, item.observed_at)
        else:
            report = run.accept(item)
        run.raise_onsets(report)
    if report is None:
        report = run.reject("the capture holds no observations", None)
        run.invalid = 0
    return CaptureAnalysis(report=report, findings=run.raised, observations=run.observations, invalid=run.invalid)


class _Run:
    """The state carried between steps: the rolling window, what was active, what was raised."""

    def __init__(self, window_s: int) -> None:
        self.rolling = RollingAnalysis(window_s)
        self.active: dict[FindingCode, int] = {}  # code -> severity rank at the previous step
        self.raised: list[Finding] = []
        self.observations = 0
        self.invalid = 0

    def accept(self, observation: Observation) -> AnalysisReport:
        self.observations += 1
        return self.rolling.accept(observation)

    def reject(self, reason: str, observed_at: datetime | None) -> AnalysisReport:
        self.invalid += 1
        return self.rolling.reject(reason, observed_at)

    def raise_onsets(self, report: AnalysisReport) -> None:
        active: dict[FindingCode, int] = {}
        for finding in report.findings:
            rank = SEVERITY_RANK[finding.severity]
            active[finding.code] = rank
            if finding.code not in self.active or rank > self.active[finding.code]:
                self.raised.append(finding)
        self.active = active

"""Which analysis reports the narrator service narrates: material changes, and a routine one now and then."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from qcl.analysis.report import AnalysisReport, Finding
from qcl.bench.narrate import policy_figures, sample_onset_reports
from qcl.pipeline.narrator import material_change
from qcl.qubic.capture import read_capture
from qcl.qubic.synth import sample_capture_path

INTERVAL_S = 900.0


@cache
def stall_warning() -> AnalysisReport:
    return next(
        r for r in sample_onset_reports() if [(f.code, f.severity) for f in r.findings] == [("tick_stall", "warning")]
    )


def narrated(report: AnalysisReport, **changes: Any) -> dict[str, Any]:
    summary = {
        "observed_at": report.observed_at.timestamp(),
        "status": report.status,
        "findings": {f.code.value: {"info": 0, "warning": 1, "critical": 2}[f.severity] for f in report.findings},
    }
    return summary | changes


def later(
    report: AnalysisReport, seconds: float, findings: list[Finding] | None = None, **changes: Any
) -> AnalysisReport:
    update: dict[str, Any] = {"observed_at": report.observed_at + timedelta(seconds=seconds), **changes}
    if findings is not None:
        update["findings"] = findings
    return report.model_copy(update=update)


def test_the_first_report_is_narrated() -> None:
    assert material_change(None, stall_warning(), INTERVAL_S) == "first report"


def test_the_same_state_half_a_minute_later_is_not_narrated() -> None:
    report = stall_warning()
    assert material_change(narrated(report), later(report, 30), INTERVAL_S) is None


def test_a_status_change_is_narrated() -> None:
    report = stall_warning()
    assert material_change(narrated(report, status="critical"), later(report, 30), INTERVAL_S) == (
        f"status critical -> {report.status}"
    )


def test_a_new_finding_code_is_narrated() -> None:
    report = stall_warning()
    assert material_change(narrated(report, findings={}), later(report, 30), INTERVAL_S) == "new finding tick_stall"


def test_an_escalated_finding_is_narrated() -> None:
    report = stall_warning()
    escalated = [report.findings[0].model_copy(update={"severity": "critical"})]
    assert material_change(narrated(report), later(report, 30, escalated), INTERVAL_S) == (
        "tick_stall escalated to critical"
    )


def test_a_finding_that_ends_is_not_by_itself_a_change() -> None:
    report = stall_warning()
    assert material_change(narrated(report), later(report, 30, findings=[]), INTERVAL_S) is None


def test_an_unchanged_state_is_narrated_again_after_the_interval() -> None:
    report = stall_warning()
    assert (
        material_change(narrated(report), later(report, INTERVAL_S), INTERVAL_S)
        == "routine (15 min since the last narrative)"
    )


def test_the_service_narrates_a_few_percent_of_the_sample_s_reports() -> None:
    figures = policy_figures(read_capture(sample_capture_path()), interval_s=INTERVAL_S)
    assert figures["reports"] == 1038
    assert 0 < figures["narrated"] < figures["reports"] / 10
    assert figures["by_reason"]["first"] == 1 and figures["by_reason"]["routine"] > 0


def test_a_report_not_newer_than_the_last_narrated_one_is_not_narrated() -> None:
    report = stall_warning()
    assert material_change(narrated(report, status="critical"), later(report, -30), INTERVAL_S) is None

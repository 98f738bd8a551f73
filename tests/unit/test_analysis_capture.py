"""analyze_capture: findings raised at onset and on escalation, invalid lines skipped, the JSON contract."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from qcl.analysis import CaptureAnalysis, FindingCode, analyze_capture
from qcl.qubic.capture import parse_line
from qcl.qubic.synth import Episode, generate_lines

SATURDAY = datetime(2025, 11, 8, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return SATURDAY + timedelta(minutes=minutes)


def run(*episodes: Episode, hours: float = 2.0, window_s: int = 86400) -> CaptureAnalysis:
    lines = generate_lines(start=SATURDAY, hours=hours, episodes=episodes)
    return analyze_capture((parse_line(line, number) for number, line in enumerate(lines, 1)), window_s=window_s)


def severities(result: CaptureAnalysis, code: FindingCode) -> list[str]:
    return [finding.severity for finding in result.findings if finding.code == code]


@pytest.fixture(scope="module")
def stall_run() -> CaptureAnalysis:
    return run(Episode("stall", at(60), at(70)), Episode("truncated_line", at(90)))


def test_long_stall_is_raised_once_and_once_more_when_it_escalates(stall_run: CaptureAnalysis) -> None:
    assert severities(stall_run, FindingCode.TICK_STALL) == ["warning", "critical"]


def test_finding_raised_at_onset_carries_the_onset_time(stall_run: CaptureAnalysis) -> None:
    first = next(f for f in stall_run.findings if f.code == FindingCode.TICK_STALL)
    assert at(60) < first.observed_at <= at(61.5)


def test_easing_finding_is_not_raised_again() -> None:
    # The empty-tick share climbs through warning to critical, then falls back through warning.
    result = run(Episode("empty_ticks", at(60), at(70), 0.35))
    assert severities(result, FindingCode.EMPTY_TICKS_HIGH) == ["warning", "critical"]


def test_unreadable_line_becomes_data_invalid_and_is_skipped(stall_run: CaptureAnalysis) -> None:
    invalid = [f for f in stall_run.findings if f.code == FindingCode.DATA_INVALID]
    assert len(invalid) == 1 and "not JSON" in invalid[0].message_en
    assert stall_run.invalid == 1 and stall_run.observations == 239


def test_impossible_observation_is_rejected_and_kept_out_of_the_window() -> None:
    result = run(Episode("tick_backwards", at(30), None, 1500), Episode("duplicate_line", at(50)), hours=1)
    reasons = [str(f.evidence["reason"]) for f in result.findings if f.code == FindingCode.DATA_INVALID]
    assert len(reasons) == 2 and "tick_info.tick went backwards" in reasons[0] and "duplicate" in reasons[1]
    assert result.invalid == 2 and result.report.window_observations == result.observations == 119


def test_a_finding_active_through_an_invalid_line_is_not_raised_again() -> None:
    result = run(Episode("stall", at(60), at(70)), Episode("truncated_line", at(65)))
    assert severities(result, FindingCode.TICK_STALL) == ["warning", "critical"]


def test_window_rolls_over_window_s() -> None:
    result = run(hours=2, window_s=1800)
    assert 59 <= result.report.window_observations <= 61


def test_to_json_has_the_agreed_shape(stall_run: CaptureAnalysis) -> None:
    body = stall_run.to_json()
    assert list(body) == ["health_score", "status", "findings", "observations", "invalid_lines", "final_report"]
    assert body["health_score"] == stall_run.report.health_score and isinstance(body["health_score"], int)
    assert body["status"] == stall_run.report.status
    assert body["observations"] == 239 and body["invalid_lines"] == 1
    assert [f["code"] for f in body["findings"]] == [f.code.value for f in stall_run.findings]
    assert body["findings"][0]["observed_at"].endswith("Z")  # JSON mode: strings, not datetimes
    assert body["final_report"]["health_score"] == body["health_score"]
    json.dumps(body, ensure_ascii=False)  # serialisable as is


def test_empty_capture_reports_no_observations() -> None:
    result = analyze_capture([])
    assert result.observations == 0 and result.invalid == 0 and result.findings == []
    assert result.report.metrics is None
    assert [f.code for f in result.report.findings] == [FindingCode.DATA_INVALID]

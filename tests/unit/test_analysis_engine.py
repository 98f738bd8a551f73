"""The engine's contract: analyze_window, invalid_report, check_consistency and the health score rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qcl.analysis import (
    Finding,
    FindingCode,
    analyze_window,
    check_consistency,
    health_score,
    invalid_report,
    status_for,
)
from qcl.qubic.synth import (
    Episode,
    generate_observations,
    with_archive,
    with_stats,
    with_tick,
    with_time,
    without_archive,
)
from qcl.qubic.types import Observation

SATURDAY = datetime(2025, 11, 8, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def calm() -> list[Observation]:
    return generate_observations(start=SATURDAY, hours=1.5)


@pytest.fixture(scope="module")
def stalled() -> list[Observation]:
    """Calm for an hour, then 5 minutes on one tick."""
    start = SATURDAY + timedelta(hours=1)
    window = generate_observations(
        start=SATURDAY, hours=1.1, episodes=[Episode("stall", start, start + timedelta(hours=1))]
    )
    return [o for o in window if o.observed_at <= start + timedelta(minutes=5)]


def finding(severity: str) -> Finding:
    return Finding(
        code=FindingCode.TICK_STALL,
        severity=severity,
        observed_at=SATURDAY,
        tick=1,
        metric="m",
        value=1.0,
        threshold=1.0,
        message_en="x",
        message_zh="x",
    )


# --- analyze_window --------------------------------------------------------------------------------------------


def test_report_describes_the_last_observation(calm: list[Observation]) -> None:
    report = analyze_window(calm, observation_event_id="evt-1")
    last = calm[-1]
    assert report.observed_at == last.observed_at and report.observation_event_id == "evt-1"
    assert report.window_observations == len(calm)
    assert report.metrics is not None
    assert (report.metrics.tick, report.metrics.epoch, report.metrics.price_usd) == (
        last.tick.tick,
        last.tick.epoch,
        last.stats.price,
    )
    assert report.metrics.archive_lag_ticks == last.tick.tick - last.last_processed_tick.tick_number  # type: ignore[union-attr]
    assert report.metrics.tick_rate_per_s is not None and 0.8 < report.metrics.tick_rate_per_s < 1.1


def test_every_finding_fills_every_field(stalled: list[Observation]) -> None:
    report = analyze_window(stalled)
    assert report.findings
    for item in report.findings:
        assert item.tick == stalled[-1].tick.tick and item.observed_at == stalled[-1].observed_at
        assert item.metric and item.message_en and item.message_zh and item.evidence
        assert item.value is not None


def test_analysis_is_deterministic(stalled: list[Observation]) -> None:
    assert analyze_window(stalled).model_dump() == analyze_window(list(stalled)).model_dump()


def test_each_code_appears_at_most_once_per_report(stalled: list[Observation]) -> None:
    codes = [item.code for item in analyze_window(stalled).findings]
    assert len(codes) == len(set(codes))


def test_empty_window_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least one observation"):
        analyze_window([])


def test_unsorted_window_is_rejected(calm: list[Observation]) -> None:
    with pytest.raises(ValueError, match="item 2"):
        analyze_window([calm[0], calm[2], calm[1]])


def test_single_observation_is_enough(calm: list[Observation]) -> None:
    report = analyze_window(calm[:1])
    assert report.health_score == 100 and report.metrics is not None and report.metrics.tick_rate_per_s is None


# --- invalid_report -----------------------------------------------------------------------------------------


def test_invalid_report_carries_the_reason_and_the_last_metrics(calm: list[Observation]) -> None:
    moment = calm[-1].observed_at + timedelta(seconds=30)
    report = invalid_report("line 7: not JSON", observed_at=moment, window=calm, observation_event_id="evt-9")
    invalid = [item for item in report.findings if item.code == FindingCode.DATA_INVALID]
    assert len(invalid) == 1 and invalid[0].severity == "warning"
    assert invalid[0].evidence["reason"] == "line 7: not JSON" and "line 7: not JSON" in invalid[0].message_en
    assert "line 7: not JSON" in invalid[0].message_zh
    assert report.observed_at == moment and report.observation_event_id == "evt-9"
    assert report.metrics is not None and report.metrics.tick == calm[-1].tick.tick


def test_invalid_report_keeps_the_findings_of_the_last_valid_observation(stalled: list[Observation]) -> None:
    report = invalid_report("bad", observed_at=None, window=stalled)
    assert {item.code for item in report.findings} >= {FindingCode.TICK_STALL, FindingCode.DATA_INVALID}
    assert report.observed_at == stalled[-1].observed_at
    assert report.health_score == health_score(report.findings)


def test_invalid_report_without_a_window_has_no_metrics() -> None:
    report = invalid_report("bad", observed_at=SATURDAY, window=[])
    assert report.metrics is None and report.observed_at == SATURDAY
    assert [item.code for item in report.findings] == [FindingCode.DATA_INVALID]
    assert report.health_score == 85


def test_invalid_report_without_any_time_uses_now() -> None:
    before = datetime.now(UTC)
    report = invalid_report("bad", observed_at=None, window=[])
    assert before <= report.observed_at <= datetime.now(UTC)


# --- check_consistency ---------------------------------------------------------------------------------------


def test_next_observation_is_consistent(calm: list[Observation]) -> None:
    assert check_consistency(calm[:-1], calm[-1]) is None
    assert check_consistency([], calm[0]) is None


def test_tick_going_backwards_is_inconsistent(calm: list[Observation]) -> None:
    back = with_tick(calm[-1], tick=calm[-2].tick.tick - 1500)
    reason = check_consistency(calm[:-1], back)
    assert reason is not None and "tick_info.tick went backwards" in reason
    assert str(calm[-2].tick.tick - 1500) in reason and str(calm[-2].tick.tick) in reason


def test_lower_tick_in_a_new_interval_is_consistent(calm: list[Observation]) -> None:
    # Only within one interval (same epoch and initialTick) must the tick not go back.
    lower = calm[-2].tick.tick - 100
    restarted = without_archive(with_tick(calm[-1], tick=lower, initial_tick=lower - 10))
    assert check_consistency(calm[:-1], restarted) is None


def test_duplicate_time_is_inconsistent(calm: list[Observation]) -> None:
    reason = check_consistency(calm, calm[-1])
    assert reason is not None and "not after the previous observation" in reason


def test_earlier_time_is_inconsistent(calm: list[Observation]) -> None:
    early = with_time(calm[-1], calm[-2].observed_at - timedelta(seconds=1))
    reason = check_consistency(calm[:-1], early)
    assert reason is not None and "out of order" in reason


def test_epoch_going_backwards_is_inconsistent(calm: list[Observation]) -> None:
    back = with_stats(with_tick(calm[-1], epoch=185), epoch=185)
    reason = check_consistency(calm[:-1], back)
    assert reason is not None and "epoch went backwards: 185 after 186" in reason


def test_stats_epoch_far_from_the_live_epoch_is_inconsistent(calm: list[Observation]) -> None:
    reason = check_consistency(calm[:-1], with_stats(calm[-1], epoch=184))
    assert reason is not None and "latest_stats.epoch 184" in reason and "differ by 2" in reason


def test_archive_ahead_of_the_live_tick_is_inconsistent(calm: list[Observation]) -> None:
    ahead = with_archive(calm[-1], tick_number=calm[-1].tick.tick + 500)
    reason = check_consistency(calm[:-1], ahead)
    assert reason is not None and "500 ticks ahead" in reason


def test_archive_a_few_ticks_ahead_is_tolerated(calm: list[Observation]) -> None:
    assert check_consistency(calm[:-1], with_archive(calm[-1], tick_number=calm[-1].tick.tick + 3)) is None


# --- health score -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severities", "score", "status"),
    [
        ([], 100, "healthy"),
        (["info", "info"], 100, "healthy"),
        (["warning"], 85, "healthy"),
        (["warning", "warning"], 70, "degraded"),
        (["critical"], 60, "degraded"),
        (["critical", "warning"], 45, "critical"),
        (["critical", "critical", "critical"], 0, "critical"),
    ],
)
def test_health_score_rule(severities: list[str], score: int, status: str) -> None:
    findings = [finding(severity) for severity in severities]
    assert health_score(findings) == score
    assert status_for(score) == status


def test_report_score_follows_its_findings(stalled: list[Observation]) -> None:
    report = analyze_window(stalled)
    assert report.health_score == health_score(report.findings) == 60 and report.status == "degraded"

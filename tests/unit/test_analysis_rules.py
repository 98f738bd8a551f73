"""Each finding code fires in a focused synthetic window, and calm data raises nothing above info."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from qcl.analysis import AnalysisReport, Finding, FindingCode, analyze_capture, analyze_window
from qcl.qubic.synth import (
    Episode,
    generate_observations,
    with_archive,
    with_stats,
    with_tick,
    without_archive,
)
from qcl.qubic.types import Observation

SATURDAY = datetime(2025, 11, 8, 12, 0, tzinfo=UTC)  # epoch 186, days away from the Wednesday transition
WEDNESDAY = datetime(2025, 11, 12, 10, 0, tzinfo=UTC)  # epoch 186 → 187 at 12:00, restart at 12:25


def at(minutes: float, start: datetime = SATURDAY) -> datetime:
    return start + timedelta(minutes=minutes)


def observe(
    *episodes: Episode,
    hours: float = 2.0,
    start: datetime = SATURDAY,
    seconds_per_tick: float = 1.06,
    halt_s: float = 1500,
) -> list[Observation]:
    return generate_observations(
        start=start, hours=hours, episodes=episodes, seconds_per_tick=seconds_per_tick, halt_s=halt_s
    )


def until(window: Sequence[Observation], moment: datetime) -> list[Observation]:
    return [observation for observation in window if observation.observed_at <= moment]


def found(report: AnalysisReport, code: FindingCode) -> Finding | None:
    return next((finding for finding in report.findings if finding.code == code), None)


@pytest.fixture(scope="module")
def calm() -> list[Observation]:
    return observe(hours=2.0)


def test_calm_window_reports_only_info(calm: list[Observation]) -> None:
    report = analyze_window(calm)
    assert [finding.severity for finding in report.findings] == ["info"]  # the price trend
    assert report.health_score == 100


@pytest.mark.parametrize(("seed", "seconds_per_tick"), [(1, 0.4), (2, 1.06), (3, 1.2)])
def test_calm_hours_raise_nothing_above_info_at_any_step(seed: int, seconds_per_tick: float) -> None:
    observations = generate_observations(start=SATURDAY, hours=4, seed=seed, seconds_per_tick=seconds_per_tick)
    result = analyze_capture(observations)
    assert [(f.code, f.severity) for f in result.findings if f.severity != "info"] == []


def test_calm_wednesday_transition_raises_nothing_above_info() -> None:
    result = analyze_capture(observe(hours=5, start=WEDNESDAY))
    assert [(f.code, f.severity) for f in result.findings if f.severity != "info"] == []
    assert FindingCode.EPOCH_TRANSITION in {finding.code for finding in result.findings}


# --- tick_stall and epoch_transition ----------------------------------------------------------------------


def test_ten_minute_stall_is_a_critical_tick_stall() -> None:
    window = observe(Episode("stall", at(60), at(70)))
    stall = found(analyze_window(until(window, at(69, SATURDAY))), FindingCode.TICK_STALL)
    assert stall is not None and stall.severity == "critical"
    assert stall.evidence["stall_s"] is not None and 500 <= float(stall.evidence["stall_s"]) <= 570


def test_stall_just_past_the_threshold_is_a_warning() -> None:
    window = observe(Episode("stall", at(60), at(70)))
    stall = found(analyze_window(until(window, at(61.2))), FindingCode.TICK_STALL)
    assert stall is not None and stall.severity == "warning"
    assert stall.threshold == 32  # 30 ticks × the epoch's 1.06 s


def test_stall_finding_states_its_numbers_in_both_languages() -> None:
    window = observe(Episode("stall", at(60), at(70)))
    stall = found(analyze_window(until(window, at(65))), FindingCode.TICK_STALL)
    assert stall is not None
    assert f"{stall.value:g} s" in stall.message_en and f"{stall.value:g} 秒" in stall.message_zh
    assert str(stall.tick) in stall.message_en and stall.metric == "tick_info.duration_s"


def test_stall_during_epoch_transition_is_not_critical() -> None:
    window = observe(hours=3, start=WEDNESDAY)
    report = analyze_window(until(window, datetime(2025, 11, 12, 12, 20, tzinfo=UTC)))  # halted since 12:00
    assert found(report, FindingCode.TICK_STALL) is None
    transition = found(report, FindingCode.EPOCH_TRANSITION)
    assert transition is not None and transition.severity == "info"
    assert transition.value is not None and float(transition.value) > 1000  # seconds halted


def test_epoch_change_is_an_epoch_transition_info() -> None:
    window = observe(hours=3, start=WEDNESDAY)
    report = analyze_window(until(window, datetime(2025, 11, 12, 12, 40, tzinfo=UTC)))
    transition = found(report, FindingCode.EPOCH_TRANSITION)
    assert transition is not None and transition.severity == "info"
    assert (transition.evidence["previous_epoch"], transition.evidence["epoch"]) == (186, 187)
    assert transition.evidence["initial_tick"] == 37_011_000


def test_transition_halt_running_past_the_wednesday_window_is_not_a_stall() -> None:
    window = observe(hours=4.5, start=WEDNESDAY, halt_s=2 * 3600)  # epoch 187 only at 14:00
    report = analyze_window(until(window, datetime(2025, 11, 12, 13, 45, tzinfo=UTC)))
    assert window[-1].tick.epoch == 187
    assert found(report, FindingCode.TICK_STALL) is None
    assert found(report, FindingCode.EPOCH_TRANSITION) is not None


def test_stall_soon_after_an_observed_epoch_change_is_not_a_tick_stall() -> None:
    restart = datetime(2025, 11, 12, 13, 20, tzinfo=UTC)
    stall = Episode("stall", restart + timedelta(minutes=15), restart + timedelta(minutes=25))
    window = observe(stall, hours=4, start=WEDNESDAY, halt_s=80 * 60)
    report = analyze_window(until(window, restart + timedelta(minutes=22)))  # 13:42, after the Wednesday window
    assert found(report, FindingCode.TICK_STALL) is None
    assert found(report, FindingCode.EPOCH_TRANSITION) is not None


def test_same_stall_on_another_day_is_a_tick_stall() -> None:
    window = observe(Episode("stall", at(60), at(70)))
    assert found(analyze_window(until(window, at(67))), FindingCode.TICK_STALL) is not None


@pytest.mark.parametrize(("stall_s", "severity"), [(25, None), (40, "warning"), (100, "warning"), (130, "critical")])
def test_stall_severity_follows_its_length(calm: list[Observation], stall_s: int, severity: str | None) -> None:
    stuck = with_tick(calm[-1], tick=calm[-2].tick.tick, duration=stall_s)
    finding = found(analyze_window([*calm[:-1], stuck]), FindingCode.TICK_STALL)
    assert (finding.severity if finding else None) == severity


def test_stall_threshold_adapts_to_the_epochs_tick_time() -> None:
    def stalled_for_33_s(seconds_per_tick: float) -> Finding | None:
        window = observe(hours=1, seconds_per_tick=seconds_per_tick)
        last, before = window[-1], window[-2]
        stuck = with_tick(last, tick=before.tick.tick, duration=33)
        return found(analyze_window([*window[:-1], stuck]), FindingCode.TICK_STALL)

    fast = stalled_for_33_s(0.4)  # threshold max(30 s, 30 × 0.4 s) = 30 s
    slow = stalled_for_33_s(1.2)  # threshold 30 × 1.2 s = 36 s
    assert fast is not None and fast.severity == "warning"
    assert slow is None


# --- tick_rate_low -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("seconds_per_tick", "low"), [(0.4, True), (1.2, False)])
def test_tick_rate_threshold_adapts_to_the_epochs_tick_time(seconds_per_tick: float, low: bool) -> None:
    one_tick_per_second = Episode("slow_ticks", at(60), at(80), seconds_per_tick)
    window = observe(one_tick_per_second, seconds_per_tick=seconds_per_tick)
    finding = found(analyze_window(until(window, at(70))), FindingCode.TICK_RATE_LOW)
    assert (finding is not None) is low


def test_ticks_at_a_third_of_the_normal_rate_are_a_warning() -> None:
    window = observe(Episode("slow_ticks", at(60), at(80), 0.33))
    finding = found(analyze_window(until(window, at(70))), FindingCode.TICK_RATE_LOW)
    assert finding is not None and finding.severity == "warning"
    assert finding.value is not None and 25 <= float(finding.value) < 50


def test_ticks_below_a_quarter_of_the_normal_rate_are_critical() -> None:
    window = observe(Episode("slow_ticks", at(60), at(80), 0.15))
    finding = found(analyze_window(until(window, at(70))), FindingCode.TICK_RATE_LOW)
    assert finding is not None and finding.severity == "critical"


def test_tick_rate_low_needs_half_an_hour_of_the_epoch() -> None:
    young = observe(Episode("slow_ticks", at(7), at(20), 0.2))
    assert found(analyze_window(until(young, at(12.5))), FindingCode.TICK_RATE_LOW) is None
    older = observe(Episode("slow_ticks", at(40), at(60), 0.2))  # the same stretch after 40 min of the epoch
    assert found(analyze_window(until(older, at(45.5))), FindingCode.TICK_RATE_LOW) is not None


def test_ticks_resuming_after_a_stall_are_not_a_low_tick_rate() -> None:
    window = observe(Episode("stall", at(60), at(70)))
    report = analyze_window(until(window, at(72)))
    assert found(report, FindingCode.TICK_RATE_LOW) is None
    assert found(report, FindingCode.TICK_STALL) is None


# --- empty_ticks_high and tick_quality_drop -----------------------------------------------------------------


def test_burst_of_empty_ticks_raises_empty_ticks_high() -> None:
    window = observe(Episode("empty_ticks", at(60), at(70), 0.35))
    finding = found(analyze_window(until(window, at(70))), FindingCode.EMPTY_TICKS_HIGH)
    assert finding is not None and finding.severity == "critical"
    assert finding.metric == "latest_stats.recent_empty_share_pct"
    assert finding.value is not None and 25 <= float(finding.value) <= 45


@pytest.mark.parametrize(("quality", "severity"), [(98.5, None), (95.0, "warning"), (85.0, "critical")])
def test_last_10k_quality_sets_empty_ticks_high(calm: list[Observation], quality: float, severity: str) -> None:
    last = with_stats(calm[-1], tick_quality_last_10k=quality)
    finding = found(analyze_window([*calm[:-1], last]), FindingCode.EMPTY_TICKS_HIGH)
    assert (finding.severity if finding else None) == severity


def test_low_last_10k_quality_in_a_young_epoch_is_not_reported(calm: list[Observation]) -> None:
    young = [with_stats(o, ticks_in_current_epoch=8000, empty_ticks_in_current_epoch=80) for o in calm[-3:]]
    young[-1] = with_stats(young[-1], tick_quality_last_10k=85.0, ticks_in_last_10k=8000)
    assert found(analyze_window([*calm[:-3], *young]), FindingCode.EMPTY_TICKS_HIGH) is None


def test_quality_drop_within_an_hour_raises_tick_quality_drop() -> None:
    evening = datetime(2025, 11, 12, 16, 0, tzinfo=UTC)  # epoch 187, about 12 000 ticks old
    window = observe(Episode("empty_ticks", at(60, evening), at(100, evening), 0.06), start=evening)
    finding = found(analyze_window(until(window, at(100, evening))), FindingCode.TICK_QUALITY_DROP)
    assert finding is not None and finding.severity == "warning"
    assert finding.metric == "latest_stats.epochTickQuality_drop_pp"
    assert finding.value is not None and 0.3 <= float(finding.value) < 1.0


@pytest.mark.parametrize(("quality", "severity"), [(98.4, None), (97.5, "warning"), (94.0, "critical")])
def test_epoch_quality_level_sets_tick_quality_drop(calm: list[Observation], quality: float, severity: str) -> None:
    flat = [with_stats(o, epoch_tick_quality=quality) for o in calm]  # no drop, only the level
    finding = found(analyze_window(flat), FindingCode.TICK_QUALITY_DROP)
    assert (finding.severity if finding else None) == severity


def test_quality_dip_in_a_young_epoch_is_at_most_info(calm: list[Observation]) -> None:
    young = [
        with_stats(o, ticks_in_current_epoch=2000, empty_ticks_in_current_epoch=140, epoch_tick_quality=93.0)
        for o in calm
    ]
    finding = found(analyze_window(young), FindingCode.TICK_QUALITY_DROP)
    assert finding is not None and finding.severity == "info"


# --- price ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("move", "code", "severity"), [
    (-0.12, FindingCode.PRICE_CRASH, "warning"),
    (-0.25, FindingCode.PRICE_CRASH, "critical"),
    (0.15, FindingCode.PRICE_SPIKE, "warning"),
    (0.30, FindingCode.PRICE_SPIKE, "critical"),
])  # fmt: skip
def test_sudden_price_move_raises_crash_or_spike(move: float, code: FindingCode, severity: str) -> None:
    window = observe(Episode("price_move", at(90), at(95), move))
    finding = found(analyze_window(until(window, at(100))), code)
    assert finding is not None and finding.severity == severity
    assert finding.value is not None and abs(float(finding.value) - 100 * move) < 3


def test_price_move_within_recent_volatility_is_not_a_crash(calm: list[Observation]) -> None:
    # Alternating ±4 % steps before the horizon: a 7 % fall is within 4 σ √n of such a market.
    base = calm[-1].stats.price
    jumpy = [with_stats(o, price=base * (1.04 if i % 2 else 0.96)) for i, o in enumerate(calm[:-10])]
    tail = [with_stats(o, price=base * 0.93) for o in calm[-10:]]
    report = analyze_window([*jumpy, *tail])
    assert found(report, FindingCode.PRICE_CRASH) is None


def test_price_trend_reports_direction_and_change() -> None:
    window = observe(Episode("price_move", at(60), at(120), 0.06))
    trend = found(analyze_window(window), FindingCode.PRICE_TREND)
    assert trend is not None and trend.severity == "info" and trend.value == "up"
    assert trend.evidence["change_1h_pct"] is not None and 4 < float(trend.evidence["change_1h_pct"]) < 8
    assert trend.evidence["change_24h_pct"] is None  # the window is 2 h long


def test_price_trend_needs_an_hour_of_prices(calm: list[Observation]) -> None:
    assert found(analyze_window(calm[:60]), FindingCode.PRICE_TREND) is None  # 30 min


# --- supply --------------------------------------------------------------------------------------------------


def test_supply_plus_burned_off_the_issuance_is_a_supply_anomaly(calm: list[Observation]) -> None:
    last = with_stats(calm[-1], burned_qus=calm[-1].stats.burned_qus + 5)
    finding = found(analyze_window([*calm[:-1], last]), FindingCode.SUPPLY_ANOMALY)
    assert finding is not None and finding.severity == "warning"
    assert finding.evidence["difference"] == 5 and "186000000000005" in finding.message_en


def test_supply_change_within_an_epoch_is_a_supply_anomaly(calm: list[Observation]) -> None:
    supply, burned = calm[-1].stats.circulating_supply, calm[-1].stats.burned_qus
    moved = [with_stats(o, circulating_supply=supply - 10**9, burned_qus=burned + 10**9) for o in calm[-4:]]
    finding = found(analyze_window([*calm[:-4], *moved]), FindingCode.SUPPLY_ANOMALY)
    assert finding is not None and finding.evidence["supply_change"] == -(10**9)
    assert "difference" not in finding.evidence  # the identity still holds


def test_new_epochs_supply_arriving_later_is_not_an_anomaly() -> None:
    # The stats API may load the new epoch's spectrum hours after the epoch number changes.
    window = until(observe(hours=3.5, start=WEDNESDAY), datetime(2025, 11, 12, 13, 10, tzinfo=UTC))
    old_supply = window[0].stats.circulating_supply
    late = datetime(2025, 11, 12, 13, 0, tzinfo=UTC)
    stale = [
        with_stats(o, circulating_supply=old_supply, burned_qus=187 * 10**12 - old_supply)
        if o.stats.epoch == 187 and o.observed_at < late
        else o
        for o in window
    ]
    assert found(analyze_window(stale), FindingCode.SUPPLY_ANOMALY) is None


def test_new_supply_with_a_new_epoch_is_not_an_anomaly() -> None:
    window = observe(hours=3.5, start=WEDNESDAY)  # epoch 187 and its supply arrive about 12:25
    assert window[0].stats.circulating_supply != window[-1].stats.circulating_supply
    assert found(analyze_window(window), FindingCode.SUPPLY_ANOMALY) is None


# --- archive_lag and data_gap --------------------------------------------------------------------------------


@pytest.mark.parametrize(("lag", "severity"), [(8, None), (100, None), (250, "warning"), (1500, "critical")])
def test_archive_lag_severity_follows_the_tick_gap(calm: list[Observation], lag: int, severity: str) -> None:
    behind = with_archive(calm[-1], tick_number=calm[-1].tick.tick - lag)
    finding = found(analyze_window([*calm[:-1], behind]), FindingCode.ARCHIVE_LAG)
    assert (finding.severity if finding else None) == severity


def test_archive_freeze_raises_archive_lag() -> None:
    window = observe(Episode("archive_freeze", at(60), at(80)))
    finding = found(analyze_window(until(window, at(79))), FindingCode.ARCHIVE_LAG)
    assert finding is not None and finding.severity == "critical"


def test_no_archive_body_means_no_archive_lag(calm: list[Observation]) -> None:
    stripped = [without_archive(o) for o in calm]
    report = analyze_window(stripped)
    assert found(report, FindingCode.ARCHIVE_LAG) is None and report.metrics is not None
    assert report.metrics.archive_lag_ticks is None


def test_missing_stretch_is_a_data_gap_at_the_first_observation_after_it() -> None:
    window = observe(Episode("gap", at(60), at(80)))
    after = next(i for i, o in enumerate(window) if o.observed_at >= at(80))
    gap = found(analyze_window(window[: after + 1]), FindingCode.DATA_GAP)
    assert gap is not None and gap.severity == "warning"
    assert gap.value is not None and 1200 <= float(gap.value) <= 1260 and gap.threshold == 300
    assert found(analyze_window(window[: after + 2]), FindingCode.DATA_GAP) is None


def test_a_few_missing_observations_are_not_a_data_gap(calm: list[Observation]) -> None:
    thinned = calm[:-6] + calm[-1:]  # 3 minutes without data
    assert found(analyze_window(thinned), FindingCode.DATA_GAP) is None

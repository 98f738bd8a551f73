"""The analysis engine: a window of observations in, a report with a health score and findings out.

    report = analyze_window(observations)            # the findings active at the last observation
    reason = check_consistency(observations, new)    # None, or why `new` cannot follow the window
    report = invalid_report(reason, observed_at=new.observed_at, window=observations)

    rolling = RollingAnalysis(window_s=86400)        # the same, one observation at a time: O(1) amortised a step
    report = rolling.step(new)                       # accepted into the window, or rejected as data_invalid

All functions are pure (invalid_report reads the clock only when it knows no time at all) and deterministic;
a RollingAnalysis step gives exactly the report analyze_window / invalid_report give for the same window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from qcl.analysis import rules_market, rules_network, rules_quality
from qcl.analysis.findings import iso
from qcl.analysis.report import AnalysisReport, Finding, FindingCode, NetworkMetrics
from qcl.analysis.score import health_score, status_for
from qcl.analysis.timeline import Timeline
from qcl.analysis.window import Sample, Window
from qcl.qubic.types import Observation

Rule = Callable[[Timeline], Finding | None]

# One rule per finding code (data_invalid comes from invalid_report); the order is the order of the report.
RULES: tuple[Rule, ...] = (
    rules_network.tick_stall,
    rules_network.epoch_transition,
    rules_network.tick_rate_low,
    rules_quality.empty_ticks_high,
    rules_quality.tick_quality_drop,
    rules_network.archive_lag,
    rules_network.data_gap,
    rules_market.supply_anomaly,
    rules_market.price_crash,
    rules_market.price_spike,
    rules_market.price_trend,
)

ARCHIVE_AHEAD_TOLERANCE = 50  # ticks: tick-info and the archive ask different nodes, a few ticks apart is normal
EPOCH_SKEW_LIMIT = 1  # the stats epoch (archive's) trails the live epoch by one during a transition


def analyze_window(window: Sequence[Observation], *, observation_event_id: str | None = None) -> AnalysisReport:
    """Analyze valid observations sorted by observed_at; report the findings active at the last one.

    Raises ValueError for an empty window or one not strictly ascending in observed_at (check_consistency keeps
    both out). The score is health_score(findings): 100 − 40 per critical − 15 per warning, floor 0 (score.py).
    """
    if not window:
        raise ValueError("analyze_window needs at least one observation; got an empty window")
    samples = [Sample.of(observation) for observation in window]
    for index in range(1, len(samples)):
        if samples[index].t <= samples[index - 1].t:
            raise ValueError(
                f"window must be sorted by observed_at without duplicates; item {index} "
                f"({iso(samples[index].observed_at)}) is not after item {index - 1} "
                f"({iso(samples[index - 1].observed_at)})"
            )
    return analyze_timeline(Timeline(Window(samples)), observation_event_id=observation_event_id)


def analyze_timeline(timeline: Timeline, *, observation_event_id: str | None = None) -> AnalysisReport:
    """The report at the timeline's newest sample."""
    findings = [finding for rule in RULES if (finding := rule(timeline)) is not None]
    return _report(findings, timeline.now.observed_at, _metrics(timeline), len(timeline), observation_event_id)


def invalid_report(
    reason: str,
    *,
    observed_at: datetime | None,
    window: Sequence[Observation],
    observation_event_id: str | None = None,
) -> AnalysisReport:
    """The report for a rejected observation: data_invalid, plus what the last valid observation showed."""
    timeline = Timeline(Window(Sample.of(observation) for observation in window)) if window else None
    return rejected_report(
        reason, observed_at=observed_at, timeline=timeline, observation_event_id=observation_event_id
    )


def rejected_report(
    reason: str,
    *,
    observed_at: datetime | None,
    timeline: Timeline | None,
    observation_event_id: str | None = None,
) -> AnalysisReport:
    """invalid_report on the timeline of the valid window (None when there is none yet)."""
    last = timeline.now if timeline else None
    at = observed_at or (last.observed_at if last else datetime.now(UTC))
    # The network did not change because one reading was bad: keep the findings of the last valid observation.
    previous = analyze_timeline(timeline).findings if timeline else []
    invalid = Finding(
        code=FindingCode.DATA_INVALID,
        severity="warning",
        observed_at=at,
        tick=None,
        metric="observation",
        value="rejected",
        threshold=None,
        message_en=f"Observation rejected and skipped: {reason}",
        message_zh=f"觀測資料無效，已略過：{reason}",
        evidence={"reason": reason, "last_valid_observed_at": iso(last.observed_at) if last else None},
    )
    metrics = _metrics(timeline) if timeline else None
    return _report([*previous, invalid], at, metrics, len(timeline) if timeline else 0, observation_event_id)


def check_consistency(window: Sequence[Observation], observation: Observation) -> str | None:
    """Why `observation` cannot follow the (valid, sorted) window, or None if it can."""
    return check_next(Sample.of(window[-1]) if window else None, observation)


def check_next(previous: Sample | None, observation: Observation) -> str | None:
    """check_consistency given only the window's newest sample (None for an empty window)."""
    tick, stats, archive = observation.tick, observation.stats, observation.last_processed_tick
    if previous is not None:
        if observation.observed_at <= previous.observed_at:
            return (
                f"observed_at {iso(observation.observed_at)} is not after the previous observation's "
                f"{iso(previous.observed_at)} (duplicate or out of order)"
            )
        if tick.epoch < previous.epoch:
            return f"tick_info.epoch went backwards: {tick.epoch} after {previous.epoch}"
        if tick.epoch == previous.epoch and tick.initial_tick == previous.initial_tick and tick.tick < previous.tick:
            return (
                f"tick_info.tick went backwards: {tick.tick} after {previous.tick} ({previous.tick - tick.tick} "
                f"ticks) in epoch {tick.epoch}, interval from initialTick {tick.initial_tick}"
            )
    if abs(stats.epoch - tick.epoch) > EPOCH_SKEW_LIMIT:
        return (
            f"latest_stats.epoch {stats.epoch} and tick_info.epoch {tick.epoch} differ by "
            f"{abs(stats.epoch - tick.epoch)} (at most {EPOCH_SKEW_LIMIT} expected)"
        )
    if archive is not None and archive.tick_number - tick.tick > ARCHIVE_AHEAD_TOLERANCE:
        return (
            f"last_processed_tick.tickNumber {archive.tick_number} is {archive.tick_number - tick.tick} ticks "
            f"ahead of the live tick_info.tick {tick.tick} (at most {ARCHIVE_AHEAD_TOLERANCE} expected)"
        )
    return None


class RollingAnalysis:
    """A rolling window of `window_s` seconds analysed one observation at a time, each step O(1) amortised.

    `step` is check, then accept or reject; callers that must do something between the check and the change
    (the analyzer stores the observation first) call the three themselves.
    """

    def __init__(self, window_s: float, samples: Iterable[Sample] = ()) -> None:
        self.window_s = window_s
        self.window = Window(samples)

    def step(self, observation: Observation, *, observation_event_id: str | None = None) -> AnalysisReport:
        reason = self.check(observation)
        if reason is not None:
            return self.reject(reason, observation.observed_at, observation_event_id=observation_event_id)
        return self.accept(observation, observation_event_id=observation_event_id)

    def check(self, observation: Observation) -> str | None:
        return check_next(self.window.last, observation)

    def accept(self, observation: Observation, *, observation_event_id: str | None = None) -> AnalysisReport:
        """Add a checked observation, drop what fell out of the window, and analyse."""
        sample = Sample.of(observation)
        self.window.append(sample)
        self.window.trim(sample.t - self.window_s)
        return self.report(observation_event_id=observation_event_id)

    def report(self, *, observation_event_id: str | None = None) -> AnalysisReport:
        """The report at the newest observation of the (non-empty) window."""
        return analyze_timeline(Timeline(self.window), observation_event_id=observation_event_id)

    def reject(
        self, reason: str, observed_at: datetime | None, *, observation_event_id: str | None = None
    ) -> AnalysisReport:
        timeline = Timeline(self.window) if len(self.window) else None
        return rejected_report(
            reason, observed_at=observed_at, timeline=timeline, observation_event_id=observation_event_id
        )


def _report(
    findings: list[Finding],
    observed_at: datetime,
    metrics: NetworkMetrics | None,
    window_observations: int,
    observation_event_id: str | None,
) -> AnalysisReport:
    score = health_score(findings)
    return AnalysisReport(
        observed_at=observed_at,
        health_score=score,
        status=status_for(score),
        metrics=metrics,
        findings=findings,
        window_observations=window_observations,
        observation_event_id=observation_event_id,
    )


def _metrics(timeline: Timeline) -> NetworkMetrics:
    now = timeline.now
    change_1h, change_24h = timeline.price_change_pct(3600), timeline.price_change_pct(86400)
    rate = timeline.recent_tick_rate
    return NetworkMetrics(
        epoch=now.epoch,
        tick=now.tick,
        tick_duration_s=now.duration_s,
        tick_rate_per_s=None if rate is None else round(rate, 3),
        epoch_tick_quality_pct=now.quality_pct,
        tick_quality_last_10k_pct=now.quality_last_10k_pct,
        empty_ticks_in_epoch=now.empty_ticks_in_epoch,
        ticks_in_epoch=now.ticks_in_epoch,
        price_usd=now.price_usd,
        price_change_1h_pct=None if change_1h is None else round(change_1h, 2),
        price_change_24h_pct=None if change_24h is None else round(change_24h, 2),
        circulating_supply=now.circulating_supply,
        burned_qus=now.burned_qus,
        market_cap_usd=now.market_cap_usd,
        active_addresses=now.active_addresses,
        archive_lag_ticks=None if now.archive_tick is None else now.tick - now.archive_tick,
    )

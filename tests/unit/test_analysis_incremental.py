"""Property: the incremental analysis gives, at every step, the report a full recomputation gives.

The full recomputation is `FullTimeline`: each quantity the rules read, computed from scratch by walking the whole
window (the engine's definitions before the running aggregates). Sequences mix in observations that are out of
order, duplicated or impossible, and unreadable lines, so data_invalid reports are compared too.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from datetime import timedelta
from fractions import Fraction
from functools import cached_property
from itertools import pairwise
from statistics import median
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qcl.analysis import analyze_capture
from qcl.analysis.engine import RollingAnalysis, analyze_timeline, rejected_report
from qcl.analysis.report import AnalysisReport
from qcl.analysis.timeline import (
    MIN_RATE_PAIRS,
    TARGET_SECONDS_PER_TICK,
    Timeline,
)
from qcl.analysis.window import Sample, log_return, same_interval, seconds_per_tick
from qcl.qubic.capture import InvalidLine
from qcl.qubic.types import Observation
from tests.unit.test_analysis_properties import build, step

DEFAULT_STEP: dict[str, Any] = {
    "gap_s": 30,
    "ticks": 40,
    "duration": 1,
    "new_epoch": False,
    "price_factor": 1.0,
    "price_zero": False,
    "empty_share": 0.01,
    "quality_10k": None,
    "archive_lag": 5,
    "supply_shift": 0,
}
# Regular 1000 s steps through a 2 h window: trims steps that the volatility sums hold.
REGULAR = [{**DEFAULT_STEP, "gap_s": 1000, "price_factor": 1.0 + (i % 5 - 2) / 50} for i in range(30)]


class FullTimeline(Timeline):
    """A Timeline over a plain list with every quantity that needs the window recomputed by walking it (the
    quantities derived from those are inherited)."""

    def __init__(self, samples: list[Sample]) -> None:  # not super().__init__: that one wants a Window
        self.samples = samples
        self.times = [sample.t for sample in samples]
        self.now = samples[-1]

    def __len__(self) -> int:
        return len(self.samples)

    def index_at_or_before(self, t: float) -> int | None:
        index = bisect_right(self.times, t) - 1
        return index if index >= 0 else None

    def sample_near(self, target: float, tolerance_s: float) -> Sample | None:
        after = bisect_left(self.times, target)
        candidates = [i for i in (after - 1, after) if 0 <= i < len(self.times)]
        best = min(candidates, key=lambda i: abs(self.times[i] - target))
        return self.samples[best] if abs(self.times[best] - target) <= tolerance_s else None

    def _run_start(self, same: Any) -> int:
        index = len(self.samples) - 1
        while index > 0 and same(self.samples[index - 1], self.now):
            index -= 1
        return index

    @cached_property
    def interval_start(self) -> int:
        return self._run_start(same_interval)

    @cached_property
    def epoch_start(self) -> int:
        return self._run_start(lambda a, b: a.epoch == b.epoch)

    @cached_property
    def stats_epoch_start(self) -> int:
        return self._run_start(lambda a, b: a.stats_epoch == b.stats_epoch)

    @cached_property
    def epoch_change(self) -> int | None:
        return self.epoch_start if self.epoch_start > 0 else None

    def _ratios(self, start: int) -> list[float]:
        pairs = pairwise(self.samples[start:])
        return [r for a, b in pairs if (r := seconds_per_tick(a, b)) is not None]

    @cached_property
    def seconds_per_tick(self) -> float:
        ratios = self._ratios(self.epoch_start)
        if len(ratios) < MIN_RATE_PAIRS:
            ratios = self._ratios(0)
        return median(ratios) if len(ratios) >= MIN_RATE_PAIRS else TARGET_SECONDS_PER_TICK

    @cached_property
    def stall_s(self) -> float:
        first = self.samples[self._run_start(lambda a, b: same_interval(a, b) and a.tick == b.tick)]
        return max(float(self.now.duration_s), self.now.t - first.t + first.duration_s)

    def ticks_advanced_since(self, index: int) -> bool:
        return all(b.tick > a.tick for a, b in pairwise(self.samples[index:]))

    @cached_property
    def median_spacing_s(self) -> float | None:
        return median(b - a for a, b in pairwise(self.times)) if len(self.samples) >= 2 else None

    @cached_property
    def latest_supply_change(self) -> int | None:
        changes = [
            i
            for i in range(1, len(self.samples))
            if self.samples[i - 1].circulating_supply != self.samples[i].circulating_supply
        ]
        return changes[-1] if changes else None

    def best_quality_since(self, index: int) -> Sample:
        recent = [s for s in self.samples[index:] if s.stats_epoch == self.now.stats_epoch]
        return max(recent, key=lambda s: s.quality_pct)

    def price_extreme_since(self, t: float, *, highest: bool) -> int | None:
        recent = [(i, s) for i, s in enumerate(self.samples) if s.t >= t and s.price_usd > 0]
        if not recent:
            return None
        pick = max if highest else min
        return pick(recent, key=lambda pair: pair[1].price_usd)[0]

    def log_return_sigma(self, before_t: float) -> tuple[float, int]:
        returns = [
            Fraction(r) for a, b in pairwise(self.samples) if b.t < before_t and (r := log_return(a, b)) is not None
        ]
        n = len(returns)
        if n < 2:
            return 0.0, n
        total, squares = sum(returns, Fraction(0)), sum((r * r for r in returns), Fraction(0))
        return math.sqrt(float((n * squares - total * total) / (n * (n - 1)))), n


def full_report(window: list[Sample], item: Observation | InvalidLine, reason: str | None) -> AnalysisReport:
    """The report for `item` recomputed from scratch; `window` already holds it when it was accepted."""
    timeline = FullTimeline(window) if window else None
    if reason is None:
        assert timeline is not None
        return analyze_timeline(timeline)
    return rejected_report(reason, observed_at=item.observed_at, timeline=timeline)


def disorder(observations: list[Observation], data: st.DataObject) -> list[Observation | InvalidLine]:
    """Repeat, move back, make impossible or unreadable some observations."""
    items: list[Observation | InvalidLine] = []
    for index, observation in enumerate(observations):
        kind = data.draw(st.sampled_from(["keep"] * 6 + ["duplicate", "late", "backwards", "unreadable"]))
        if kind == "duplicate" and items:
            items.append(items[-1])
        elif kind == "late" and index >= 2:
            items.append(observations[index - 2])
        elif kind == "backwards":
            tick = observation.tick.model_copy(update={"tick": observation.tick.tick - 5000})
            items.append(observation.model_copy(update={"tick": tick}))
            continue
        elif kind == "unreadable":
            items.append(InvalidLine(index + 1, f"line {index + 1}: not JSON", observation.observed_at))
        items.append(observation)
    return items


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=60), st.sampled_from([600, 1800, 7200, 86400]), st.data())
def test_every_incremental_report_equals_the_full_recomputation(
    steps: list[dict[str, Any]], window_s: int, data: st.DataObject
) -> None:
    rolling, window = RollingAnalysis(window_s), []
    for item in disorder(build(steps), data):
        if isinstance(item, InvalidLine):
            reason: str | None = item.reason
            report = rolling.reject(item.reason, item.observed_at)
        else:
            reason = rolling.check(item)
            report = rolling.step(item)
            if reason is None:
                sample = Sample.of(item)
                window = [s for s in [*window, sample] if s.t >= sample.t - window_s]
        assert report == full_report(window, item, reason)
        assert rolling.window.samples == window


SCALARS = ("interval_start", "epoch_start", "epoch_change", "stats_epoch_start", "seconds_per_tick", "stall_s")
SCALARS += ("recent_rate_index", "in_transition", "median_spacing_s", "latest_supply_change")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=60), st.sampled_from([600, 1800, 7200]))
@example(REGULAR, 7200)
def test_every_quantity_the_rules_read_equals_its_full_recomputation(
    steps: list[dict[str, Any]], window_s: int
) -> None:
    rolling = RollingAnalysis(window_s)
    for observation in build(steps):
        if rolling.check(observation) is not None:
            continue
        rolling.accept(observation)
        timeline, full = Timeline(rolling.window), FullTimeline(rolling.window.samples)
        now = timeline.now
        assert {name: getattr(timeline, name) for name in SCALARS} == {name: getattr(full, name) for name in SCALARS}
        for horizon in (60.0, 1800.0, 3600.0):
            assert timeline.log_return_sigma(now.t - horizon) == full.log_return_sigma(now.t - horizon)
            for highest in (True, False):
                got = timeline.price_extreme_since(now.t - horizon, highest=highest)
                assert got == full.price_extreme_since(now.t - horizon, highest=highest)
        for index in range(len(timeline)):
            assert timeline.ticks_advanced_since(index) == full.ticks_advanced_since(index)
        first = timeline.index_at_or_before(now.t - 3600) or 0
        assert timeline.best_quality_since(first) is full.best_quality_since(first)


def test_a_long_capture_gives_the_same_final_report_as_its_last_window_analysed_whole() -> None:
    observations = build([{**DEFAULT_STEP, "price_factor": 1.0 + (i % 7 - 3) / 100} for i in range(400)])
    result = analyze_capture(observations, window_s=3600)
    last_hour = [
        Sample.of(o) for o in observations if o.observed_at >= observations[-1].observed_at - timedelta(hours=1)
    ]
    assert result.report == analyze_timeline(FullTimeline(last_hour))

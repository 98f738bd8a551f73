"""The window as plain numbers: one Sample per observation, and the quantities several rules share.

A Timeline is built once per analysis step and computes each derived quantity (typical tick time, current stall,
transition state, price changes) at most once; every rule reads from it, none walks the observations itself.
Everything here is O(n) or O(n log n) in the window length.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from itertools import pairwise
from statistics import median
from typing import NamedTuple

from qcl.analysis import epochs
from qcl.qubic.types import Observation

TARGET_SECONDS_PER_TICK = 1.0  # TARGET_TICK_DURATION is 1000 ms from epoch 172 on (qubic-rpc.md §4.2)
MIN_RATE_PAIRS = 10  # consecutive observations with advancing ticks needed to trust an epoch's own tick time
STALL_MIN_THRESHOLD_S = 30.0
STALL_TICKS = 30  # a stall is 30 typical tick times without a new tick (30 s at 1 s/tick)
AFTER_EPOCH_CHANGE_S = 3600.0  # how long an observed epoch change counts as "the transition"
RECENT_RATE_S = 300.0  # the "recent" stretch for the tick rate


class Sample(NamedTuple):
    """The numbers of one observation that the rules use (a tuple: cheap to build for thousands a call)."""

    observed_at: datetime
    t: float  # observed_at as Unix seconds
    tick: int
    duration_s: int
    epoch: int  # tick_info.epoch (the live network's)
    initial_tick: int
    stats_epoch: int  # latest_stats.epoch (the archive's)
    ticks_in_epoch: int
    empty_ticks_in_epoch: int
    quality_pct: float
    ticks_in_last_10k: int | None
    empty_ticks_in_last_10k: int | None
    quality_last_10k_pct: float | None
    price_usd: float
    circulating_supply: int
    burned_qus: int
    market_cap_usd: int
    active_addresses: int
    archive_tick: int | None
    archive_epoch: int | None

    @classmethod
    def of(cls, observation: Observation) -> Sample:
        stats, tick = observation.stats, observation.tick
        archive = observation.last_processed_tick
        return cls(
            observed_at=observation.observed_at,
            t=observation.observed_at.timestamp(),
            tick=tick.tick,
            duration_s=tick.duration,
            epoch=tick.epoch,
            initial_tick=tick.initial_tick,
            stats_epoch=stats.epoch,
            ticks_in_epoch=stats.ticks_in_current_epoch,
            empty_ticks_in_epoch=stats.empty_ticks_in_current_epoch,
            quality_pct=stats.epoch_tick_quality,
            ticks_in_last_10k=stats.ticks_in_last_10k,
            empty_ticks_in_last_10k=stats.empty_ticks_in_last_10k,
            quality_last_10k_pct=stats.tick_quality_last_10k,
            price_usd=stats.price,
            circulating_supply=stats.circulating_supply,
            burned_qus=stats.burned_qus,
            market_cap_usd=stats.market_cap,
            active_addresses=stats.active_addresses,
            archive_tick=archive.tick_number if archive else None,
            archive_epoch=archive.epoch if archive else None,
        )


def same_interval(a: Sample, b: Sample) -> bool:
    """Both on one run of the network: same epoch and same initialTick (no restart between them)."""
    return a.epoch == b.epoch and a.initial_tick == b.initial_tick


class Timeline:
    """A non-empty window of samples, ascending in time; `now` is the last one."""

    def __init__(self, samples: Sequence[Sample]) -> None:
        if not samples:
            raise ValueError("a timeline needs at least one sample")
        self.samples = list(samples)
        self.times = [sample.t for sample in self.samples]
        self.now = self.samples[-1]
        self._sigma: dict[float, tuple[float, int]] = {}

    def __len__(self) -> int:
        return len(self.samples)

    # --- lookups -------------------------------------------------------------------------------------------

    def index_at_or_before(self, t: float) -> int | None:
        index = bisect_right(self.times, t) - 1
        return index if index >= 0 else None

    def sample_near(self, target: float, tolerance_s: float) -> Sample | None:
        """The sample closest to time `target`, if one lies within `tolerance_s` of it."""
        after = bisect_left(self.times, target)
        candidates = [i for i in (after - 1, after) if 0 <= i < len(self.times)]
        best = min(candidates, key=lambda i: abs(self.times[i] - target))
        return self.samples[best] if abs(self.times[best] - target) <= tolerance_s else None

    def _run_start(self, *, by_epoch_only: bool) -> int:
        """Index of the first sample of the trailing run on the current interval (or epoch)."""
        index = len(self.samples) - 1
        while index > 0:
            earlier = self.samples[index - 1]
            if earlier.epoch != self.now.epoch or (not by_epoch_only and not same_interval(earlier, self.now)):
                break
            index -= 1
        return index

    @cached_property
    def interval_start(self) -> int:
        return self._run_start(by_epoch_only=False)

    @cached_property
    def epoch_start(self) -> int:
        return self._run_start(by_epoch_only=True)

    @cached_property
    def epoch_change(self) -> int | None:
        """Index of the first sample of the current epoch when the window also holds the previous epoch."""
        start = self.epoch_start
        return start if start > 0 else None

    # --- tick time -----------------------------------------------------------------------------------------

    def _seconds_per_tick_pairs(self, start: int) -> list[float]:
        ratios = []
        for index in range(max(start, 0) + 1, len(self.samples)):
            a, b = self.samples[index - 1], self.samples[index]
            if same_interval(a, b) and b.tick > a.tick and b.t > a.t:
                ratios.append((b.t - a.t) / (b.tick - a.tick))
        return ratios

    @cached_property
    def seconds_per_tick(self) -> float:
        """Typical seconds per tick: the median of Δt/Δticks over this epoch's steps (the window's, else 1 s)."""
        ratios = self._seconds_per_tick_pairs(self.epoch_start)
        if len(ratios) < MIN_RATE_PAIRS:
            ratios = self._seconds_per_tick_pairs(0)
        return median(ratios) if len(ratios) >= MIN_RATE_PAIRS else TARGET_SECONDS_PER_TICK

    @cached_property
    def stall_threshold_s(self) -> float:
        return max(STALL_MIN_THRESHOLD_S, STALL_TICKS * self.seconds_per_tick)

    @cached_property
    def stall_s(self) -> float:
        """Seconds the network has spent on the current tick: the node's duration, or longer if seen longer."""
        index = len(self.samples) - 1
        while index > 0 and same_interval(self.samples[index - 1], self.now):
            if self.samples[index - 1].tick != self.now.tick:
                break
            index -= 1
        first = self.samples[index]
        return max(float(self.now.duration_s), self.now.t - first.t + first.duration_s)

    @cached_property
    def stalled(self) -> bool:
        return self.stall_s > self.stall_threshold_s

    @cached_property
    def recent_rate_index(self) -> int | None:
        """Index of the sample about RECENT_RATE_S ago on the current interval (or the interval's first one)."""
        index = self.index_at_or_before(self.now.t - RECENT_RATE_S)
        if index is None or index < self.interval_start:
            index = self.interval_start
        return index if index < len(self.samples) - 1 else None

    @cached_property
    def recent_tick_rate(self) -> float | None:
        """Ticks per second over the recent stretch of the current interval."""
        if self.recent_rate_index is None:
            return None
        reference = self.samples[self.recent_rate_index]
        return (self.now.tick - reference.tick) / (self.now.t - reference.t)

    # --- calendar ------------------------------------------------------------------------------------------

    @cached_property
    def in_transition(self) -> bool:
        """The weekly window, an overdue transition, or within an hour after an epoch change seen in the window."""
        at = self.now.observed_at
        if epochs.in_transition_window(at) or epochs.transition_overdue(at, self.now.epoch):
            return True
        change = self.epoch_change
        return change is not None and self.now.t - self.samples[change].t <= AFTER_EPOCH_CHANGE_S

    # --- spacing and price ---------------------------------------------------------------------------------

    @cached_property
    def median_spacing_s(self) -> float | None:
        if len(self.samples) < 2:
            return None
        return median(b - a for a, b in pairwise(self.times))

    def price_change_pct(self, horizon_s: float) -> float | None:
        """Percent change of the price over `horizon_s` (a reference within 5 % of the horizon or 5 min)."""
        reference = self.sample_near(self.now.t - horizon_s, max(300.0, 0.05 * horizon_s))
        if reference is None or reference is self.now or reference.price_usd <= 0 or self.now.price_usd <= 0:
            return None
        return (self.now.price_usd / reference.price_usd - 1.0) * 100.0

    def log_return_sigma(self, before_t: float) -> tuple[float, int]:
        """Std-dev of per-step log returns of the price among samples before `before_t`, and how many steps."""
        if before_t not in self._sigma:
            self._sigma[before_t] = self._log_return_sigma(before_t)
        return self._sigma[before_t]

    def _log_return_sigma(self, before_t: float) -> tuple[float, int]:
        returns = []
        for a, b in pairwise(self.samples):
            if b.t >= before_t:
                break
            if a.price_usd > 0 and b.price_usd > 0:
                returns.append(math.log(b.price_usd / a.price_usd))
        if len(returns) < 2:
            return 0.0, len(returns)
        mean = sum(returns) / len(returns)
        return math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)), len(returns)

"""The window at one analysis step, as the rules read it: the samples and the quantities several rules share.

A Timeline is a view of a Window (window.py) at one step: index 0 is the oldest sample in the window and `now` the
newest. It computes each derived quantity (typical tick time, current stall, transition state, price changes) at
most once, from the window's running aggregates; every rule reads from it, none walks the observations itself.
Each quantity is O(1) or O(log n) in the window length. Build a new Timeline after the window changes.
"""

from __future__ import annotations

from functools import cached_property

from qcl.analysis import epochs
from qcl.analysis.window import Sample, Window, same_interval

__all__ = ["Sample", "Timeline", "same_interval"]

TARGET_SECONDS_PER_TICK = 1.0  # TARGET_TICK_DURATION is 1000 ms from epoch 172 on (qubic-rpc.md §4.2)
MIN_RATE_PAIRS = 10  # consecutive observations with advancing ticks needed to trust an epoch's own tick time
STALL_MIN_THRESHOLD_S = 30.0
STALL_TICKS = 30  # a stall is 30 typical tick times without a new tick (30 s at 1 s/tick)
AFTER_EPOCH_CHANGE_S = 3600.0  # how long an observed epoch change counts as "the transition"
RECENT_RATE_S = 300.0  # the "recent" stretch for the tick rate


class _Samples:
    """The window's samples by index (0 = oldest; negative indices count from the newest)."""

    def __init__(self, window: Window) -> None:
        self._window = window

    def __len__(self) -> int:
        return len(self._window)

    def __getitem__(self, index: int) -> Sample:
        return self._window.sample(self._window.head + (index if index >= 0 else len(self._window) + index))


class Timeline:
    """A non-empty window at one step; `now` is the newest sample."""

    def __init__(self, window: Window) -> None:
        if window.last is None:
            raise ValueError("a timeline needs at least one sample")
        self.window = window
        self.samples = _Samples(window)
        self.now = window.last
        self._head = window.head

    def __len__(self) -> int:
        return len(self.window)

    def _index(self, seq: int) -> int:
        """The rules' index of a seq, a run that began before the window beginning at 0."""
        return max(seq, self._head) - self._head

    # --- lookups -------------------------------------------------------------------------------------------

    def index_at_or_before(self, t: float) -> int | None:
        seq = self.window.seq_at_or_before(t)
        return None if seq is None else seq - self._head

    def sample_near(self, target: float, tolerance_s: float) -> Sample | None:
        """The sample closest to time `target`, if one lies within `tolerance_s` of it."""
        after = self.window.seq_at_or_after(target)
        candidates = [self.window.sample(s) for s in (after - 1, after) if self._head <= s < self.window.end]
        best = min(candidates, key=lambda sample: abs(sample.t - target))
        return best if abs(best.t - target) <= tolerance_s else None

    @cached_property
    def interval_start(self) -> int:
        """Index of the first sample of the trailing run on the current interval."""
        return self._index(self.window.interval_run)

    @cached_property
    def epoch_start(self) -> int:
        """Index of the first sample of the trailing run in the current epoch."""
        return self._index(self.window.epoch_run)

    @cached_property
    def epoch_change(self) -> int | None:
        """Index of the first sample of the current epoch when the window also holds the previous epoch."""
        start = self.epoch_start
        return start if start > 0 else None

    @cached_property
    def stats_epoch_start(self) -> int:
        """Index of the first sample of the trailing run in the current stats (archive) epoch."""
        return self._index(self.window.stats_epoch_run)

    # --- tick time -----------------------------------------------------------------------------------------

    @cached_property
    def seconds_per_tick(self) -> float:
        """Typical seconds per tick: the median of Δt/Δticks over this epoch's steps (the window's, else 1 s)."""
        ratios = self.window.epoch_seconds_per_tick
        if len(ratios) < MIN_RATE_PAIRS:
            ratios = self.window.all_seconds_per_tick
        return ratios.median() if len(ratios) >= MIN_RATE_PAIRS else TARGET_SECONDS_PER_TICK

    @cached_property
    def stall_threshold_s(self) -> float:
        return max(STALL_MIN_THRESHOLD_S, STALL_TICKS * self.seconds_per_tick)

    @cached_property
    def stall_s(self) -> float:
        """Seconds the network has spent on the current tick: the node's duration, or longer if seen longer."""
        first = self.samples[self._index(self.window.tick_run)]
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
        return index if index < len(self) - 1 else None

    @cached_property
    def recent_tick_rate(self) -> float | None:
        """Ticks per second over the recent stretch of the current interval."""
        if self.recent_rate_index is None:
            return None
        reference = self.samples[self.recent_rate_index]
        return (self.now.tick - reference.tick) / (self.now.t - reference.t)

    def ticks_advanced_since(self, index: int) -> bool:
        """Every step from sample `index` to now advanced the tick."""
        return self.window.last_stuck <= self._head + index

    # --- calendar ------------------------------------------------------------------------------------------

    @cached_property
    def in_transition(self) -> bool:
        """The weekly window, an overdue transition, or within an hour after an epoch change seen in the window."""
        at = self.now.observed_at
        if epochs.in_transition_window(at) or epochs.transition_overdue(at, self.now.epoch):
            return True
        change = self.epoch_change
        return change is not None and self.now.t - self.samples[change].t <= AFTER_EPOCH_CHANGE_S

    # --- spacing, supply, quality and price ----------------------------------------------------------------

    @cached_property
    def median_spacing_s(self) -> float | None:
        return self.window.spacings.median() if len(self) >= 2 else None

    @cached_property
    def latest_supply_change(self) -> int | None:
        """Index of the newest sample whose circulating supply differs from the sample before it."""
        seq = self.window.last_supply_change
        return seq - self._head if seq > self._head else None

    def best_quality_since(self, index: int) -> Sample:
        """The first sample from `index` on with the highest epoch tick quality among those of now's stats epoch."""
        best = self.window.best_quality_since(self._head + index, self.now.stats_epoch)
        return self.now if best is None else self.window.sample(best)

    def price_extreme_since(self, t: float, *, highest: bool) -> int | None:
        """Index of the first sample at or after `t` with the highest (or lowest) positive price."""
        seq = self.window.price_extreme_since(self.window.seq_at_or_after(t), highest=highest)
        return None if seq is None else seq - self._head

    def price_change_pct(self, horizon_s: float) -> float | None:
        """Percent change of the price over `horizon_s` (a reference within 5 % of the horizon or 5 min)."""
        reference = self.sample_near(self.now.t - horizon_s, max(300.0, 0.05 * horizon_s))
        if reference is None or reference is self.now or reference.price_usd <= 0 or self.now.price_usd <= 0:
            return None
        return (self.now.price_usd / reference.price_usd - 1.0) * 100.0

    def log_return_sigma(self, before_t: float) -> tuple[float, int]:
        """Std-dev of per-step log returns of the price among samples before `before_t`, and how many steps."""
        return self.window.log_return_sigma(before_t)

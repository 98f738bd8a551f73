"""The rolling window with running aggregates: adding or trimming an observation costs O(1) amortised.

    window = Window()
    window.append(Sample.of(observation))   # observed_at strictly after the newest sample's
    window.trim(before_t=t - window_s)      # drop samples older than the window
    timeline = Timeline(window)             # what the rules read at this step (timeline.py)

Every quantity a rule needs over the whole window is kept up to date as samples come and go, instead of being
recomputed from every sample at every step (which made the analyzer O(window) per event): where the trailing runs
began (epoch, interval, tick, stats epoch), sorted bags for the medians (tick time, spacing), the last step where
the tick did not advance or the supply changed, and, brought up to date when asked, the sums behind the price
volatility (exact fractions: the same value whatever the order of adds and removes) and the best price or quality
over a trailing horizon (monotonic queues). Binary searches for "the sample at time t" are O(log n).

Samples are numbered by `seq` (0 for the first ever appended); the rules' index is seq - head.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from fractions import Fraction
from typing import NamedTuple

from qcl.qubic.types import Observation


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


_COMPACT_MIN = 256  # trimmed samples are dropped from the lists in chunks at least this large (amortised O(1))


def seconds_per_tick(a: Sample, b: Sample) -> float | None:
    """Δt/Δticks of the step a -> b, when the step is on one interval and both advanced."""
    if same_interval(a, b) and b.tick > a.tick and b.t > a.t:
        return (b.t - a.t) / (b.tick - a.tick)
    return None


def log_return(a: Sample, b: Sample) -> float | None:
    """log(price_b / price_a), when both prices are known (core-lite reports 0)."""
    return math.log(b.price_usd / a.price_usd) if a.price_usd > 0 and b.price_usd > 0 else None


class _SortedBag:
    """A multiset of floats and its median (statistics.median's value, which depends only on the multiset)."""

    def __init__(self) -> None:
        self._items: list[float] = []

    def __len__(self) -> int:
        return len(self._items)

    def add(self, value: float) -> None:
        insort(self._items, value)

    def remove(self, value: float) -> None:
        del self._items[bisect_left(self._items, value)]

    def clear(self) -> None:
        self._items.clear()

    def median(self) -> float:
        items, middle = self._items, len(self._items) // 2
        return items[middle] if len(items) % 2 else (items[middle - 1] + items[middle]) / 2


class _ReturnSums:
    """Count, sum and sum of squares of log returns, exact, so removing a return undoes adding it bit for bit."""

    def __init__(self) -> None:
        self.count, self.total, self.squares = 0, Fraction(0), Fraction(0)

    def add(self, value: float, sign: int = 1) -> None:
        exact = Fraction(value)
        self.count += sign
        self.total += sign * exact
        self.squares += sign * exact * exact

    def sigma(self) -> float:
        """The sample standard deviation (n - 1), rounded once from the exact variance."""
        n = self.count
        if n < 2:
            return 0.0
        return math.sqrt(float((n * self.squares - self.total * self.total) / (n * (n - 1))))


class _TrailingBest:
    """The first sample with the largest key among those from a start that only moves forward (a monotonic queue:
    each sample enters and leaves once). `key` returns None for samples that do not count."""

    def __init__(self, key: Callable[[Sample], float | None]) -> None:
        self._key = key
        self._queue: deque[tuple[int, float]] = deque()  # (seq, key), keys non-increasing from the front
        self._fed = 0  # samples before this seq have been offered
        self._start = 0

    def best(self, window: Window, start: int) -> int | None:
        if start < self._start:  # never while a window only grows forward; start over rather than be wrong
            self._queue.clear()
            self._fed = start
        self._start = start
        for seq in range(max(self._fed, start), window.end):
            value = self._key(window.sample(seq))
            if value is None:
                continue
            while self._queue and value > self._queue[-1][1]:  # strictly: an equal earlier sample stays first
                self._queue.pop()
            self._queue.append((seq, value))
        self._fed = window.end
        while self._queue and self._queue[0][0] < start:
            self._queue.popleft()
        return self._queue[0][0] if self._queue else None


def _positive_price(sample: Sample) -> float | None:
    return sample.price_usd if sample.price_usd > 0 else None


def _negative_price(sample: Sample) -> float | None:
    return -sample.price_usd if sample.price_usd > 0 else None


class Window:
    """Samples strictly ascending in time, oldest first, with the aggregates above kept current."""

    def __init__(self, samples: Iterable[Sample] = ()) -> None:
        self._samples: list[Sample] = []
        self._times: list[float] = []
        self._base = 0  # seq of _samples[0]; trimmed samples leave the lists in chunks
        self.head = 0  # seq of the oldest sample in the window
        # Where the trailing runs began (a run that began before the window begins at `head` for the rules).
        self.epoch_run = self.interval_run = self.tick_run = self.stats_epoch_run = 0
        self.last_stuck = -1  # seq of the last sample whose tick did not advance past its predecessor's
        self.last_supply_change = -1  # seq of the last sample whose circulating supply differs from its predecessor's
        self.epoch_seconds_per_tick = _SortedBag()  # per-step tick times within the current epoch's run
        self.all_seconds_per_tick = _SortedBag()  # per-step tick times of every step in the window
        self.spacings = _SortedBag()  # Δt of every step in the window
        self._returns = _ReturnSums()  # log returns of the steps seq in [_returns_from, _returns_to)
        self._returns_from = self._returns_to = 1
        self._price_high = _TrailingBest(_positive_price)
        self._price_low = _TrailingBest(_negative_price)
        self._quality: tuple[int, _TrailingBest] | None = None  # (stats epoch, best quality among its samples)
        for sample in samples:
            self.append(sample)

    # --- reading ---------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.end - self.head

    @property
    def end(self) -> int:
        """One past the seq of the newest sample."""
        return self._base + len(self._samples)

    def sample(self, seq: int) -> Sample:
        if not self.head <= seq < self.end:
            raise IndexError(f"sample {seq} is not in the window (seq {self.head} to {self.end - 1})")
        return self._samples[seq - self._base]

    @property
    def last(self) -> Sample | None:
        return self._samples[-1] if len(self) else None

    @property
    def samples(self) -> list[Sample]:
        """A copy, oldest first (O(n): for rebuilding and tests, not for the rules)."""
        return self._samples[self.head - self._base :]

    def seq_at_or_before(self, t: float) -> int | None:
        index = bisect_right(self._times, t, lo=self.head - self._base) - 1
        return index + self._base if index >= self.head - self._base else None

    def seq_at_or_after(self, t: float) -> int:
        """The first sample at or after `t` (`end` when there is none)."""
        return bisect_left(self._times, t, lo=self.head - self._base) + self._base

    # --- changing --------------------------------------------------------------------------------------------

    def append(self, sample: Sample) -> None:
        previous, seq = self.last, self.end
        if previous is not None and sample.t <= previous.t:
            raise ValueError(
                f"window must be sorted by observed_at without duplicates; {sample.observed_at.isoformat()} is not "
                f"after {previous.observed_at.isoformat()}"
            )
        self._samples.append(sample)
        self._times.append(sample.t)
        if previous is None:
            self.epoch_run = self.interval_run = self.tick_run = self.stats_epoch_run = seq
            return
        if sample.epoch != previous.epoch:
            self.epoch_run = seq
            self.epoch_seconds_per_tick.clear()
        if not same_interval(previous, sample):
            self.interval_run = seq
        if not same_interval(previous, sample) or sample.tick != previous.tick:
            self.tick_run = seq
        if sample.stats_epoch != previous.stats_epoch:
            self.stats_epoch_run = seq
        if sample.tick <= previous.tick:
            self.last_stuck = seq
        if sample.circulating_supply != previous.circulating_supply:
            self.last_supply_change = seq
        self.spacings.add(sample.t - previous.t)
        ratio = seconds_per_tick(previous, sample)
        if ratio is not None:  # a ratio means one interval, so one epoch: the step is in the epoch's run too
            self.all_seconds_per_tick.add(ratio)
            self.epoch_seconds_per_tick.add(ratio)

    def trim(self, before_t: float) -> None:
        """Drop the samples observed before `before_t`."""
        while len(self) and self._times[self.head - self._base] < before_t:
            self._drop_oldest()
        dropped = self.head - self._base
        if dropped >= max(_COMPACT_MIN, len(self._samples) // 2):
            del self._samples[:dropped], self._times[:dropped]
            self._base = self.head

    def _drop_oldest(self) -> None:
        oldest, step = self.head, self.head + 1  # the step oldest -> oldest + 1 leaves with it
        if step < self.end:
            a, b = self.sample(oldest), self.sample(step)
            self.spacings.remove(b.t - a.t)
            ratio = seconds_per_tick(a, b)
            if ratio is not None:
                self.all_seconds_per_tick.remove(ratio)
                if oldest >= self.epoch_run:
                    self.epoch_seconds_per_tick.remove(ratio)
            if self._returns_from <= step < self._returns_to and (value := log_return(a, b)) is not None:
                self._returns.add(value, sign=-1)
        self.head = step
        self._returns_from = max(self._returns_from, step + 1)
        self._returns_to = max(self._returns_to, self._returns_from)

    # --- aggregates brought up to date when asked -------------------------------------------------------------

    def log_return_sigma(self, before_t: float) -> tuple[float, int]:
        """Std-dev of the per-step log returns of the price over the steps that end before `before_t`, and how
        many steps counted."""
        to = max(self.seq_at_or_after(before_t), self._returns_from)
        while self._returns_to < to:
            self._add_return(self._returns_to, 1)
            self._returns_to += 1
        while self._returns_to > to:
            self._returns_to -= 1
            self._add_return(self._returns_to, -1)
        return self._returns.sigma(), self._returns.count

    def _add_return(self, step: int, sign: int) -> None:
        value = log_return(self.sample(step - 1), self.sample(step))
        if value is not None:
            self._returns.add(value, sign)

    def price_extreme_since(self, start: int, *, highest: bool) -> int | None:
        """The first sample from `start` on with the highest (or lowest) positive price."""
        return (self._price_high if highest else self._price_low).best(self, start)

    def best_quality_since(self, start: int, stats_epoch: int) -> int | None:
        """The first sample from `start` on with the highest epoch tick quality among those of `stats_epoch`."""
        if self._quality is None or self._quality[0] != stats_epoch:
            best = _TrailingBest(lambda s: s.quality_pct if s.stats_epoch == stats_epoch else None)
            self._quality = (stats_epoch, best)
        return self._quality[1].best(self, start)

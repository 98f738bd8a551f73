"""The predictive signal: forecasts of arrivals, queue length and wait from recent history (Holt's linear trend).

    forecast = Forecast()
    forecast.observe(now, arrived_total=1200, finished_total=1100, queued=100)   # every second or so
    forecast.predicted_wait_s()          # seconds a job submitted now would wait: queue / service rate
    forecast.snapshot(horizon_s=60)      # {"arrival_rate", "service_rate", "queued", "predicted_queue", ...}

Admission control refuses a job whose deadline is shorter than the predicted wait, and an autoscaler reads
`predicted_queue` (where the queue is heading `horizon_s` from now: arrivals forecast by level + trend, minus the
measured service rate) to add or remove workers before the queue says so.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Holt:
    """Holt's double exponential smoothing: a level and a trend per observation interval."""

    alpha: float = 0.5  # weight of the newest observation in the level
    beta: float = 0.3  # weight of the newest change in the trend
    level: float | None = None
    trend: float = 0.0

    def update(self, value: float) -> None:
        if self.level is None:
            self.level = value
            return
        previous = self.level
        self.level = self.alpha * value + (1 - self.alpha) * (previous + self.trend)
        self.trend = self.beta * (self.level - previous) + (1 - self.beta) * self.trend

    def forecast(self, steps: float) -> float:
        return max(0.0, (self.level or 0.0) + steps * self.trend)


class Forecast:
    def __init__(self) -> None:
        self.arrivals = Holt()  # jobs per second arriving
        self.service = Holt(beta=0.1)  # jobs per second finishing
        self.queued = 0
        self._last: tuple[float, float, float] | None = None  # (at, arrived_total, finished_total)

    def observe(self, now: float, *, arrived_total: float, finished_total: float, queued: int) -> None:
        """Counters since the start (any process may add to them) and the queue length, at time `now`."""
        self.queued = queued
        if self._last is not None:
            at, arrived, finished = self._last
            elapsed = now - at
            if elapsed <= 0:
                return
            self.arrivals.update(max(0.0, arrived_total - arrived) / elapsed)
            self.service.update(max(0.0, finished_total - finished) / elapsed)
        self._last = (now, arrived_total, finished_total)

    def predicted_wait_s(self, queued: int | None = None) -> float | None:
        """Seconds until a job submitted now starts behind `queued` jobs (default: the whole queue), at the measured
        service rate; None while no service was measured."""
        ahead = self.queued if queued is None else queued
        rate = self.service.forecast(0)
        if ahead == 0:
            return 0.0
        return None if rate <= 0 else ahead / rate

    def predicted_queue(self, horizon_s: float) -> float:
        """Jobs waiting `horizon_s` from now: arrivals forecast over the horizon minus what the workers finish."""
        steps = horizon_s  # one observation a second: a step is a second
        arriving = sum(self.arrivals.forecast(step) for step in range(1, int(steps) + 1))
        finishing = self.service.forecast(0) * horizon_s
        return max(0.0, self.queued + arriving - finishing)

    def snapshot(self, horizon_s: float = 60.0) -> dict[str, float | None]:
        wait = self.predicted_wait_s()
        return {
            "queued": float(self.queued),
            "arrival_rate": round(self.arrivals.forecast(0), 3),
            "arrival_trend": round(self.arrivals.trend, 4),
            "service_rate": round(self.service.forecast(0), 3),
            "predicted_queue": round(self.predicted_queue(horizon_s), 1),
            "horizon_s": horizon_s,
            "predicted_wait_s": None if wait is None else round(wait, 2),
        }

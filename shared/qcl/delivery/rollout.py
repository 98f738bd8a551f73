"""Releasing a new image of a service, canary or blue-green, with automatic rollback on error rate or latency.

    result = rollout(platform, watch, image, strategy="canary", steps=(10, 50, 100), bake_s=300, limits=Limits())

Both strategies first deploy the image as a new revision ("green") that takes no traffic, beside the revision that
serves now ("blue"); the deploy waits until green is Ready (its startup probe passed), and a revision that never
becomes Ready is a failed rollout with blue untouched.
- canary: green takes each step's share of the traffic in turn (10 %, then 50 %, then all of it); every step bakes
  for `bake_s` and must hold green's error rate and p95 latency over that time within `limits`;
- blue-green: green takes all the traffic at once and bakes; blue stays deployed (and tagged) throughout, so the
  rollback is one traffic update, with no cold start.
On a step that fails, every request goes back to blue and the result says why. `Platform` and `Watch` are Cloud
Run and Cloud Monitoring in production (qcl.delivery.cloudrun); `qcl rollout` is what Cloud Build runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from qcl.errors import QclError

log = logging.getLogger(__name__)

Strategy = Literal["canary", "blue-green"]


class RolloutError(QclError):
    """A rollout that could not start or whose new revision never became Ready; the serving revision is untouched."""


@dataclass(frozen=True)
class Limits:
    max_error_rate: float = 0.01  # 5xx responses over all responses
    max_p95_ms: float = 2000.0


@dataclass(frozen=True)
class Health:
    """What a revision served over a window."""

    requests: int
    errors: int  # 5xx responses
    p95_ms: float | None  # None: no request to measure

    def problem(self, limits: Limits) -> str | None:
        """Why this is past the limits, or None."""
        if self.requests and self.errors / self.requests > limits.max_error_rate:
            rate = self.errors / self.requests
            return f"error rate {rate:.2%} ({self.errors} of {self.requests}) over {limits.max_error_rate:.2%}"
        if self.p95_ms is not None and self.p95_ms > limits.max_p95_ms:
            return f"p95 latency {self.p95_ms:.0f} ms over {limits.max_p95_ms:.0f} ms"
        return None


class Platform(Protocol):
    def serving(self) -> str:
        """The revision that takes all the traffic now; RolloutError when the traffic is split (a rollout under way
        or a manual split: a person decides)."""

    def deploy(self, image: str, suffix: str) -> str:
        """A new revision of `image` named with `suffix`, taking no traffic, tagged green; returns its name once it
        is Ready (RolloutError when it fails to become Ready)."""

    def route(self, percents: dict[str, int]) -> None:
        """Revision -> percent of the traffic (they add up to 100); blue and green keep their tags."""


class Watch(Protocol):
    def health(self, revision: str, seconds: float) -> Health:
        """What `revision` served over the last `seconds`."""


@dataclass(frozen=True)
class Step:
    percent: int
    health: Health
    problem: str | None


@dataclass
class Result:
    strategy: Strategy
    blue: str
    green: str | None = None
    promoted: bool = False
    reason: str = ""
    steps: list[Step] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def plan(strategy: Strategy, steps: Sequence[int]) -> list[int]:
    """The traffic percents green takes in turn; checked before anything is deployed."""
    if strategy == "blue-green":
        return [100]
    percents = list(steps)
    if (
        not percents
        or percents[-1] != 100
        or any(not 0 < p <= 100 for p in percents)
        or percents != sorted(set(percents))
    ):
        raise RolloutError(f"canary steps must rise from above 0 to 100 (got {', '.join(map(str, percents))})")
    return percents


def rollout(
    platform: Platform,
    watch: Watch,
    image: str,
    *,
    suffix: str,
    strategy: Strategy = "canary",
    steps: Sequence[int] = (10, 50, 100),
    bake_s: float = 300.0,
    limits: Limits | None = None,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] = log.info,
) -> Result:
    limits = limits or Limits()
    percents = plan(strategy, steps)
    blue = platform.serving()
    result = Result(strategy, blue)
    progress(f"{strategy}: {blue} serves; deploying {image} as a revision with no traffic")
    result.green = green = platform.deploy(image, suffix)
    for percent in percents:
        platform.route({green: percent, blue: 100 - percent} if percent < 100 else {green: 100})
        progress(f"{strategy}: {green} takes {percent} %; baking {bake_s:.0f} s")
        sleep(bake_s)
        health = watch.health(green, bake_s)
        problem = health.problem(limits)
        result.steps.append(Step(percent, health, problem))
        progress(
            f"{strategy}: {green} at {percent} %: {health.requests} requests, {health.errors} 5xx, p95 {health.p95_ms}"
        )
        if problem is not None:
            platform.route({blue: 100})
            result.reason = f"rolled back to {blue} at {percent} %: {problem}"
            progress(f"{strategy}: {result.reason}")
            return result
    result.promoted = True
    result.reason = f"{green} serves all traffic; {blue} stays deployed for a manual rollback"
    progress(f"{strategy}: {result.reason}")
    return result

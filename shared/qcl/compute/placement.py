"""Load-aware placement over the runtimes that serve a model: single-node services, shard pools, replicas.

    runtimes = Runtimes({"local": service, "pool": sharded_model})
    name, runtime = runtimes.choose(tokens=64)      # the one with the lowest predicted time for 64 tokens
    result = runtime.generate(messages, params)
    runtimes.record(name, result)                   # measured ms per token, an EWMA per runtime

A runtime's predicted time for a job is its measured ms per generated token times the job's tokens, stretched by
the work ahead of it: requests waiting in its own queue plus jobs this process has in flight on it, shared over
its batch slots. An unmeasured runtime is tried first (it is predicted at the best measured speed), so every
runtime gets measured.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from qcl.model.params import GenerationParams, GenerationResult

Messages = Sequence[Mapping[str, str]] | str
EWMA_WEIGHT = 0.2  # of the newest measurement
DEFAULT_MS_PER_TOKEN = 50.0  # before anything was measured


class Runtime(Protocol):
    """What serves a job: qcl.model's GenerationService, the shard pool's ShardedModel, or a replica's client."""

    def generate(self, messages: Messages, params: GenerationParams = ...) -> GenerationResult: ...

    def status(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Load:
    ms_per_token: float | None  # measured; None before the first result
    waiting: int  # requests in the runtime's own queue
    in_flight: int  # jobs this process is running on it
    slots: int  # requests it decodes together (max_batch)


def predicted_ms(load: Load, tokens: int, fallback_ms_per_token: float) -> float:
    per_token = load.ms_per_token if load.ms_per_token is not None else fallback_ms_per_token
    ahead = (load.waiting + load.in_flight) / max(1, load.slots)
    return per_token * tokens * (1.0 + ahead)


def best(loads: Mapping[str, Load], tokens: int) -> str:
    """The runtime with the lowest predicted time (ties: the first named)."""
    measured = [load.ms_per_token for load in loads.values() if load.ms_per_token is not None]
    fallback = min(measured, default=DEFAULT_MS_PER_TOKEN)
    return min(loads, key=lambda name: predicted_ms(loads[name], tokens, fallback))


class Runtimes:
    def __init__(self, runtimes: Mapping[str, Runtime]) -> None:
        if not runtimes:
            raise ValueError("placement needs at least one runtime")
        self.runtimes = dict(runtimes)
        self._ms_per_token: dict[str, float] = {}
        self._in_flight = dict.fromkeys(self.runtimes, 0)
        self._lock = threading.Lock()

    def loads(self) -> dict[str, Load]:
        found = {}
        for name, runtime in self.runtimes.items():
            status = runtime.status()
            with self._lock:
                found[name] = Load(
                    self._ms_per_token.get(name),
                    int(status.get("queue_depth", 0)),
                    self._in_flight[name],
                    int(status.get("max_batch", 1)),
                )
        return found

    def choose(self, tokens: int) -> tuple[str, Runtime]:
        name = best(self.loads(), tokens) if len(self.runtimes) > 1 else next(iter(self.runtimes))
        with self._lock:
            self._in_flight[name] += 1
        return name, self.runtimes[name]

    def record(self, name: str, result: GenerationResult | None) -> None:
        """The job placed on `name` ended (None: with an error); its speed joins the runtime's measurement."""
        with self._lock:
            self._in_flight[name] -= 1
            if result is None or result.tokens == 0 or result.cached:
                return
            measured = result.latency_ms / result.tokens
            before = self._ms_per_token.get(name)
            self._ms_per_token[name] = (
                measured if before is None else (1 - EWMA_WEIGHT) * before + EWMA_WEIGHT * measured
            )

    def status(self) -> dict[str, Any]:
        return {
            name: {
                "ms_per_token": None if load.ms_per_token is None else round(load.ms_per_token, 2),
                "waiting": load.waiting,
                "in_flight": load.in_flight,
                "slots": load.slots,
            }
            for name, load in self.loads().items()
        }

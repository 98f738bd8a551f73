"""What the API needs from the rest of the system, passed to `create_app` (dependency injection).

Every piece but the store and the keys may be absent: an endpoint that needs an absent piece answers 503 with a
JSON error naming it, and /api/ai/status lists it as absent. Calls into the store, the bus and the model go
through a circuit breaker each (pybreaker): after `fail_max` failures in a row the breaker opens and requests fail
fast with 503 and Retry-After for `reset_timeout_s`, instead of piling up behind a dead dependency; reads and
publishes (idempotent: consumers de-duplicate on the event id) are retried with backoff first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import pybreaker

import qcl
from qcl.analysis.report import AnalysisReport
from qcl.api.errors import ApiError, unavailable
from qcl.api.keys import KeyService
from qcl.api.runtime_settings import RuntimeSettings
from qcl.api.sessions import Sessions
from qcl.bus.base import Bus
from qcl.config import Settings
from qcl.events import AIInsight, Envelope, Language, Topic
from qcl.obs.audit import AuditTrail
from qcl.obs.metrics import BREAKER_OPEN
from qcl.store.base import Store

R = TypeVar("R")


class Narrator(Protocol):
    """qcl.narrate's narrator, as the API uses it."""

    def narrate(self, report: AnalysisReport, language: Language) -> AIInsight: ...

    def answer(
        self, question: str, language: Language, report: AnalysisReport | None, *, phrase: bool = True
    ) -> AIInsight: ...

    def stream_answer(
        self, question: str, language: Language, report: AnalysisReport | None, *, request_id: str | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]: ...

    def status(self) -> dict[str, Any]: ...


class Generation(Protocol):
    """qcl.model's generation service, as the API uses it."""

    def status(self) -> dict[str, Any]: ...

    def health_check(self) -> bool: ...


class _BreakerGauge(pybreaker.CircuitBreakerListener):
    def __init__(self, name: str) -> None:
        self.name = name
        BREAKER_OPEN.labels(breaker=name).set(0)

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        BREAKER_OPEN.labels(breaker=self.name).set(1 if new_state.name == pybreaker.STATE_OPEN else 0)


def _is_client_error(exc: BaseException) -> bool:
    """Errors that say nothing about the dependency's health: bad input, or a busy model asking us to wait."""
    return isinstance(exc, ValueError | ApiError) or hasattr(exc, "retry_after_s")


@dataclass
class Breakers:
    fail_max: int = 5
    reset_timeout_s: float = 30.0
    by_name: dict[str, pybreaker.CircuitBreaker] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("store", "bus", "model"):
            self.by_name[name] = pybreaker.CircuitBreaker(
                fail_max=self.fail_max,
                reset_timeout=self.reset_timeout_s,
                exclude=[_is_client_error],
                listeners=[_BreakerGauge(name)],
                name=name,
            )

    def states(self) -> dict[str, str]:
        return {name: breaker.current_state for name, breaker in self.by_name.items()}

    def call(self, name: str, fn: Callable[..., R], *args: Any, retries: int = 1, **kwargs: Any) -> R:
        """Run `fn` through breaker `name`, `retries` extra attempts with backoff; a failure becomes a 503."""
        breaker = self.by_name[name]

        def attempt() -> R:
            for n in range(retries + 1):
                try:
                    return fn(*args, **kwargs)
                except (ValueError, ApiError, pybreaker.CircuitBreakerError):
                    raise
                except Exception:
                    if n == retries:
                        raise
                    time.sleep(min(0.5, 0.05 * 2**n))  # backoff: 50 ms, 100 ms, ...
            raise AssertionError("unreachable")  # pragma: no cover

        try:
            return breaker.call(attempt)
        except pybreaker.CircuitBreakerError:
            raise unavailable(name, f"the {name} is failing; circuit breaker open", self.reset_timeout_s) from None
        except Exception as exc:
            if _is_client_error(exc):
                raise
            raise unavailable(name, f"the {name} failed: {type(exc).__name__}: {exc}") from None


@dataclass
class ApiServices:
    settings: Settings
    store: Store
    keys: KeyService
    audit: AuditTrail
    runtime: RuntimeSettings  # the settings an admin changes while the API runs (rate limits, log level)
    sessions: Sessions  # dashboard sessions opened by `qcl up`'s one-time login URL
    bus: Bus | None = None
    narrator: Narrator | None = None
    generation: Generation | None = None
    model_registry: Callable[[], list[dict[str, Any]]] | None = None  # qcl.model.registry.registry_table, bound
    jobs: Any = None  # qcl.compute's JobQueue over the store (/api/jobs, /api/quotas)
    version: str = qcl.__version__
    started_at: float = field(default_factory=time.time)
    breakers: Breakers = field(default_factory=Breakers)
    source: str = "//qcl/api"  # the `source` of events the API publishes
    workflows: Any = None  # qcl.workflows' WorkflowService; routes_workflows builds one over these services if None
    nodes: Any = None  # qcl.pipeline.node_control's NodeControl: the stack's node actions (absent: 503)
    logs: Any = None  # qcl.obs.logindex's LogIndex; routes_logs opens the settings' one (QCL_LOG_DIR) if None

    def publish(self, topic: Topic[Any], event: Envelope[Any]) -> None:
        bus = self.bus
        if bus is None:
            raise unavailable("bus", "no event bus is configured for this API instance")
        self.breakers.call("bus", bus.publish, topic, event, retries=2)

    def now(self) -> datetime:
        return datetime.now(UTC)

    def narration_mode(self) -> str:
        """ "model" when a narrator with a healthy model runtime is there, "templates" without one, else "absent"."""
        if self.narrator is None:
            return "absent"
        if self.generation is None or self.breakers.by_name["model"].current_state == pybreaker.STATE_OPEN:
            return "templates"
        return "model"

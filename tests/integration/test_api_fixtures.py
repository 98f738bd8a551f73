"""Shared set-up for the API suites: an app on the memory bus and store, keys per role, a stand-in narrator.

The narrator stand-in answers like the narration service's template mode (exact text from the report); it
stands in because the API is tested on its own contract (what it does with an answer, a refusal, a busy model),
not the narration's, which has its own suite.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import flask

from qcl.analysis.report import AnalysisReport
from qcl.api import ApiIngest, ApiServices, build_services, context, create_app
from qcl.api.schemas import Role
from qcl.api.server import ApiServer
from qcl.bus.memory import MemoryBus
from qcl.config import Settings, load_settings
from qcl.events import AIInsight, Language
from qcl.store.base import Store
from qcl.store.memory import MemoryStore


class QuestionRefused(ValueError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class ModelBusy(Exception):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"model busy, retry after {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


@dataclass
class TemplateNarrator:
    """Answers from the report, as the narrator's templates do; `fail_with` makes the next calls raise."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    fail_with: Exception | None = None

    def _insight(self, kind: Any, text: str, language: Language) -> AIInsight:
        return AIInsight(
            kind=kind,
            text=text,
            language=language,
            model="templates",
            grounded=True,
            fallback_used=True,
            confidence=1.0,
            sources=["health_score"],
            latency_ms=0.1,
        )

    def narrate(self, report: AnalysisReport, language: Language) -> AIInsight:
        self.calls.append(("narrate", language))
        if self.fail_with is not None:
            raise self.fail_with
        return self._insight("narrative", f"health {report.health_score} ({report.status})", language)

    def answer(
        self, question: str, language: Language, report: AnalysisReport | None, *, phrase: bool = True
    ) -> AIInsight:
        self.calls.append(("answer", question))
        if self.fail_with is not None:
            raise self.fail_with
        score = report.health_score if report else "unknown"
        return self._insight("answer", f"health {score}", language)

    def status(self) -> dict[str, Any]:
        return {"mode": "templates"}


@dataclass
class Api:
    app: flask.Flask
    client: Any
    services: ApiServices
    bus: MemoryBus
    store: Store
    keys: dict[Role, str]

    def headers(self, role: Role | None = None, **extra: str) -> dict[str, str]:
        auth = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        return {**auth, **extra}


def api_settings(tmp_path: Path, **overrides: Any) -> Settings:
    limits = {"rate_limit_key_burst": 10_000, "rate_limit_ip_burst": 10_000}
    return load_settings(state_dir=tmp_path / "state", **{**limits, **overrides})


def make_api(
    tmp_path: Path,
    *,
    narrator: Any = None,
    generation: Any = None,
    store: Store | None = None,
    start_stream: bool = False,
    **overrides: Any,
) -> Api:
    bus = MemoryBus()
    the_store = store or MemoryStore()
    settings = api_settings(tmp_path, **overrides)
    services = build_services(settings, store=the_store, bus=bus, narrator=narrator, generation=generation)
    keys = {role: services.keys.create(role, f"test {role.value}", created_by="test")[1] for role in Role}
    app = create_app(services, start_stream=start_stream)
    return Api(app, app.test_client(), services, bus, the_store, keys)


def report(score: int = 90, at: datetime | None = None, event_id: str = "obs-1") -> AnalysisReport:
    return AnalysisReport(
        observed_at=at or datetime(2025, 11, 8, 12, 0, tzinfo=UTC),
        health_score=score,
        status="healthy" if score >= 80 else "degraded",
        metrics=None,
        findings=[],
        window_observations=1,
        observation_event_id=event_id,
    )


@contextmanager
def ingesting_api(tmp_path: Path, **overrides: Any) -> Iterator[Api]:
    """The API with its consumer and task follower running, as `qcl up` runs it (committee views short for tests)."""
    api = make_api(tmp_path, oracle_view_timeout_ms=400, **overrides)
    ingest = ApiIngest(api.services, context(api.app).broadcaster)
    ingest.start()
    try:
        yield api
    finally:
        ingest.stop()
        api.bus.close()


@dataclass
class Served:
    """The API on the production server (uvicorn, qcl.api.server) over loopback, with its consumer running."""

    api: Api
    server: ApiServer
    ingest: ApiIngest

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ws_url(self) -> str:
        return self.server.url.replace("http://", "ws://") + "/api/ws"


@contextmanager
def serving(api: Api, **server_options: Any) -> Iterator[Served]:
    """Serve `api` (made with start_stream=True for its WebSocket) until the block ends, as `qcl up` serves it."""
    ingest = ApiIngest(api.services, context(api.app).broadcaster)
    ingest.start()
    server = ApiServer(api.app, "127.0.0.1", 0, **{"grace_s": 3, **server_options})
    server.start()
    try:
        yield Served(api, server, ingest)
    finally:
        server.stop()
        ingest.stop()
        api.bus.close()

"""Logs: search every process's lines, and the patterns Drain finds in them (qcl.obs.logindex, qcl.obs.patterns).

    GET /api/ops/logs?since=15m&level=ERROR&service=shard&request_id=3f2a...&q="session failed"&limit=100
    GET /api/ops/logs/patterns?window_s=300&baseline_s=3600   -> new and bursting templates first

The local stack searches its own index of <state_dir>/logs; with QCL_LOG_SEARCH=cloud, Cloud Logging. A query that
cannot parse answers 400 `invalid_log_query` naming the field; without a log store, 503 `logs_unavailable`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from qcl.api.errors import ApiError, unavailable
from qcl.api.routing import ApiRoutes
from qcl.api.schemas import Role, _Query
from qcl.obs.alerts import AlertBook
from qcl.obs.logindex import LogEntry, LogIndex, open_log_index
from qcl.obs.logquery import LogQuery, LogQueryError, parse_query
from qcl.obs.patterns import MAX_LINES, MiningWindow, PatternReport, mine

if TYPE_CHECKING:
    from qcl.api.context import ApiContext


class LogsQuery(_Query):
    # Kept as text here: parse_query reads them, so a bad one is a 400 that says what was expected.
    since: str | None = Field(default=None, max_length=64)  # 15m, 2h, 7d, or ISO-8601
    until: str | None = Field(default=None, max_length=64)
    level: str | None = Field(default=None, max_length=16)  # the lowest severity shown
    service: str | None = Field(default=None, max_length=64)  # a process (api) or a family (shard)
    request_id: str | None = Field(default=None, max_length=64)
    q: str | None = Field(default=None, max_length=500)  # words and "quoted phrases", all required
    limit: int = Field(default=100, ge=1, le=1000)


class LogsResponse(BaseModel):
    backend: str  # local | cloud
    entries: list[LogEntry]  # newest first


class PatternsQuery(_Query):
    window_s: float = Field(default=300, ge=10, le=24 * 3600)  # "recent"
    baseline_s: float = Field(default=3600, ge=60, le=7 * 24 * 3600)  # what recent is compared with
    service: str | None = Field(default=None, max_length=64)


class PatternsResponse(BaseModel):
    window_s: float
    baseline_s: float
    lines: int  # lines mined
    patterns: list[PatternReport]


def register(routes: ApiRoutes, ctx: ApiContext) -> None:
    services = ctx.services
    book = AlertBook(services.store, now=services.now)
    opened: list[LogIndex | None] = []

    def index() -> LogIndex:
        if services.logs is not None:
            return services.logs
        if not opened:
            opened.append(open_log_index(services.settings))
        if opened[0] is None:
            raise unavailable("logs", "no log store is configured (QCL_LOG_DIR, or QCL_LOG_SEARCH=cloud)")
        return opened[0]

    def search(query: LogQuery) -> list[LogEntry]:
        try:
            return index().search(query)
        except LogQueryError as exc:
            raise ApiError(400, "invalid_log_query", str(exc), field=exc.field) from None

    @routes.route(
        "GET",
        "/api/ops/logs",
        role=Role.OPERATOR,
        tag="ops",
        summary="Search the log lines of every process (time, level, service, request id, text)",
        query=LogsQuery,
        responses={200: LogsResponse, 400: None, 503: None},
    )
    def search_logs(query: LogsQuery) -> LogsResponse:
        try:
            parsed = parse_query(**query.model_dump(exclude={"q"}), text=query.q, now=services.now())
        except LogQueryError as exc:
            raise ApiError(400, "invalid_log_query", str(exc), field=exc.field) from None
        found = search(parsed)
        return LogsResponse(backend=index().backend, entries=found)

    @routes.route(
        "GET",
        "/api/ops/logs/patterns",
        role=Role.OPERATOR,
        tag="ops",
        summary="Log templates (Drain) with new and bursting flags, an error burst's alerts and request ids",
        query=PatternsQuery,
        responses={200: PatternsResponse, 400: None, 503: None},
    )
    def log_patterns(query: PatternsQuery) -> PatternsResponse:
        window = MiningWindow(now=services.now(), window_s=query.window_s, baseline_s=query.baseline_s)
        if query.service is not None:
            try:
                parse_query(service=query.service)
            except LogQueryError as exc:
                raise ApiError(400, "invalid_log_query", str(exc), field=exc.field) from None
        entries = search(LogQuery(since=window.baseline_from, service=query.service, limit=MAX_LINES))
        alerts = [*book.active(), *book.history(200)]
        return PatternsResponse(
            window_s=query.window_s,
            baseline_s=query.baseline_s,
            lines=len(entries),
            patterns=mine(entries, window, alerts=alerts),
        )

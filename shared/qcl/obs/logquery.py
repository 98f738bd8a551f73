"""A log search, parsed once from what a person typed, for either backend (qcl.obs.logindex).

    query = parse_query(since="15m", level="ERROR", service="shard", request_id=None, text='"session failed"')
    cloud_filter(query)   # the same search as a Cloud Logging filter string (entries.list)

`since`/`until` take a duration back from now (90s, 15m, 2h, 7d) or an ISO-8601 time; `level` is the lowest
severity shown; `service` matches a process (`api`) or a family of them (`shard` matches shard-local-s0-r0 ...);
`text` is words and "quoted phrases" that must all occur in the message. Anything else raises LogQueryError naming
the field and what was expected, which the API answers with 400.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from qcl.errors import QclError

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")  # service names and request ids (qcl.api.app accepts the same)
MAX_TERMS = 8


class LogQueryError(QclError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class LogQuery:
    since: datetime | None = None
    until: datetime | None = None
    level: str | None = None  # the lowest severity shown
    service: str | None = None
    request_id: str | None = None
    terms: tuple[str, ...] = ()  # words or phrases, all of which the message holds
    limit: int = 100

    def levels(self) -> tuple[str, ...]:
        """The severities the query shows (all of them without a level)."""
        return LEVELS[LEVELS.index(self.level) :] if self.level else LEVELS


def parse_time(field: str, value: str, now: datetime) -> datetime:
    """A duration back from `now` ("15m") or an ISO-8601 time (naive means UTC)."""
    value = value.strip()
    match = _DURATION.match(value)
    if match:
        try:
            return now - timedelta(seconds=float(match.group(1)) * _UNIT_S[match.group(2)])
        except OverflowError:  # "99999999d" reaches back before year 1
            raise LogQueryError(field, f"{value!r} reaches back further than any log (before year 1)") from None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise LogQueryError(
            field, f"expected a duration back from now (90s, 15m, 2h, 7d) or an ISO-8601 time, got {value!r}"
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def parse_terms(text: str) -> tuple[str, ...]:
    """Words and "quoted phrases"; an unbalanced quote is an error rather than a guess."""
    try:
        terms = tuple(term for term in shlex.split(text) if term.strip())
    except ValueError as exc:
        raise LogQueryError("q", f"cannot parse {text!r}: {exc} (close the quote, or search without it)") from None
    if len(terms) > MAX_TERMS:
        raise LogQueryError("q", f"at most {MAX_TERMS} words or phrases, got {len(terms)}")
    return terms


def parse_query(
    *,
    since: str | None = None,
    until: str | None = None,
    level: str | None = None,
    service: str | None = None,
    request_id: str | None = None,
    text: str | None = None,
    limit: int = 100,
    now: datetime | None = None,
) -> LogQuery:
    now = now or datetime.now(UTC)
    start = parse_time("since", since, now) if since else None
    end = parse_time("until", until, now) if until else None
    if start and end and start >= end:
        raise LogQueryError("until", f"must be after since ({start.isoformat()}), got {end.isoformat()}")
    if level and level.upper() not in LEVELS:
        raise LogQueryError("level", f"expected one of {', '.join(LEVELS)}, got {level!r}")
    for field, value in (("service", service), ("request_id", request_id)):
        if value and not _NAME.match(value):
            raise LogQueryError(field, f"expected 1-64 letters, digits or _.:-, got {value!r}")
    return LogQuery(
        since=start,
        until=end,
        level=level.upper() if level else None,
        service=service or None,
        request_id=request_id or None,
        terms=parse_terms(text) if text else (),
        limit=limit,
    )


def cloud_filter(query: LogQuery) -> str:
    """The query in Cloud Logging's filter language (https://cloud.google.com/logging/docs/view/logging-query-language);
    a service is the Cloud Run service (or function) that wrote the line."""
    clauses = []
    if query.since:
        clauses.append(f'timestamp>="{query.since.isoformat()}"')
    if query.until:
        clauses.append(f'timestamp<"{query.until.isoformat()}"')
    if query.level:
        clauses.append(f"severity>={query.level}")
    if query.service:
        clauses.append(
            f'(resource.labels.service_name:"{query.service}" OR resource.labels.function_name:"{query.service}")'
        )
    if query.request_id:
        clauses.append(f'jsonPayload.request_id="{query.request_id}"')
    clauses.extend(f'jsonPayload.message:"{_quoted(term)}"' for term in query.terms)
    return " AND ".join(clauses)


def _quoted(term: str) -> str:
    return term.replace("\\", "\\\\").replace('"', '\\"')

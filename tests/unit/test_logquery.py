"""Log queries: what a person types becomes one LogQuery, or an error naming the field and what was expected; the
same query as a Cloud Logging filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qcl.obs.logquery import LogQueryError, cloud_filter, parse_query

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def test_durations_count_back_from_now_and_times_are_read_as_utc() -> None:
    query = parse_query(since="15m", until="2026-12-05T07:59:00", now=NOW)
    assert query.since == NOW - timedelta(minutes=15)
    assert query.until == datetime(2026, 12, 5, 7, 59, tzinfo=UTC)
    assert parse_query(since="1.5h", now=NOW).since == NOW - timedelta(minutes=90)


def test_a_level_is_the_lowest_severity_shown() -> None:
    assert parse_query(level="warning").levels() == ("WARNING", "ERROR", "CRITICAL")


def test_words_and_quoted_phrases_are_separate_terms() -> None:
    assert parse_query(text='session "stage failed" -x').terms == ("session", "stage failed", "-x")


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"since": "yesterday"}, "since", "expected a duration back from now (90s, 15m, 2h, 7d) or an ISO-8601"),
        ({"until": "10 minutes"}, "until", "'10 minutes'"),
        ({"since": "5m", "until": "10m"}, "until", "must be after since"),
        ({"level": "LOUD"}, "level", "expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'"),
        ({"text": 'session "failed'}, "q", "No closing quotation"),
        ({"text": "a b c d e f g h i"}, "q", "at most 8 words or phrases, got 9"),
        ({"request_id": "x' OR 1=1"}, "request_id", "expected 1-64 letters"),
        ({"service": "api/../x"}, "service", "expected 1-64 letters"),
        ({"since": "99999999d"}, "since", "'99999999d' reaches back further than any log"),
        ({"until": "9999999999999999999999s"}, "until", "reaches back further than any log"),
    ],
)
def test_a_query_that_cannot_parse_names_the_field_and_what_was_expected(
    fields: dict[str, str], field: str, says: str
) -> None:
    with pytest.raises(LogQueryError) as raised:
        parse_query(**fields, now=NOW)  # type: ignore[arg-type]
    assert raised.value.field == field
    assert says in str(raised.value) and str(raised.value).startswith(f"{field}: ")


def test_the_cloud_filter_says_the_same_search_in_cloud_loggings_language() -> None:
    query = parse_query(
        since="10m", level="ERROR", service="qcl-api", request_id="abc123", text='timeout "said \\"no\\""', now=NOW
    )
    assert cloud_filter(query) == (
        'timestamp>="2026-12-05T07:50:00+00:00" AND severity>=ERROR AND '
        '(resource.labels.service_name:"qcl-api" OR resource.labels.function_name:"qcl-api") AND '
        'jsonPayload.request_id="abc123" AND jsonPayload.message:"timeout" AND jsonPayload.message:"said \\"no\\""'
    )
    assert cloud_filter(parse_query()) == ""

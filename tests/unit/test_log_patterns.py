"""Log patterns (Drain): templates hide ids and numbers; a template is new or bursting against its baseline, on a
clock the test sets; an error burst links the alerts firing then and its request ids."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from qcl.obs.alerts import AlertRecord
from qcl.obs.logindex import LogEntry
from qcl.obs.patterns import MiningWindow, PatternReport, mine

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
WINDOW = MiningWindow(now=NOW, window_s=300, baseline_s=3600)


def line(ago_s: float, message: str, severity: str = "INFO", request_id: str | None = None) -> LogEntry:
    at = NOW - timedelta(seconds=ago_s)
    return LogEntry(time=at, severity=severity, service="api", request_id=request_id, message=message)


def session_id(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()[:32]  # as a uuid4().hex looks


def steady(count: int = 60) -> list[LogEntry]:
    """One line a minute over the last hour: the baseline's steady state."""
    return [line(60 * n + 1, f"ingest: published tick {36995566 + n} in {n % 7} ms") for n in range(count)]


def by_template(reports: list[PatternReport]) -> dict[str, PatternReport]:
    return {r.template: r for r in reports}


def test_ids_and_numbers_fold_into_one_template() -> None:
    [report] = mine(steady(), WINDOW)
    assert report.template == "ingest: published tick <NUM> in <NUM> ms"
    assert report.count == 60 and report.recent == 5 and not report.new and not report.bursting


def test_a_template_first_seen_in_the_window_is_new() -> None:
    entries = [*steady(), line(30, "stage local-s1-r0 exited with -9; restarting it", "WARNING")]
    reports = by_template(mine(entries, WINDOW))
    fresh = reports["stage local-s1-r0 exited with <NUM>; restarting it"]
    assert fresh.new and not fresh.bursting  # one line is news, not a burst
    assert mine(entries, WINDOW)[0] == fresh  # flagged patterns come first


def test_a_template_well_over_its_baseline_rate_is_bursting_and_one_at_its_rate_is_not() -> None:
    message = "session {} failed: deadline exceeded"
    failing = [line(5 * n, message.format(session_id(n)), "ERROR", f"req-{n}") for n in range(12)]
    earlier = [line(400 + 600 * n, message.format(session_id(n)), "ERROR") for n in range(3)]
    reports = by_template(mine([*steady(), *earlier, *failing], WINDOW))
    burst = reports["session <HEX> failed: deadline exceeded"]
    assert (burst.recent, burst.baseline) == (12, 3)
    assert burst.bursting and not burst.new
    assert burst.request_ids[:3] == ["req-0", "req-1", "req-2"]  # newest first
    assert not reports["ingest: published tick <NUM> in <NUM> ms"].bursting


def test_an_error_burst_links_the_alerts_firing_during_it_and_not_those_resolved_before() -> None:
    def alert(name: str, status: str, starts_ago_s: float, ends_ago_s: float | None = None) -> AlertRecord:
        return AlertRecord(
            fingerprint=name.lower(),
            alertname=name,
            status=status,
            severity="page",
            summary="",
            runbook_url=None,
            labels={},
            starts_at=NOW - timedelta(seconds=starts_ago_s),
            ends_at=None if ends_ago_s is None else NOW - timedelta(seconds=ends_ago_s),
            received_at=NOW,
        )

    alerts = [
        alert("QclTargetDown", "firing", 200),
        alert("QclNodeDown", "firing", 3000),
        alert("QclNodeDown", "resolved", 3000, 2000),  # over long before the burst
    ]
    failing = [line(5 * n, f"stage failed: {n} frames lost", "ERROR", f"req-{n}") for n in range(6)]
    reports = by_template(mine([*steady(), *failing], WINDOW, alerts=alerts))
    burst = reports["stage failed: <NUM> frames lost"]
    assert burst.new and burst.bursting
    assert [(a.alertname, a.status) for a in burst.alerts] == [("QclTargetDown", "firing")]
    assert reports["ingest: published tick <NUM> in <NUM> ms"].alerts == []  # only error patterns link alerts


def test_without_a_baseline_nothing_is_new_or_bursting() -> None:
    only_recent = [line(n, f"analysis: tick {n} health 100") for n in range(50)]
    [report] = mine(only_recent, WINDOW)
    assert report.recent == 50 and not report.new and not report.bursting


def test_lines_outside_the_window_and_baseline_are_not_mined() -> None:
    entries = [*steady(), line(5000, "ancient history"), line(-10, "from the future")]
    assert [r.template for r in mine(entries, WINDOW)] == ["ingest: published tick <NUM> in <NUM> ms"]

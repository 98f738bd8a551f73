"""Members in separate processes share network-analysis.oracle, each pulling some reports: with a shared count the
committee files a job pair for every `every`-th report of the stream, whichever member pulled it.

    .venv/bin/pytest tests/unit/test_oracle_scheduler_shared.py
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qcl.analysis.report import AnalysisReport
from qcl.bus.memory import MemoryBus
from qcl.events import NETWORK_ANALYSIS, Envelope
from qcl.oracle.scheduler import ReportScheduler
from qcl.store.keys import ANALYZER_WINDOW
from qcl.store.memory import MemoryStore

START = datetime(2026, 12, 5, tzinfo=UTC)


def _reports(count: int) -> list[Envelope[AnalysisReport]]:
    reports = []
    for i in range(count):
        report = AnalysisReport(
            observed_at=START + timedelta(minutes=i), health_score=90, status="healthy", metrics=None,
            findings=[], window_observations=1,
        )  # fmt: skip
        reports.append(NETWORK_ANALYSIS.event(report, source="//test"))
    return reports


@pytest.mark.parametrize(("shared", "filed_for"), [(True, [0, 3]), (False, [0, 1])])
def test_two_members_splitting_the_reports_file_every_third_report_only_when_counting_together(
    shared: bool, filed_for: list[int]
) -> None:
    store = MemoryStore()
    for i in range(6):
        store.window_add(ANALYZER_WINDOW.key(), (START + timedelta(minutes=i)).timestamp(), f"observation {i}")
    members = [ReportScheduler(MemoryBus(), store, every=3, window_s=3600, shared_count=shared) for _ in range(2)]
    reports = _reports(6)
    filed = []
    for i, event in enumerate(reports):  # the shared subscription hands reports to the members in turn
        member = members[i % 2]
        before = len(member.filed)
        member.handle(event)
        filed += [i] * (len(member.filed) - before)
    assert sorted(set(filed)) == filed_for
    assert len(filed) == 2 * len(filed_for)  # a job pair (health score, findings) per filed report

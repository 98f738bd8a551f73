"""The epoch calendar: Wednesday 12:00 UTC transitions (qubic-rpc.md §4.3)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from qcl.analysis.epochs import epoch_start, expected_epoch, in_transition_window, transition_overdue


@pytest.mark.parametrize(
    ("at", "epoch"),
    [
        (datetime(2025, 11, 5, 12, 0, tzinfo=UTC), 186),
        (datetime(2025, 11, 12, 11, 59, tzinfo=UTC), 186),
        (datetime(2025, 11, 12, 12, 0, tzinfo=UTC), 187),
        (datetime(2026, 2, 11, 12, 30, tzinfo=UTC), 200),  # epoch 200 began 2026-02-11 (§4.3 table)
    ],
)
def test_expected_epoch_follows_the_weekly_calendar(at: datetime, epoch: int) -> None:
    assert expected_epoch(at) == epoch


def test_epoch_starts_on_wednesday_noon() -> None:
    assert epoch_start(187) == datetime(2025, 11, 12, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "inside"),
    [
        (datetime(2025, 11, 12, 11, 59, tzinfo=UTC), False),
        (datetime(2025, 11, 12, 12, 0, tzinfo=UTC), True),
        (datetime(2025, 11, 12, 13, 29, tzinfo=UTC), True),
        (datetime(2025, 11, 12, 13, 30, tzinfo=UTC), False),
        (datetime(2025, 11, 13, 12, 30, tzinfo=UTC), False),  # a Thursday
    ],
)
def test_transition_window_is_wednesday_12_to_13_30_utc(at: datetime, inside: bool) -> None:
    assert in_transition_window(at) is inside


def test_transition_is_overdue_only_while_the_old_epoch_lingers_that_day() -> None:
    afternoon = datetime(2025, 11, 12, 14, 0, tzinfo=UTC)
    assert transition_overdue(afternoon, 186)
    assert not transition_overdue(afternoon, 187)
    assert not transition_overdue(datetime(2025, 11, 12, 19, 0, tzinfo=UTC), 186)

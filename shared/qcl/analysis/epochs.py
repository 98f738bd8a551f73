"""The epoch calendar: when the weekly transition (and its halt) is expected.

Epochs change every Wednesday at 12:00 UTC and the network stops ticking for a couple of minutes up to an hour
(docs/reference/qubic-rpc.md §4.3); alarms about the halt are suppressed Wednesday 12:00–13:30 UTC (§4.9).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

EPOCH_186_START = datetime(2025, 11, 5, 12, 0, tzinfo=UTC)  # epoch 186, initial tick 36 440 000 (§4.3)
EPOCH_LENGTH = timedelta(days=7)
WEDNESDAY = 2  # datetime.weekday()
TRANSITION_START = time(12, 0)
TRANSITION_END = time(13, 30)  # the halt lasts up to about an hour; 30 min of margin for the restart
OVERDUE_LIMIT = timedelta(hours=6)  # a transition not seen this long after 12:00 is no longer "expected"


def expected_epoch(at: datetime) -> int:
    """The epoch the calendar puts at `at` (exact for late 2025, drifts only if a week is ever skipped)."""
    return 186 + (at - EPOCH_186_START) // EPOCH_LENGTH


def epoch_start(epoch: int) -> datetime:
    return EPOCH_186_START + (epoch - 186) * EPOCH_LENGTH


def next_epoch_start(at: datetime, observed_epoch: int) -> datetime | None:
    """When the epoch after `observed_epoch` is due by the calendar, seen from `at`: within the next week, or past
    when the network has not switched yet (the halt, or an overdue transition). None when `observed_epoch` is not
    the calendar's epoch or the one before it: the calendar cannot say."""
    expected = expected_epoch(at)
    return epoch_start(observed_epoch + 1) if observed_epoch in (expected, expected - 1) else None


def in_transition_window(at: datetime) -> bool:
    """Wednesday 12:00–13:30 UTC, when the weekly halt is expected."""
    utc = at.astimezone(UTC)
    return utc.weekday() == WEDNESDAY and TRANSITION_START <= utc.time() < TRANSITION_END


def transition_overdue(at: datetime, observed_epoch: int) -> bool:
    """The calendar's new epoch has begun a few hours ago but the network still reports the previous one."""
    expected = expected_epoch(at)
    since_start = at - epoch_start(expected)
    return observed_epoch == expected - 1 and timedelta(0) <= since_start < OVERDUE_LIMIT

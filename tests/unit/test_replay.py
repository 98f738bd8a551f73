"""ReplaySource plays a capture in order, resumes, loops; pace() spaces items by Δobserved_at / speed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from qcl.errors import SourceError, SourceExhaustedError
from qcl.qubic.capture import InvalidLine
from qcl.qubic.replay import ReplaySource, pace
from qcl.qubic.types import Observation
from tests.fakes.observations import START, observations, write_capture_file


def ticks(items: list[Observation | InvalidLine]) -> list[int | None]:
    return [item.tick.tick if isinstance(item, Observation) else None for item in items]


def take(source: ReplaySource, count: int) -> list[Observation | InvalidLine]:
    return [source.next() for _ in range(count)]


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    """Four observations 30 s apart, with a blank line that is not an observation."""
    lines = [item.to_json_line() for item in observations(4)]
    return write_capture_file(tmp_path / "capture.jsonl", [*lines[:2], "", *lines[2:]])


def test_replay_plays_the_capture_in_order(capture: Path) -> None:
    with ReplaySource(capture) as source:
        played = take(source, 4)

    assert ticks(played) == [36_695_873, 36_695_903, 36_695_933, 36_695_963]
    assert [item.observed_at for item in played] == [START + timedelta(seconds=30 * i) for i in range(4)]


def test_position_counts_the_observations_played(capture: Path) -> None:
    with ReplaySource(capture) as source:
        take(source, 3)

        assert source.position == 3


def test_replay_resumes_from_a_stored_position(capture: Path) -> None:
    with ReplaySource(capture) as first:
        take(first, 2)
        stored = first.position

    with ReplaySource(capture, position=stored) as resumed:
        assert ticks(take(resumed, 2)) == [36_695_933, 36_695_963]


def test_replay_raises_source_exhausted_at_the_end(capture: Path) -> None:
    with ReplaySource(capture, position=4) as source, pytest.raises(SourceExhaustedError, match="played out"):
        source.next()


def test_a_position_past_the_end_is_exhausted_without_looping(capture: Path) -> None:
    with ReplaySource(capture, position=99) as source, pytest.raises(SourceExhaustedError):
        source.next()


def test_an_empty_capture_is_exhausted_even_when_looping(tmp_path: Path) -> None:
    empty = write_capture_file(tmp_path / "empty.jsonl", ["", "  "])

    with ReplaySource(empty, loop=True) as source, pytest.raises(SourceExhaustedError, match="no observations"):
        source.next()


def test_a_missing_capture_is_a_source_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"capture .*missing\.jsonl cannot be read: No such file or directory"):
        ReplaySource(tmp_path / "missing.jsonl")


def test_a_truncated_line_is_reported_as_an_invalid_line_and_play_goes_on(tmp_path: Path) -> None:
    first, second, third = (item.to_json_line() for item in observations(3))
    capture = write_capture_file(tmp_path / "cut.jsonl", [first, second[: len(second) // 2], third])

    with ReplaySource(capture) as source:
        played = take(source, 3)

    assert isinstance(played[1], InvalidLine)
    assert played[1].line_number == 2
    assert played[1].reason.startswith("line 2: not JSON")
    assert played[1].observed_at is None
    assert ticks(played) == [36_695_873, None, 36_695_933]


def test_replay_loops_when_asked(capture: Path) -> None:
    with ReplaySource(capture, loop=True) as source:
        played = take(source, 6)

        assert source.position == 2
        assert source.lap == 1
    assert ticks(played) == [36_695_873, 36_695_903, 36_695_933, 36_695_963, 36_695_873, 36_695_903]


def test_a_looped_replay_wraps_a_stored_position_past_the_end(capture: Path) -> None:
    with ReplaySource(capture, position=9, loop=True) as source:  # 9 mod 4 observations = 1
        assert ticks([source.next()]) == [36_695_903]


def test_iterating_a_replay_yields_the_rest_and_stops(capture: Path) -> None:
    with ReplaySource(capture, position=1) as source:
        assert len(list(source)) == 3


# -- pacing --------------------------------------------------------------------------------------------


def test_pace_sleeps_the_time_between_observations_divided_by_speed(capture: Path) -> None:
    sleeps: list[float] = []

    with ReplaySource(capture) as source:
        paced = list(pace(source, speed=60, sleep=sleeps.append))

    assert len(paced) == 4
    assert sleeps == [0.5, 0.5, 0.5]  # 30 s apart at 60× real time


def test_pace_sleeps_before_each_item_not_after(capture: Path) -> None:
    events: list[str] = []

    with ReplaySource(capture) as source:
        for _item in pace(source, speed=30, sleep=lambda s: events.append(f"sleep {s:g}")):
            events.append("item")
            if len(events) >= 3:
                break

    assert events == ["item", "sleep 1", "item"]


def test_pace_at_speed_zero_never_sleeps(capture: Path) -> None:
    sleeps: list[float] = []

    with ReplaySource(capture) as source:
        list(pace(source, speed=0, sleep=sleeps.append))

    assert sleeps == []


def test_pace_does_not_sleep_for_undated_lines_or_steps_back_in_time() -> None:
    first, second, third = observations(3, every_s=60)
    undated = InvalidLine(2, "line 2: not JSON", None)
    sleeps: list[float] = []

    items: list[Observation | InvalidLine] = [first, undated, third, second]

    list(pace(items, speed=2, sleep=sleeps.append))

    assert sleeps == [60.0]  # first → third is 120 s at 2×; the undated line and the step back wait nothing


def test_pace_rejects_a_negative_speed() -> None:
    with pytest.raises(ValueError, match="speed"):
        list(pace([], speed=-1))

"""The generation service's waiting line: priority class first, then arrival; bounded; preemption picks."""

from __future__ import annotations

import queue
import threading

import pytest

from qcl.model.batch import Request
from qcl.model.errors import InvalidGenerationRequestError
from qcl.model.params import GenerationParams
from qcl.model.waiting import WaitingLine


def _request(name: str, priority: str) -> Request:
    params = GenerationParams(priority=priority)  # type: ignore[arg-type]
    return Request(
        prompt_ids=[len(name)], params=params, submitted_at=0.0, opens_thinking=False, cache_key=name, deltas=None
    )


def _names(requests: list[Request]) -> list[str | None]:
    return [request.cache_key for request in requests]


def test_requests_leave_by_class_then_arrival() -> None:
    line = WaitingLine(maxsize=8)
    for name, priority in [
        ("b1", "background"),
        ("s1", "standard"),
        ("b2", "background"),
        ("i1", "interactive"),
        ("s2", "standard"),
        ("t1", "batch"),
    ]:
        line.put_nowait(_request(name, priority))
    assert _names([line.get(0) for _ in range(6)]) == ["i1", "s1", "s2", "t1", "b1", "b2"]


def test_a_full_line_refuses_whatever_the_class() -> None:
    line = WaitingLine(maxsize=1)
    line.put_nowait(_request("b", "background"))
    with pytest.raises(queue.Full):
        line.put_nowait(_request("i", "interactive"))


def test_get_for_a_class_stops_at_a_request_of_another_class() -> None:
    line = WaitingLine(maxsize=4)
    line.put_nowait(_request("i", "interactive"))
    line.put_nowait(_request("b", "background"))
    with pytest.raises(queue.Empty):
        line.get(0, rank=3)
    assert _names([line.get(0, rank=0)]) == ["i"]


def test_take_before_picks_only_more_urgent_classes_up_to_the_limit() -> None:
    line = WaitingLine(maxsize=8)
    for name, priority in [("i1", "interactive"), ("s1", "standard"), ("i2", "interactive"), ("b1", "background")]:
        line.put_nowait(_request(name, priority))
    assert _names(line.take_before(rank=1, limit=4)) == ["i1", "i2"]
    assert line.take_before(rank=1, limit=4) == []
    assert _names(line.take_before(rank=3, limit=1)) == ["s1"]
    assert line.counts() == {3: 1}


def test_get_waits_for_a_request_put_from_another_thread() -> None:
    line = WaitingLine(maxsize=2)
    threading.Timer(0.05, line.put_nowait, args=(_request("late", "standard"),)).start()
    assert _names([line.get(5)]) == ["late"]


def test_an_unknown_priority_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidGenerationRequestError, match="priority: expected one of interactive, standard"):
        GenerationParams(priority="urgent")  # type: ignore[arg-type]

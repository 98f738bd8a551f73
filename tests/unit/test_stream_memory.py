"""qcl.api.stream.Broadcaster's memory: what a subscriber at sequence N is sent next, without the store."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qcl.api.stream import _RECENT, Broadcaster, EventLog


class Log:
    """An event log's read side, numbered from 1 without holes, as EventLog.read_after reads it."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, count: int) -> None:
        start = len(self.events) + 1
        self.events += [{"seq": n, "type": "node", "data": {"n": n}} for n in range(start, start + count)]

    def head(self) -> int:
        return len(self.events)

    def read_after(self, seq: int, limit: int = 256) -> list[dict[str, Any]]:
        return self.events[seq : seq + limit]


@pytest.fixture
def log_and_memory() -> tuple[Log, Broadcaster]:
    log = Log()
    broadcaster = Broadcaster(EventLog.__new__(EventLog))
    broadcaster.log = log  # type: ignore[assignment]
    return log, broadcaster


def pulled(log: Log, broadcaster: Broadcaster, count: int) -> None:
    log.add(count)
    while broadcaster.last < log.head():
        broadcaster.poke()


def test_a_subscriber_gets_exactly_the_events_after_its_sequence_in_order(
    log_and_memory: tuple[Log, Broadcaster],
) -> None:
    log, broadcaster = log_and_memory
    pulled(log, broadcaster, 600)  # more than memory keeps, over several reads
    assert broadcaster.last == 600
    assert broadcaster.after(600) == [] and broadcaster.after(700) == []
    assert [entry.seq for entry in broadcaster.after(597) or []] == [598, 599, 600]
    oldest = 600 - _RECENT
    kept = broadcaster.after(oldest) or []
    assert [entry.seq for entry in kept] == list(range(oldest + 1, 601))
    assert '"n": 599' in kept[-2].text


def test_a_subscriber_behind_what_memory_keeps_is_sent_to_the_store(log_and_memory: tuple[Log, Broadcaster]) -> None:
    log, broadcaster = log_and_memory
    pulled(log, broadcaster, 600)
    assert broadcaster.after(600 - _RECENT - 1) is None and broadcaster.after(0) is None
    pulled(log, broadcaster, 1)
    assert [entry.seq for entry in broadcaster.after(600) or []] == [601]


def test_an_erasure_replaces_the_events_it_names_in_memory_and_keeps_their_numbers(
    log_and_memory: tuple[Log, Broadcaster],
) -> None:
    log, broadcaster = log_and_memory
    log.add(5)
    log.events[2]["data"] = {"task": "t-erase-me", "question": "private"}
    pulled(log, broadcaster, 0)
    assert "private" in (broadcaster.after(2) or [])[0].text
    assert broadcaster.redact({"t-erase-me"}) == 1
    kept = broadcaster.after(0) or []
    assert [entry.seq for entry in kept] == [1, 2, 3, 4, 5]
    assert json.loads(kept[2].text) == {"seq": 3, "type": "node", "data": {"erased": True}}
    assert "private" not in "".join(entry.text for entry in kept)
    assert broadcaster.redact({"t-erase-me"}) == 0 and json.loads(kept[1].text)["data"] == {"n": 2}

"""Record the live network into a capture file (the format of capture.py), for replay and analysis later.

    with QubicRpcClient.from_settings(settings()) as client, open("capture.jsonl", "a") as sink:
        record(client, sink, count=120, interval_s=30)     # an hour of observations

A failed observation is logged and skipped, never written, and recording goes on: a capture holds what the
network said, and an outage shows up as a gap in observed_at.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Protocol

from qcl.errors import SourceError
from qcl.qubic.types import Observation

logger = logging.getLogger(__name__)


class Observer(Protocol):
    def observe(self) -> Observation: ...


@dataclass(frozen=True)
class RecordProgress:
    """Where a recording stands after one poll."""

    polls: int  # observations attempted so far
    written: int  # lines written so far
    observation: Observation | None  # what this poll wrote
    error: str | None  # why this poll wrote nothing

    def __str__(self) -> str:
        failed = self.polls - self.written
        return f"{self.written} of {self.polls} polls" + (f" ({failed} failed)" if failed else "")


def record(
    client: Observer,
    sink: IO[str],
    *,
    count: int | None,
    interval_s: float,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_progress: Callable[[RecordProgress], None] | None = None,
) -> int:
    """Poll `count` times (None: until interrupted), one poll every interval_s; returns the lines written.

    Polls keep to a fixed cadence: the time an observation takes is taken off the wait before the next one.
    Each line is flushed as it is written, so an interrupted recording keeps everything up to that point.
    """
    if count is not None and count < 0:
        raise ValueError(f"count must be 0 or more, got {count}")
    if interval_s < 0:
        raise ValueError(f"interval_s must be 0 or more, got {interval_s}")
    polls = written = 0
    next_poll_at = clock()
    while count is None or polls < count:
        if polls:
            sleep(max(0.0, next_poll_at - clock()))
        next_poll_at += interval_s
        polls += 1
        observation: Observation | None = None
        error: str | None = None
        try:
            observation = client.observe()
        except SourceError as exc:
            error = str(exc)
            logger.warning("poll %d: no observation recorded: %s", polls, exc)
        if observation is not None:
            sink.write(observation.to_json_line() + "\n")
            sink.flush()
            written += 1
        if on_progress is not None:
            on_progress(RecordProgress(polls, written, observation, error))
    return written

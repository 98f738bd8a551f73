"""Replay: play a capture file (JSON lines, see capture.py) as if the network were being observed now.

source = ReplaySource(Path("capture.jsonl"), position=stored_position, loop=True)
item = source.next()                  # an Observation, or an InvalidLine for a line that does not parse
store(source.position)                # a stateless caller (a Cloud Function) resumes from here next time
for item in pace(ReplaySource(path), speed=120):   # the items, spaced Δobserved_at / 120 apart
    ...
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Protocol, TypeVar

from qcl.errors import SourceError, SourceExhaustedError
from qcl.qubic.capture import InvalidLine, parse_line
from qcl.qubic.types import Observation


class _Dated(Protocol):
    @property
    def observed_at(self) -> datetime | None: ...


Item = TypeVar("Item", bound=_Dated)  # an Observation or an InvalidLine, or either


class ReplaySource:
    """Plays the non-blank lines of a capture in order, from `position` (0 = the first observation).

    With loop=True the capture starts over after its last line (a demo that runs forever): `position` goes
    back to 0 and `lap` counts the passes; the observations repeat unchanged, observed_at included. A stored
    position past the end of a looped capture wraps around (modulo the number of observations).
    """

    def __init__(self, path: Path | str, *, position: int = 0, loop: bool = False) -> None:
        if position < 0:
            raise ValueError(f"position must be 0 or more, got {position}")
        self.path = Path(path)
        self.loop = loop
        self._position = 0
        self._lap = 0
        self._handle: IO[str] | None = None
        self._lines: Iterator[tuple[int, str]] = iter(())
        self._rewind()
        self._skip(position)

    @property
    def position(self) -> int:
        """Index of the next observation among the capture's non-blank lines; store it to resume."""
        return self._position

    @property
    def lap(self) -> int:
        """Completed passes over the capture since this source was opened (only grows with loop=True)."""
        return self._lap

    def next(self) -> Observation | InvalidLine:
        """The next line, parsed; raises SourceExhaustedError after the last one unless looping."""
        while True:
            for number, text in self._lines:
                if text.strip():
                    self._position += 1
                    return parse_line(text, number)
            self._end_of_file()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        self._lines = iter(())

    def __iter__(self) -> Iterator[Observation | InvalidLine]:
        """The remaining lines; with loop=True this never ends."""
        while True:
            try:
                yield self.next()
            except SourceExhaustedError:
                return

    def __enter__(self) -> ReplaySource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _rewind(self) -> None:
        self.close()
        # Undecodable bytes become U+FFFD so that a damaged line is reported as invalid, not a crash.
        try:
            self._handle = self.path.open(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise SourceError(f"capture {self.path} cannot be read: {exc.strerror or exc}") from exc
        self._lines = enumerate(self._handle, start=1)
        self._position = 0

    def _skip(self, count: int) -> None:
        # Counting lines without parsing them keeps a resume cheap for a caller that starts afresh each time.
        while self._position < count:
            for _number, text in self._lines:
                if text.strip():
                    self._position += 1
                    if self._position == count:
                        return
            played = self._position  # the file ended first: next() reports that, unless looping
            if not self.loop or played == 0:
                return
            self._rewind()
            count %= played

    def _end_of_file(self) -> None:
        played = self._position
        if played == 0:
            raise SourceExhaustedError(f"capture {self.path} has no observations")
        if not self.loop:
            raise SourceExhaustedError(f"capture {self.path} is played out ({played} observations)")
        self._rewind()
        self._lap += 1


def pace(
    items: Iterable[Item],
    speed: float,
    *,
    sleep: Callable[[float], object] = time.sleep,
) -> Iterator[Item]:
    """Yield the items, sleeping Δobserved_at / speed before each; speed 0 means no waiting.

    An item without a time (an InvalidLine that could not even be dated) and a step back in time (a looped
    capture starting over) are yielded at once.
    """
    if speed < 0:
        raise ValueError(f"speed must be 0 (no waiting) or more, got {speed}")
    previous: datetime | None = None
    for item in items:
        observed_at = item.observed_at
        if speed > 0 and previous is not None and observed_at is not None:
            delay_s = (observed_at - previous).total_seconds() / speed
            if delay_s > 0:
                sleep(delay_s)
        if observed_at is not None:
            previous = observed_at
        yield item

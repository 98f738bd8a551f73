"""Capture files: JSON lines, one observation per line (the format of `qcl record` and `qcl analyze`).

A line that does not parse is not fatal: it becomes an InvalidLine naming the line and the problem, which the
analysis reports as a `data_invalid` finding and skips, so one truncated line never hides the rest of a file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from pydantic import TypeAdapter, ValidationError

from qcl.qubic.types import Observation, UtcTime

_UTC_TIME: TypeAdapter[datetime] = TypeAdapter(UtcTime)


@dataclass(frozen=True)
class InvalidLine:
    """A capture line (or an RPC observation) that could not be read."""

    line_number: int
    reason: str
    observed_at: datetime | None  # when the line says it was observed, if that much could be read


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming every invalid field, e.g. "latest_stats.data.price: Input should be >= 0"."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(body)"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def parse_line(text: str, line_number: int = 0) -> Observation | InvalidLine:
    """Parse one capture line; never raises."""
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        return InvalidLine(line_number, f"line {line_number}: not JSON ({exc.msg} at column {exc.colno})", None)
    observed_at = None
    if isinstance(body, dict):
        try:
            observed_at = _UTC_TIME.validate_python(body.get("observed_at"))
        except ValidationError:
            observed_at = None
    try:
        return Observation.model_validate(body)
    except ValidationError as exc:
        return InvalidLine(line_number, f"line {line_number}: {describe_validation_error(exc)}", observed_at)


def read_capture(source: Path | IO[str]) -> Iterator[Observation | InvalidLine]:
    """Yield each non-blank line of a capture as an Observation or an InvalidLine."""
    if isinstance(source, Path):
        with source.open(encoding="utf-8") as handle:
            yield from read_capture(handle)
        return
    for number, text in enumerate(source, start=1):
        if text.strip():
            yield parse_line(text, number)

"""Observations and capture files built from the golden RPC bodies, for replay and record tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from qcl.qubic.types import Observation
from tests.fakes.qubic_rpc import LATEST_STATS, TICK_INFO, golden_json, patched

START = datetime(2025, 11, 8, 15, 30, tzinfo=UTC)  # the reference's example scenario (qubic-rpc.md §2)


def observation(observed_at: datetime, tick: int) -> Observation:
    """The golden observation at another time and live tick."""
    return Observation.model_validate(
        {
            "observed_at": observed_at,
            "latest_stats": golden_json(LATEST_STATS),
            "tick_info": patched(golden_json(TICK_INFO), {"tickInfo.tick": tick}),
        }
    )


def observations(count: int, every_s: float = 30.0, ticks_per_step: int = 30) -> list[Observation]:
    """`count` observations `every_s` apart from START, the tick advancing `ticks_per_step` each time."""
    base_tick = golden_json(TICK_INFO)["tickInfo"]["tick"]
    return [
        observation(START + timedelta(seconds=every_s * index), base_tick + ticks_per_step * index)
        for index in range(count)
    ]


def write_capture_file(path: Path, lines: Iterable[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path

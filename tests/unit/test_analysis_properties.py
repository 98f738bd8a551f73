"""Property: for any calm-ish sequence of observations the engine never raises and the score stays in 0..100."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcl.analysis import analyze_capture, analyze_window, health_score, status_for
from qcl.qubic.types import Observation

START = datetime(2025, 11, 10, 0, 0, tzinfo=UTC)

step = st.fixed_dictionaries(
    {
        "gap_s": st.integers(1, 1800),
        "ticks": st.integers(0, 400),
        "duration": st.integers(0, 900),
        "new_epoch": st.integers(0, 40).map(lambda n: n == 0),  # an epoch change now and then
        "price_factor": st.floats(0.7, 1.4),
        "price_zero": st.integers(0, 30).map(lambda n: n == 0),  # core-lite reports price 0
        "empty_share": st.floats(0.0, 1.0),
        "quality_10k": st.none() | st.floats(0.0, 100.0),
        "archive_lag": st.none() | st.integers(-20, 3000),
        "supply_shift": st.sampled_from([0, 0, 0, 10**9]),
    }
)


def build(steps: list[dict[str, Any]]) -> list[Observation]:
    observations: list[Observation] = []
    at, epoch, initial, tick, price, ticks, empty = START, 186, 36_440_000, 36_600_000, 9e-7, 160_000, 2_000
    for s in steps:
        at += timedelta(seconds=s["gap_s"])
        if s["new_epoch"]:
            epoch, initial, ticks, empty = epoch + 1, tick + 1000, 0, 0
            tick = initial
        tick += s["ticks"]
        ticks += s["ticks"]
        empty += round(s["ticks"] * s["empty_share"])
        price *= s["price_factor"]
        shown_price = 0.0 if s["price_zero"] else price
        supply = 156_000_000_000_000 + s["supply_shift"]
        stats: dict[str, Any] = {
            "timestamp": str(int(at.timestamp())),
            "circulatingSupply": str(supply),
            "activeAddresses": 571_000,
            "price": shown_price,
            "marketCap": str(int(shown_price * supply)),
            "epoch": epoch,
            "currentTick": tick,
            "ticksInCurrentEpoch": ticks,
            "emptyTicksInCurrentEpoch": empty,
            "epochTickQuality": (ticks - empty) / ticks * 100 if ticks else 0.0,
            "burnedQus": str(epoch * 10**12 - 156_000_000_000_000),
        }
        if s["quality_10k"] is not None:
            stats.update({"ticksInLast10000": min(ticks, 10_000), "last10000TickQuality": s["quality_10k"]})
        body: dict[str, Any] = {
            "observed_at": at.isoformat(),
            "latest_stats": {"data": stats},
            "tick_info": {
                "tickInfo": {"tick": tick, "duration": s["duration"], "epoch": epoch, "initialTick": initial}
            },
        }
        if s["archive_lag"] is not None:
            body["last_processed_tick"] = {
                "tickNumber": max(initial, tick - s["archive_lag"]),
                "epoch": epoch,
                "intervalInitialTick": initial,
            }
        observations.append(Observation.model_validate(body))
    return observations


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=50))
def test_engine_never_raises_and_the_score_stays_in_range(steps: list[dict[str, Any]]) -> None:
    window = build(steps)
    report = analyze_window(window)
    assert 0 <= report.health_score <= 100
    assert report.health_score == health_score(report.findings)
    assert report.status == status_for(report.health_score)
    codes = [finding.code for finding in report.findings]
    assert len(codes) == len(set(codes))
    result = analyze_capture(window, window_s=3600)
    assert 0 <= result.report.health_score <= 100
    assert result.observations + result.invalid == len(window)

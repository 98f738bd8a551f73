"""The synthetic generator and the bundled sample capture it produces."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qcl.analysis import CaptureAnalysis, FindingCode, analyze_capture
from qcl.qubic.capture import InvalidLine, parse_line, read_capture
from qcl.qubic.synth import (
    SAMPLE_FILE_NAME,
    SAMPLE_START,
    generate_capture,
    generate_lines,
    main,
    sample_capture_path,
    sample_lines,
)
from qcl.qubic.types import Observation

SATURDAY = datetime(2025, 11, 8, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def bundled() -> list[str]:
    return sample_capture_path().read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def analysis() -> CaptureAnalysis:
    return analyze_capture(read_capture(sample_capture_path()))


def test_bundled_sample_is_what_the_generator_produces(bundled: list[str]) -> None:
    # Regenerate with: python -m qcl.qubic.synth --out shared/qcl/qubic/data/sample_capture.synthetic.jsonl
    assert bundled == sample_lines()


def test_sample_capture_path_is_the_package_data_file() -> None:
    path = sample_capture_path()
    assert path.name == SAMPLE_FILE_NAME and path.is_file()
    assert (path.parent / "README.md").is_file()


def test_only_the_truncated_sample_line_fails_to_parse(bundled: list[str]) -> None:
    unreadable = [item for item in map(parse_line, bundled) if isinstance(item, InvalidLine)]
    assert len(unreadable) == 1 and "not JSON" in unreadable[0].reason


def test_sample_rejects_exactly_its_three_bad_lines(analysis: CaptureAnalysis, bundled: list[str]) -> None:
    assert analysis.invalid == 3  # truncated, tick backwards, duplicate
    assert analysis.observations == len(bundled) - 3


def test_sample_raises_every_finding_code(analysis: CaptureAnalysis) -> None:
    assert {finding.code for finding in analysis.findings} == set(FindingCode)


@pytest.mark.parametrize(
    ("code", "severity", "earliest", "latest"),
    [
        (FindingCode.DATA_INVALID, "warning", "08:29", "08:31"),
        (FindingCode.TICK_STALL, "critical", "08:50", "08:53"),
        (FindingCode.TICK_RATE_LOW, "warning", "09:30", "09:40"),
        (FindingCode.EMPTY_TICKS_HIGH, "critical", "10:10", "10:21"),
        (FindingCode.ARCHIVE_LAG, "critical", "10:40", "11:00"),
        (FindingCode.SUPPLY_ANOMALY, "warning", "11:15", "11:18"),
        (FindingCode.EPOCH_TRANSITION, "info", "12:00", "12:02"),
        (FindingCode.DATA_INVALID, "warning", "13:10", "13:11"),
        (FindingCode.PRICE_CRASH, "warning", "13:40", "13:46"),
        (FindingCode.DATA_GAP, "warning", "14:40", "14:41"),
        (FindingCode.PRICE_SPIKE, "warning", "14:50", "14:56"),
        (FindingCode.TICK_QUALITY_DROP, "warning", "15:30", "16:00"),
        (FindingCode.DATA_INVALID, "warning", "16:30", "16:31"),
    ],
)
def test_each_sample_episode_raises_its_finding_in_time(
    analysis: CaptureAnalysis, code: FindingCode, severity: str, earliest: str, latest: str
) -> None:
    def clock(text: str) -> datetime:
        hour, minute = map(int, text.split(":"))
        return SAMPLE_START.replace(hour=hour, minute=minute)

    raised = [f for f in analysis.findings if f.code == code and f.severity == severity]
    assert any(clock(earliest) <= f.observed_at <= clock(latest) for f in raised), [f.observed_at for f in raised]


def test_sample_ends_healthy(analysis: CaptureAnalysis) -> None:
    assert analysis.report.health_score == 100
    assert [f.code for f in analysis.report.findings] == [FindingCode.PRICE_TREND]


def test_generator_is_deterministic_for_a_seed() -> None:
    first = generate_capture(start=SATURDAY, hours=0.5, seed=3, scenario="calm")
    assert first == generate_capture(start=SATURDAY, hours=0.5, seed=3, scenario="calm")
    assert first != generate_capture(start=SATURDAY, hours=0.5, seed=4, scenario="calm")


def test_unknown_scenario_is_rejected() -> None:
    with pytest.raises(ValueError, match="known scenarios: sample, calm"):
        generate_capture(start=SATURDAY, hours=1, scenario="stormy")


def test_lines_keep_the_rpc_encoding() -> None:
    line = generate_lines(start=SATURDAY, hours=0.1)[0]
    body = json.loads(line)
    stats, tick = body["latest_stats"]["data"], body["tick_info"]["tickInfo"]
    for name in ("timestamp", "circulatingSupply", "marketCap", "burnedQus"):
        assert isinstance(stats[name], str), name  # 64-bit integers are JSON strings
    assert isinstance(stats["epoch"], int) and isinstance(tick["tick"], int)
    assert '"price":9.' in line and "e-7," in line  # protojson's exponent form, no zero padding
    assert int(stats["circulatingSupply"]) + int(stats["burnedQus"]) == stats["epoch"] * 10**12
    assert int(stats["marketCap"]) == int(stats["price"] * int(stats["circulatingSupply"]))
    assert isinstance(body["tick_intervals"], list) and body["last_processed_tick"]["epoch"] == 186


def test_calm_values_are_realistic_for_epoch_186() -> None:
    observations = [parse_line(line) for line in generate_lines(start=SATURDAY, hours=1)]
    assert all(isinstance(o, Observation) for o in observations)
    first, last = observations[0], observations[-1]
    assert isinstance(first, Observation) and isinstance(last, Observation)
    assert first.tick.epoch == 186 and first.tick.initial_tick == 36_440_000
    assert 36_600_000 < first.tick.tick < 36_800_000  # about 250 000 ticks into the epoch
    ticks_per_hour = last.tick.tick - first.tick.tick
    assert 3000 < ticks_per_hour < 3800  # about 1.06 s per tick
    assert 98.5 < first.stats.epoch_tick_quality < 99.0
    assert first.stats.tick_quality_last_10k is not None and first.stats.tick_quality_last_10k > 99.3
    assert 0 < first.tick.tick - first.last_processed_tick.tick_number < 10  # type: ignore[union-attr]


def test_epoch_187_starts_at_its_initial_tick_after_the_wednesday_halt() -> None:
    lines = generate_lines(start=datetime(2025, 11, 12, 11, 50, tzinfo=UTC), hours=1)
    observations = [o for o in map(parse_line, lines) if isinstance(o, Observation)]
    first_187 = next(o for o in observations if o.tick.epoch == 187)
    assert first_187.tick.initial_tick == 37_011_000
    halt_end = datetime(2025, 11, 12, 12, 25, tzinfo=UTC)
    assert halt_end <= first_187.observed_at <= halt_end + timedelta(seconds=31)
    last_186 = [o for o in observations if o.tick.epoch == 186][-1]
    assert last_186.tick.duration > 1400  # halted since 12:00


def test_main_writes_the_requested_capture(tmp_path: Path) -> None:
    out = tmp_path / "calm.jsonl"
    assert (
        main(["--out", str(out), "--scenario", "calm", "--hours", "0.5", "--start", "2025-11-08T12:00:00+00:00"]) == 0
    )
    assert out.read_text(encoding="utf-8").splitlines() == generate_capture(start=SATURDAY, hours=0.5, scenario="calm")

"""What `qcl bench soak` computes from its samples: durations, latency percentiles, process figures and the leak
detector, on made-up series (never on timings).

.venv/bin/pytest tests/unit/test_soak_stats.py
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qcl.bench.soak import SoakPlan, StageKiller
from qcl.bench.soak_stats import (
    LatencyHistogram,
    LeakThresholds,
    LocalProbe,
    OpStats,
    child_processes,
    detect_leaks,
    metrics_sample,
    parse_duration,
    proc_sample,
    slope,
)
from qcl.cli import app


def series(rss: list[float], *, every_s: float = 10.0, fds: int = 40, threads: int = 60) -> list[dict[str, Any]]:
    return [{"t_s": i * every_s, "rss_mib": v, "open_fds": fds, "threads": threads} for i, v in enumerate(rss)]


@pytest.mark.parametrize(("text", "seconds"), [("20s", 20), ("30m", 1800), ("72h", 259200), ("7d", 604800),
                                              ("90", 90), ("1.5h", 5400)])  # fmt: skip
def test_durations_read_with_their_unit(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5m", "30x", "m", "5 minutes"])
def test_a_bad_duration_is_refused_naming_the_option(text: str) -> None:
    with pytest.raises(ValueError, match=r"--kill-every: expected a positive number .* got"):
        parse_duration(text, name="--kill-every")


def test_the_slope_of_a_straight_line_is_its_rise_per_second() -> None:
    assert slope([0, 10, 20, 30], [5, 7, 9, 11]) == pytest.approx(0.2)


def test_a_slope_needs_two_distinct_times() -> None:
    with pytest.raises(ValueError, match="at least 2 samples"):
        slope([5, 5], [1, 2])
    with pytest.raises(ValueError, match="2 times but 3 values"):
        slope([1, 2], [1, 2, 3])


def test_a_flat_noisy_rss_is_no_leak() -> None:
    rng = random.Random(3)
    flat = series([500 + rng.uniform(-2, 2) for _ in range(360)])  # an hour at 10 s, +-2 MiB of noise
    report = detect_leaks(flat, LeakThresholds())
    assert report["leak"] is False
    assert abs(report["figures"]["rss_mib"]["slope_per_h"]) < 5
    assert report["figures"]["open_fds"]["slope_per_h"] == 0


def test_a_steadily_rising_rss_is_a_leak_with_its_rate() -> None:
    rising = series([500 + i * 50 / 360 for i in range(360)])  # 50 MiB over an hour
    report = detect_leaks(rising, LeakThresholds(rss_mib_per_h=20))
    assert report["leak"] is True
    assert report["figures"]["rss_mib"] == {"slope_per_h": pytest.approx(50, rel=0.01), "threshold_per_h": 20,
                                            "leak": True}  # fmt: skip


def test_warm_up_growth_in_the_first_half_is_not_a_leak() -> None:
    warm = series([400 + min(i, 100) for i in range(360)])  # +100 MiB in the first quarter, flat after
    assert detect_leaks(warm, LeakThresholds())["leak"] is False


def test_rising_descriptors_or_threads_are_leaks_too() -> None:
    samples = series([500] * 100)
    for i, sample in enumerate(samples):
        sample["open_fds"] = 40 + i  # one more every 10 s: 360 an hour
    report = detect_leaks(samples, LeakThresholds())
    assert report["leak"] is True
    assert report["figures"]["open_fds"]["leak"] is True and report["figures"]["threads"]["leak"] is False


def test_a_short_run_reports_its_slopes_and_judges_none() -> None:
    samples = series([500 + i for i in range(40)], every_s=1.0, fds=30)  # 40 s: +1 MiB and +1 socket a second
    for i, sample in enumerate(samples):
        sample["open_fds"] += i % 3
    report = detect_leaks(samples, LeakThresholds())
    assert report["leak"] is False and report["window_s"] == 19
    assert report["figures"]["rss_mib"]["slope_per_h"] == pytest.approx(3600)
    assert report["figures"]["rss_mib"]["reason"] == "a 19 s second half; 300 s needed for a verdict"
    longer = series([500 + i for i in range(700)], every_s=1.0)  # the same rise for over ten minutes is a leak
    assert detect_leaks(longer, LeakThresholds())["figures"]["rss_mib"]["leak"] is True


def test_too_few_samples_give_no_slope_and_no_verdict() -> None:
    report = detect_leaks(series([100, 200, 300]), LeakThresholds())
    assert report["leak"] is False
    assert report["figures"]["rss_mib"]["slope_per_h"] is None
    assert "needed" in report["figures"]["rss_mib"]["reason"]
    assert detect_leaks([], LeakThresholds())["reason"] == "no samples"


def test_a_figure_a_deployment_does_not_export_is_left_out() -> None:
    samples = series([500.0] * 20)
    for sample in samples:
        sample["threads"] = None
    assert detect_leaks(samples, LeakThresholds())["figures"]["threads"]["slope_per_h"] is None


def test_percentiles_come_within_a_bucket_of_the_exact_ones() -> None:
    histogram = LatencyHistogram()
    values = [float(v) for v in range(1, 1001)]  # 1..1000 ms
    for value in values:
        histogram.add(value)
    for q, exact in ((50, 500), (95, 950), (99, 990)):
        found = histogram.percentile(q)
        assert found is not None and exact <= found <= exact * 1.05
    assert LatencyHistogram().percentile(50) is None


def test_an_operation_window_starts_again_after_each_sample() -> None:
    stats = OpStats()
    stats.ok(3.0)
    stats.error("503")
    near_3 = pytest.approx(3.0, rel=0.05)
    assert stats.take_window() == {"n": 1, "p50_ms": near_3, "p95_ms": near_3, "errors": 1}
    assert stats.take_window() == {"n": 0, "p50_ms": None, "p95_ms": None, "errors": 0}
    assert stats.summary()["n"] == 1 and stats.summary()["error_kinds"] == {"503": 1}


def test_process_figures_of_a_deployment_come_from_its_metrics_page() -> None:
    page = (
        "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
        "process_resident_memory_bytes 5.0059264e+08\n"
        "process_open_fds 24.0\n"
        'qcl_http_requests_total{route="/x",method="GET",status="200"} 3.0\n'
        "qcl_process_threads 41.0\n"
    )
    sample = metrics_sample(page)
    assert (sample.rss_bytes, sample.open_fds, sample.threads) == (500592640, 24, 41)
    assert metrics_sample("process_resident_memory_bytes 1e6\n").threads is None
    with pytest.raises(ValueError, match="no process_resident_memory_bytes"):
        metrics_sample("qcl_http_requests_total 1\n")


def test_this_api_exports_its_thread_count() -> None:
    from qcl.obs import metrics

    sample = metrics_sample(metrics.render()[0].decode())
    assert sample.threads is not None and sample.threads >= 1


def test_local_figures_from_psutil_and_from_proc_agree() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        probe = LocalProbe(os.getpid())
        via_probe, via_proc = probe.sample(), proc_sample(Path(f"/proc/{os.getpid()}"))
        assert via_probe.rss_bytes and via_proc.rss_bytes
        assert abs(via_probe.rss_bytes - via_proc.rss_bytes) < 50 * 2**20
        assert via_probe.children is not None and via_probe.children >= 1
        assert child.pid in child_processes(os.getpid())
    finally:
        child.kill()
        child.wait()


def test_children_are_found_through_proc_without_psutil(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psutil", None)  # `import psutil` now fails
    # A stand-in stack of its own: this test process may hold other tests' stages (a shared worker under xdist).
    command = [sys.executable, "-c", "import time; time.sleep(30)", "serve", "--node-id", "local-s9-r0"]
    stack_code = f"import subprocess; c = subprocess.Popen({command!r}); print(c.pid, flush=True); c.wait()"
    stack = subprocess.Popen([sys.executable, "-c", stack_code], stdout=subprocess.PIPE, text=True)
    try:
        assert stack.stdout is not None
        stage_pid = int(stack.stdout.readline())
        assert child_processes(stack.pid) == {stage_pid: command}
        assert child_processes(os.getpid())[stage_pid] == command  # grandchildren too
        assert LocalProbe(stack.pid).source == "/proc"
        killer = StageKiller(stack.pid)
        assert killer.stages() == {"local-s9-r0": stage_pid}
        assert killer.kill_next() == ("local-s9-r0", stage_pid)
        stack.wait(timeout=5)  # it exits once its stage is gone
        assert killer.kill_next() is None
    finally:
        if stack.poll() is None:
            stack.kill()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sample_s": 0}, "sample_s: must be positive"),
        ({"kill_every_s": -1}, "kill_every_s: must be positive or None"),
        ({"readers": -1}, "readers and subscribers"),
        ({"sample_s": 15}, "fewer than 2 samples"),
    ],
)
def test_a_plan_that_cannot_run_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SoakPlan(duration_s=20, **changes)


def test_the_command_refuses_a_bad_duration_and_a_key_without_a_url() -> None:
    runner = CliRunner()
    answer = runner.invoke(app, ["bench", "soak", "--duration", "forever"])
    assert answer.exit_code == 2 and "--duration: expected a positive number" in answer.output
    answer = runner.invoke(app, ["bench", "soak", "--duration", "20s", "--key", "qcl_x"])
    assert answer.exit_code == 2 and "give --api too" in answer.output

"""What `qcl bench soak` measures: durations, latency per operation, process samples and the leak detector.

    parse_duration("30m") -> 1800.0
    detect_leaks(samples, LeakThresholds())  # least-squares slopes over the run's second half, flagged past a limit

A soak keeps latencies in a fixed log-bucket histogram (5 % wide buckets) per operation, so a 7-day run holds a few
hundred counters per operation, not millions of floats; percentiles are read to within one bucket (5 %).
Process figures come from the stack's own process: psutil where installed, else /proc (Linux); or, for a remote
deployment, from its /metrics (prometheus_client's process_* gauges and qcl_process_threads).
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
BUCKET_RATIO = 1.05  # each latency bucket is 5 % wider than the one below
BUCKET_FLOOR_MS = 0.1  # latencies below 0.1 ms share the first bucket
MIB = 1_048_576


def parse_duration(text: str, *, name: str = "duration") -> float:
    """Seconds in "90", "20s", "30m", "72h" or "7d"; ValueError naming `name` and what was given otherwise."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(
            f"{name}: expected a positive number with an optional unit s, m, h or d (20s, 30m, 72h, 7d), got {text!r}"
        )
    return float(match.group(1)) * _UNIT_S[match.group(2)]


@dataclass
class LatencyHistogram:
    """Counts per log bucket; bucket i holds latencies up to BUCKET_FLOOR_MS * BUCKET_RATIO**i."""

    counts: Counter[int] = field(default_factory=Counter)
    total: int = 0

    def add(self, ms: float) -> None:
        index = 0 if ms <= BUCKET_FLOOR_MS else math.ceil(math.log(ms / BUCKET_FLOOR_MS, BUCKET_RATIO))
        self.counts[index] += 1
        self.total += 1

    def percentile(self, q: float) -> float | None:
        """The upper bound of the bucket holding the q-th percentile (q in 0..100); None when empty."""
        if not self.total:
            return None
        rank = max(1, math.ceil(self.total * q / 100))
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return round(BUCKET_FLOOR_MS * BUCKET_RATIO**index, 2)
        raise AssertionError("unreachable: the counts add up to the total")


@dataclass
class OpStats:
    """One operation's latencies and errors, for the whole run and for the current sample window."""

    run: LatencyHistogram = field(default_factory=LatencyHistogram)
    window: LatencyHistogram = field(default_factory=LatencyHistogram)
    errors: Counter[str] = field(default_factory=Counter)
    window_errors: int = 0

    def ok(self, ms: float) -> None:
        self.run.add(ms)
        self.window.add(ms)

    def error(self, kind: str) -> None:
        self.errors[kind] += 1
        self.window_errors += 1

    def take_window(self) -> dict[str, Any]:
        """The window's count, percentiles and errors; the window starts again."""
        window, errors = self.window, self.window_errors
        self.window, self.window_errors = LatencyHistogram(), 0
        return {"n": window.total, "p50_ms": window.percentile(50), "p95_ms": window.percentile(95), "errors": errors}

    def summary(self) -> dict[str, Any]:
        return {
            "n": self.run.total,
            "p50_ms": self.run.percentile(50),
            "p95_ms": self.run.percentile(95),
            "p99_ms": self.run.percentile(99),
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
        }


# --- process samples ---


@dataclass(frozen=True)
class ProcessSample:
    rss_bytes: int | None
    open_fds: int | None  # every descriptor: files, sockets, pipes (what leaks when connections are not closed)
    threads: int | None
    children_rss_bytes: int | None = None  # the stack's child processes (shard stages), summed
    children: int | None = None


def _psutil() -> Any:
    try:
        import psutil
    except ImportError:  # /proc instead
        return None
    return psutil


def child_processes(pid: int) -> dict[int, list[str]]:
    """pid -> command line of every process below `pid` (children's children too); psutil, else /proc."""
    psutil = _psutil()
    found: dict[int, list[str]] = {}
    if psutil is not None:
        for child in psutil.Process(pid).children(recursive=True):
            try:
                found[child.pid] = child.cmdline()
            except psutil.Error:  # it exited while we looked
                continue
        return found
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:  # the parent's pid is the second field after the command name, which may hold spaces and ")"
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    below: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - below
        below |= frontier
    for child in below:
        try:
            found[child] = (Path(f"/proc/{child}") / "cmdline").read_text().split("\0")[:-1]
        except OSError:
            continue
    return found


class LocalProbe:
    """The process `pid` (and its children) on this machine: psutil where installed, else /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.source = "psutil" if _psutil() is not None else "/proc"

    def sample(self) -> ProcessSample:
        top = _process_figures(self.pid)
        children = child_processes(self.pid)
        rss = 0
        for child in children:
            try:
                rss += _process_figures(child).rss_bytes or 0
            except (OSError, LookupError):  # a child that exits while we look (a killed stage) is not counted
                continue
        return ProcessSample(top.rss_bytes, top.open_fds, top.threads, children_rss_bytes=rss, children=len(children))


def _process_figures(pid: int) -> ProcessSample:
    psutil = _psutil()
    if psutil is None:
        return proc_sample(Path(f"/proc/{pid}"))
    try:
        process = psutil.Process(pid)
        return ProcessSample(process.memory_info().rss, process.num_fds(), process.num_threads())
    except psutil.NoSuchProcess as exc:
        raise LookupError(f"no process {pid}") from exc


def proc_sample(proc: Path) -> ProcessSample:
    """RSS, descriptors and threads of one process from its /proc folder."""
    fields = dict(line.split(":", 1) for line in (proc / "status").read_text().splitlines() if ":" in line)
    rss_kib = int(fields["VmRSS"].split()[0])
    return ProcessSample(
        rss_bytes=rss_kib * 1024, open_fds=len(os.listdir(proc / "fd")), threads=int(fields["Threads"])
    )


_METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s+(\S+)")


def metrics_sample(text: str) -> ProcessSample:
    """The process gauges of a Prometheus text page (/metrics); a gauge the page lacks is None."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        match = _METRIC_LINE.match(line)
        if match and match.group(1) not in values:
            try:
                values[match.group(1)] = float(match.group(2))
            except ValueError:
                continue
    if "process_resident_memory_bytes" not in values:
        raise ValueError(
            "the /metrics page has no process_resident_memory_bytes (prometheus_client's process "
            "collector runs on Linux only)"
        )

    def whole(name: str) -> int | None:
        return int(values[name]) if name in values else None

    return ProcessSample(
        rss_bytes=whole("process_resident_memory_bytes"),
        open_fds=whole("process_open_fds"),
        threads=whole("qcl_process_threads"),
    )


# --- the leak detector ---


def slope(times_s: list[float], values: list[float]) -> float:
    """Least-squares slope of `values` against `times_s`, per second; ValueError with fewer than 2 distinct times."""
    if len(times_s) != len(values):
        raise ValueError(f"slope: {len(times_s)} times but {len(values)} values")
    n = len(times_s)
    mean_t = sum(times_s) / n if n else 0.0
    spread = sum((t - mean_t) ** 2 for t in times_s)
    if n < 2 or spread == 0:
        raise ValueError(f"slope: needs at least 2 samples at distinct times, got {n}")
    mean_v = sum(values) / n
    return sum((t - mean_t) * (v - mean_v) for t, v in zip(times_s, values, strict=True)) / spread


@dataclass(frozen=True)
class LeakThresholds:
    """Growth per hour past which the second half of a run counts as leaking."""

    rss_mib_per_h: float = 20.0  # a steady 20 MiB/h is ~1.4 GiB a 72-hour run: a leak, not noise
    fds_per_h: float = 10.0  # descriptors: an unclosed connection per few minutes
    threads_per_h: float = 10.0  # threads: a worker started per request and never joined


MIN_LEAK_SAMPLES = 4  # in the second half: fewer makes a slope of noise
# The second half's span before a verdict: over a few seconds, one more open socket is hundreds an hour, so a short
# run reports its slopes and judges none of them.
MIN_LEAK_WINDOW_S = 300.0


def detect_leaks(samples: list[dict[str, Any]], thresholds: LeakThresholds) -> dict[str, Any]:
    """Slopes (per hour) of rss_mib, open_fds and threads over the samples' second half (by time: the first half is
    warm-up, caches filling), each flagged when above its threshold. A figure with too few samples (or missing,
    as threads on a deployment without qcl_process_threads) has slope None and is not flagged; none is flagged when
    the second half spans under MIN_LEAK_WINDOW_S."""
    if not samples:
        return {"window_s": None, "samples": 0, "leak": False, "figures": {}, "reason": "no samples"}
    end = samples[-1]["t_s"]
    half = [s for s in samples if s["t_s"] >= end / 2]
    limits = {
        "rss_mib": thresholds.rss_mib_per_h,
        "open_fds": thresholds.fds_per_h,
        "threads": thresholds.threads_per_h,
    }
    window_s = end - half[0]["t_s"]
    judged = window_s >= MIN_LEAK_WINDOW_S
    figures: dict[str, Any] = {}
    for name, limit in limits.items():
        points = [(s["t_s"], float(s[name])) for s in half if s.get(name) is not None]
        if len(points) < MIN_LEAK_SAMPLES:
            figures[name] = {
                "slope_per_h": None,
                "threshold_per_h": limit,
                "leak": False,
                "reason": f"{len(points)} samples in the second half; {MIN_LEAK_SAMPLES} needed",
            }
            continue
        per_h = slope([t for t, _ in points], [v for _, v in points]) * 3600
        figures[name] = {"slope_per_h": round(per_h, 3), "threshold_per_h": limit, "leak": judged and per_h > limit}
        if not judged:
            figures[name]["reason"] = f"a {window_s:.0f} s second half; {MIN_LEAK_WINDOW_S:.0f} s needed for a verdict"
    return {
        "window_s": round(window_s, 1),
        "samples": len(half),
        "leak": any(figure["leak"] for figure in figures.values()),
        "figures": figures,
    }

"""`qcl bench all` and `qcl bench compare`: every suite on small parameters into one result file, and the regression
gate against the last recorded baseline (shared/qcl/bench/baseline.json).

    qcl bench all --json --out .qcl/bench/all.json      # progress on stderr; --suite oracle --suite jobs for some
    qcl bench compare .qcl/bench/all.json shared/qcl/bench/baseline.json    # exit 1: a figure more than 15 % worse

Only figures that mean the same on any machine are compared: ratios measured within one run (int8 over fp32 tokens/s,
the pool over one process) and counts (messages per decision, lost jobs). Absolute times move with the machine's
load and stay in the result file for reading, never for the gate. Each suite declares its figures and which way is
better; a suite with none (the pipeline's figures are all absolute) still runs and records them.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from qcl.config import Settings, available_cores

Progress = Callable[[str], None]
Better = Literal["higher", "lower"]
TOLERANCE = 0.15  # a figure more than 15 % worse than the baseline's is a regression
BASELINE = Path(__file__).with_name("baseline.json")


@dataclass(frozen=True)
class Figure:
    name: str
    better: Better
    read: Callable[[dict[str, Any]], float | bool | None]  # from the suite's result


@dataclass(frozen=True)
class Suite:
    name: str
    run: Callable[[Settings, Progress], dict[str, Any]]
    figures: tuple[Figure, ...]


def _row(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    return next(row for row in rows if all(row.get(k) == v for k, v in match.items()))


def _pipeline(settings: Settings, progress: Progress) -> dict[str, Any]:
    from qcl.bench.pipeline import run_pipeline_bench

    embedded = settings.model_copy(update={"bus": "memory", "store": "memory"})
    return run_pipeline_bench(embedded, n=300, progress=lambda done: progress(f"pipeline {done}/300"))


def _oidc(settings: Settings, progress: Progress) -> dict[str, Any]:
    from qcl.bench.oidc import run_oidc_bench

    return run_oidc_bench(500, progress=progress)


def _workflows(settings: Settings, progress: Progress) -> dict[str, Any]:
    from qcl.bench.workflows import run_workflows_bench
    from qcl.store.memory import MemoryStore

    return run_workflows_bench({"memory": MemoryStore()}, iterations=300, progress=progress)


def _jobs(settings: Settings, progress: Progress) -> dict[str, Any]:
    from qcl.bench.jobs import run_jobs_bench
    from qcl.store.memory import MemoryStore

    return run_jobs_bench(settings, MemoryStore(), n=1000, runtime="fake", workers=4, probes=8, progress=progress)


def _oracle(settings: Settings, progress: Progress) -> dict[str, Any]:
    from qcl.bench.oracle import run_oracle_bench

    return run_oracle_bench(samples=10, model=False, progress=progress)


def _model(settings: Settings, progress: Progress) -> dict[str, Any]:
    from qcl.bench.model import run_model_bench

    result = run_model_bench(settings, model_id=settings.model, new_tokens=32, runs=2)
    result["ratio_int8_vs_fp32"] = round(result["tokens_per_s_int8"] / result["tokens_per_s_fp32"], 3)
    return result


def _shard(settings: Settings, progress: Progress) -> dict[str, Any]:
    from qcl.bench.shard import run_shard_bench

    return run_shard_bench(settings, model_id=settings.model, new_tokens=32, runs=2, progress=progress)


def _vs_bare(result: dict[str, Any], run: str) -> float:
    """A workflows run's time per step over the bare interpreter's, in the same run."""
    return float(_row(result["runs"], run=run)["vs_baseline"])


def _oracle_counts(n: int, scenario: str) -> tuple[Figure, ...]:
    def read(key: str) -> Callable[[dict[str, Any]], float]:
        return lambda result: float(_row(result["runs"], n=n, scenario=scenario)[key])

    return (
        Figure(f"n{n}_{scenario}_messages_per_decision", "lower", read("messages_per_decision")),
        Figure(f"n{n}_{scenario}_views_per_decision", "lower", read("views_per_decision")),
    )


SUITES: dict[str, Suite] = {
    suite.name: suite
    for suite in (
        Suite("pipeline", _pipeline, ()),  # events/s and latencies only: absolute, recorded for reading
        Suite(
            "oidc",
            _oidc,
            (
                Figure("request_ratio_p50", "lower", lambda r: r["request_ratio_p50"]),
                Figure("certificate_fetches", "lower", lambda r: r["certificate_fetches"]),
            ),
        ),
        Suite(
            "workflows",
            _workflows,
            (
                Figure("durable_over_bare_per_step", "lower", lambda r: _vs_bare(r, "memory")),
                Figure("resume_over_bare_per_step", "lower", lambda r: _vs_bare(r, "memory_resume")),
            ),
        ),
        Suite(
            "jobs",
            _jobs,
            (
                Figure("lost", "lower", lambda r: r["backlog"]["lost"]),
                Figure("duplicated", "lower", lambda r: r["backlog"]["duplicated"]),
                Figure("fairness_error", "lower", lambda r: abs(r["backlog"]["fairness_heavy_share"] - 0.75)),
                Figure("interactive_loaded_over_idle", "lower", lambda r: r["interactive"]["loaded_over_idle"]),
            ),
        ),
        Suite(
            "oracle",
            _oracle,
            tuple(f for n in (4, 7) for case in ("no-faults", "silent-primary") for f in _oracle_counts(n, case)),
        ),
        Suite(
            "model",
            _model,
            (
                Figure("int8_agreement", "higher", lambda r: r["int8_agreement"]),
                Figure("ratio_int8_vs_fp32", "higher", lambda r: r["ratio_int8_vs_fp32"]),
                Figure("ratio_fp32_vs_generate", "higher", lambda r: r["ratio_fp32_vs_generate"]),
            ),
        ),
        Suite(
            "shard",
            _shard,
            (
                Figure("ratio_sharded_over_single", "higher", lambda r: r["ratio_sharded_over_single"]),
                Figure("tokens_identical", "higher", lambda r: r["tokens_identical"]),
                Figure("tokens_identical_after_recovery", "higher", lambda r: r["tokens_identical_after_recovery"]),
                Figure("wire_bytes_per_token", "lower", lambda r: r["wire_bytes_per_token"]),
            ),
        ),
    )
}


def figures_of(suite: Suite, result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The suite's comparable figures as {name: {value, better}}; a figure its result lacks is left out (compare
    reports it missing)."""
    found = {}
    for figure in suite.figures:
        try:
            value = figure.read(result)
        except (KeyError, StopIteration, TypeError, ZeroDivisionError):
            continue
        if value is not None:
            found[figure.name] = {"value": float(value), "better": figure.better}
    return found


def run_all(settings: Settings, suites: Iterable[str], progress: Progress) -> dict[str, Any]:
    """Run the suites one after another; the result file's content."""
    chosen = list(suites)
    unknown = [name for name in chosen if name not in SUITES]
    if unknown:
        raise ValueError(f"unknown suite(s) {', '.join(unknown)}; suites: {', '.join(SUITES)}")
    runs: dict[str, Any] = {}
    for number, name in enumerate(chosen, 1):
        progress(f"bench all: {name} ({number}/{len(chosen)})")
        started = time.perf_counter()
        result = SUITES[name].run(settings, progress)
        runs[name] = {
            "seconds": round(time.perf_counter() - started, 1),
            "figures": figures_of(SUITES[name], result),
            "result": result,
        }
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": available_cores()},
        "tolerance": TOLERANCE,
        "suites": runs,
    }


@dataclass(frozen=True)
class Comparison:
    suite: str
    figure: str
    verdict: Literal["regression", "improvement", "same", "missing", "new"]
    baseline: float | None
    new: float | None

    @property
    def change(self) -> float | None:
        """new / baseline - 1 (None without both, or from zero)."""
        if self.baseline is None or self.new is None or self.baseline == 0:
            return None
        return self.new / self.baseline - 1

    def line(self) -> str:
        change = f"{self.change:+.1%}" if self.change is not None else ""
        return f"{self.verdict:<11} {self.suite}.{self.figure:<44} {self.baseline!s:>10} -> {self.new!s:<10} {change}"


def _verdict(old: float, new: float, better: Better, tolerance: float) -> Literal["regression", "improvement", "same"]:
    worse = new < old * (1 - tolerance) if better == "higher" else new > old * (1 + tolerance)
    if worse:
        return "regression"
    improved = new > old * (1 + tolerance) if better == "higher" else new < old * (1 - tolerance)
    return "improvement" if improved else "same"


def compare(new: dict[str, Any], baseline: dict[str, Any], tolerance: float = TOLERANCE) -> list[Comparison]:
    """Every figure of every suite the new run ran, against the baseline's: a suite the new run left out is not
    compared; a figure the baseline has and the new run lacks is `missing` (a failure, like a regression)."""
    rows = []
    for suite, run in new["suites"].items():
        old_figures = baseline["suites"].get(suite, {}).get("figures", {})
        new_figures = run["figures"]
        for name, old in old_figures.items():
            if name not in new_figures:
                rows.append(Comparison(suite, name, "missing", old["value"], None))
                continue
            value = new_figures[name]["value"]
            verdict = _verdict(old["value"], value, old["better"], tolerance)
            rows.append(Comparison(suite, name, verdict, old["value"], value))
        for name, figure in new_figures.items():
            if name not in old_figures:
                rows.append(Comparison(suite, name, "new", None, figure["value"]))
    return rows


def failed(rows: list[Comparison]) -> list[Comparison]:
    return [row for row in rows if row.verdict in ("regression", "missing")]


def read_result(path: Path) -> dict[str, Any]:
    """A result file of `qcl bench all`, or ValueError naming what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable JSON file: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("suites"), dict):
        raise ValueError(f"{path}: not a `qcl bench all` result (no 'suites' object)")
    return data

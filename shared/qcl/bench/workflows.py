"""`qcl bench workflows`: what durability costs a workflow step, and how fast a crashed execution catches up.

    qcl bench workflows --steps 2000 --json                  # memory store
    qcl bench workflows --steps 2000 --store redis --json    # + Redis (QCL_REDIS_URL), the local-real setup

One workflow, a loop whose body assigns a few variables (no connector: the figures are the engine's own). Runs:
- `baseline`: the interpreter with an in-process journal (no store): the cost of interpreting a step;
- `<store>`: the service on the store, each finished step checkpointed there (the durable path);
- `<store>_resume`: the same execution after a crash halfway through: its journal loaded from the store, the
  finished half replayed (restored, not re-run), the other half run (in-process journal).
Ratios are per step against the baseline of the same run.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from typing import Any

from qcl.store.base import Store
from qcl.workflows.definition import compile_workflow
from qcl.workflows.executor import Limits, MemoryJournal, Run
from qcl.workflows.service import WorkflowService

BENCH_WORKFLOW = """
main:
  params: [args]
  steps:
    - init:
        assign:
          - total: 0
          - seen: []
    - loop:
        for:
          value: i
          range: ${[1, args.iterations]}
          steps:
            - add:
                assign:
                  - total: ${total + i}
                  - last: ${"step " + string(i)}
    - done:
        return: ${total}
"""


class _NoConnectors:
    names: frozenset[str] = frozenset()

    def call(self, name: str, args: dict[str, Any], *, context: Any = None) -> Any:
        raise AssertionError("the benchmark workflow calls no connector")


def _figures(name: str, steps: int, seconds: float, baseline_ms: float | None) -> dict[str, Any]:
    per_step_ms = seconds * 1000 / steps
    row: dict[str, Any] = {
        "run": name,
        "steps": steps,
        "seconds": round(seconds, 4),
        "steps_per_s": round(steps / seconds, 1),
        "ms_per_step": round(per_step_ms, 4),
    }
    if baseline_ms:
        row["vs_baseline"] = round(per_step_ms / baseline_ms, 2)
    return row


def run_workflows_bench(
    stores: dict[str, Store], *, iterations: int = 1000, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    limits = Limits(max_steps=10 * iterations + 10, max_iterations=iterations + 1)
    workflow = compile_workflow(BENCH_WORKFLOW, calls=())
    argument = {"iterations": iterations}
    expected = iterations * (iterations + 1) // 2

    started = time.perf_counter()
    journal = MemoryJournal()
    assert Run(workflow, _NoConnectors(), journal, limits=limits).execute(argument) == expected
    steps = len(journal.entries)
    baseline = _figures("baseline", steps, time.perf_counter() - started, None)
    rows = [baseline]
    if progress:
        progress(f"baseline: {baseline['ms_per_step']} ms/step")
    for name, store in stores.items():
        service = WorkflowService(store, _NoConnectors(), limits=limits)
        service.deploy("bench", BENCH_WORKFLOW)
        started = time.perf_counter()
        record = service.run("bench", argument, wait_s=3600)
        seconds = time.perf_counter() - started
        assert record["state"] == "succeeded" and record["result"] == expected, record["error"]
        rows.append(_figures(name, steps, seconds, baseline["ms_per_step"]))
        # Resume after a crash halfway through the loop: load the journal from the store, replay the finished half
        # (restored, not re-run) and run the rest, checkpointing it.
        loading = time.perf_counter()
        finished = service.repo.steps(record["id"])[: steps // 2]
        journal_load_s = time.perf_counter() - loading
        replay = MemoryJournal(finished)
        started = time.perf_counter()
        assert Run(workflow, _NoConnectors(), replay, limits=limits).execute(argument) == expected
        resumed = _figures(
            f"{name}_resume", steps, time.perf_counter() - started + journal_load_s, baseline["ms_per_step"]
        )
        resumed.update(replayed_steps=len(finished), ran_steps=len(replay.entries) - len(finished))
        resumed["journal_load_s"] = round(journal_load_s, 4)
        rows.append(resumed)
        if progress:
            progress(f"{name}: {rows[-2]['ms_per_step']} ms/step, resume {rows[-1]['ms_per_step']} ms/step")
        store.clear()
    return {
        "iterations": iterations,
        "steps_per_execution": steps,
        "runs": rows,
        "machine": f"{platform.machine()} {platform.processor() or ''} Python {platform.python_version()}".strip(),
    }

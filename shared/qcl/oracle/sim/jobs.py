"""The jobs `qcl oracle simulate` and the benchmark run: real analysis over an hour of the bundled sample.

The bundled capture is synthetic (shared/qcl/qubic/data/README.md); its first hour holds a tick stall, so the findings
job has two findings and the health score is 60.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from qcl.events import OracleRequest
from qcl.oracle.errors import JobError
from qcl.oracle.jobs import TASKS, analysis_request
from qcl.qubic.synth import sample_lines

SIM_JOBS = {  # simulate --job NAME -> task
    "findings": "analysis.findings",
    "health-score": "analysis.health_score",
    "price-change": "analysis.price_change_1h_pct",
}
WINDOW_OBSERVATIONS = 120  # the sample's first hour, one observation per 30 s


@lru_cache(maxsize=16)
def sim_input(job: str, sequence: int = 0) -> tuple[OracleRequest, bytes]:
    task = SIM_JOBS.get(job)
    if task is None:
        raise JobError(f"unknown simulation job {job!r}; known: {', '.join(SIM_JOBS)}")
    return analysis_request(task, sample_lines()[:WINDOW_OBSERVATIONS], sequence=sequence, subject=f"sample/{job}")


@lru_cache(maxsize=16)
def sim_job(job: str, sequence: int = 0) -> tuple[OracleRequest, Any]:
    """The request and the result every honest member computes for it."""
    request, blob = sim_input(job, sequence)
    return request, TASKS[request.spec.task].run(blob, request.spec)

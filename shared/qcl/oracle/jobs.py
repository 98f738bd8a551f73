"""Jobs the committee can agree on: a spec that pins everything, an input fetched by its hash, executors.

    request, blob = analysis_request("analysis.findings", capture_lines, sequence=0)
    Blobs(store).put(blob)                        # content-addressed: key oracle:blob:<sha256>
    result = Executors(Blobs(store)).run(request)   # every honest member gets the same bytes

The job id is the hash of the spec (task, input hash, code version, and for model jobs model id, weights hash, prompt
template version, greedy decoding, max tokens): two members with the same spec and input compute the same result,
and a result of other code, input or weights belongs to another job. Qubic states the same rule for its oracle
queries: a query must be specified so that repeating it always gives the identical reply (qubic/core's oracle contract
documentation, as docs/reference/bft-oracle.md §3 summarises it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import JsonValue

import qcl
from qcl.analysis import analyze_window
from qcl.analysis.report import AnalysisReport
from qcl.events import OracleJobSpec, OracleRequest
from qcl.oracle.canonical import digest_of, sha256_hex
from qcl.oracle.errors import JobError
from qcl.qubic.capture import parse_line
from qcl.qubic.types import Observation
from qcl.store.base import Store
from qcl.store.keys import ORACLE_BLOB

CODE_VERSION = f"qcl-{qcl.__version__}/oracle-v1"  # results of other code are results of another job
BLOB_TTL_S = 7 * 24 * 3600  # inputs outlive their jobs by far; a week is generous


@dataclass(frozen=True)
class Task:
    kind: Literal["numeric", "exact"]
    run: Callable[[bytes, OracleJobSpec], JsonValue]
    tolerance: float | None = None  # numeric: how far honest values may lie apart
    description: str = ""


def make_request(spec: OracleJobSpec, sequence: int) -> OracleRequest:
    return OracleRequest(job_id=digest_of(spec.model_dump(mode="json")), sequence=sequence, spec=spec)


def check_request(request: OracleRequest) -> None:
    if request.job_id != digest_of(request.spec.model_dump(mode="json")):
        raise JobError(f"job id {request.job_id[:16]}… is not the hash of its spec")
    if request.spec.kind == "numeric" and request.spec.tolerance is None:
        raise JobError("a numeric job must state its tolerance")


# -- analysis tasks: the window of observations in, one figure of the report out -----------------------------------


def observations_of(blob: bytes) -> list[Observation]:
    """The valid observations of a capture blob, in time order, one per time (as the analyzer keeps its window)."""
    by_time: dict[float, Observation] = {}
    for number, line in enumerate(blob.decode("utf-8", errors="replace").splitlines(), start=1):
        if line.strip():
            item = parse_line(line, number)
            if isinstance(item, Observation):
                by_time.setdefault(item.observed_at.timestamp(), item)
    if not by_time:
        raise JobError("the input holds no valid observation")
    return [by_time[t] for t in sorted(by_time)]


def _report(blob: bytes) -> AnalysisReport:
    return analyze_window(observations_of(blob))


def _health_score(blob: bytes, spec: OracleJobSpec) -> JsonValue:
    return float(_report(blob).health_score)


def _price_change_1h(blob: bytes, spec: OracleJobSpec) -> JsonValue:
    metrics = _report(blob).metrics
    if metrics is None or metrics.price_change_1h_pct is None:
        raise JobError("the window is too short for a one-hour price change")
    return round(metrics.price_change_1h_pct, 6)


def _findings(blob: bytes, spec: OracleJobSpec) -> JsonValue:
    findings: list[Any] = [f.model_dump(mode="json") for f in _report(blob).findings]
    return findings


TASKS: dict[str, Task] = {
    "analysis.health_score": Task("numeric", _health_score, 0.0, "health score 0-100 of the window's last observation"),
    "analysis.price_change_1h_pct": Task("numeric", _price_change_1h, 0.01, "price change over the last hour, %"),
    "analysis.findings": Task("exact", _findings, None, "the findings of the window, canonical JSON"),
}


def analysis_spec(task: str, blob: bytes, *, subject: str | None = None) -> OracleJobSpec:
    known = TASKS.get(task)
    if known is None or not task.startswith("analysis."):
        raise JobError(
            f"unknown analysis task {task!r}; known: {', '.join(t for t in TASKS if t.startswith('analysis.'))}"
        )
    return OracleJobSpec(
        kind=known.kind,
        task=task,
        input_digest=sha256_hex(blob),
        code_version=CODE_VERSION,
        tolerance=known.tolerance,
        subject=subject,
    )


def analysis_request(
    task: str, lines: list[str], *, sequence: int, subject: str | None = None
) -> tuple[OracleRequest, bytes]:
    """A job over capture lines (JSON lines of observations) and the input blob it pins."""
    blob = ("\n".join(lines) + "\n").encode()
    return make_request(analysis_spec(task, blob, subject=subject), sequence), blob


# -- inputs by content hash --------------------------------------------------------------------------------------


class Blobs:
    """Content-addressed inputs in the store: whoever holds the hash can fetch and check the bytes."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def put(self, blob: bytes) -> str:
        digest = sha256_hex(blob)
        self.store.put(ORACLE_BLOB.key(digest=digest), blob.decode("utf-8"), ttl_s=BLOB_TTL_S)
        return digest

    def get(self, digest: str) -> bytes:
        text = self.store.get(ORACLE_BLOB.key(digest=digest))
        if text is None:
            raise JobError(f"input {digest[:16]}… is not in the store")
        blob = text.encode("utf-8")
        if sha256_hex(blob) != digest:
            raise JobError(f"input {digest[:16]}… in the store does not match its hash")
        return blob


class Executors:
    """Runs a request's task over its input; more tasks (the model) plug in with `register`."""

    def __init__(self, blobs: Blobs, tasks: dict[str, Task] | None = None) -> None:
        self.blobs = blobs
        self.tasks = dict(TASKS if tasks is None else tasks)

    def register(self, name: str, task: Task) -> None:
        self.tasks[name] = task

    def run(self, request: OracleRequest) -> JsonValue:
        check_request(request)
        task = self.tasks.get(request.spec.task)
        if task is None:
            raise JobError(f"this member cannot run task {request.spec.task!r}; it runs: {', '.join(self.tasks)}")
        if task.kind != request.spec.kind:
            raise JobError(f"task {request.spec.task} is {task.kind}, the job says {request.spec.kind}")
        try:
            return task.run(self.blobs.get(request.spec.input_digest), request.spec)
        except JobError:
            raise
        except ValueError as exc:
            raise JobError(f"{request.spec.task} failed on its input: {exc}") from None

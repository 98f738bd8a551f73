"""Jobs pin everything that decides their result; inputs are fetched by hash; executors are pluggable."""

from __future__ import annotations

import pytest

from qcl.events import OracleJobSpec
from qcl.oracle.canonical import canonical_json, digest_of, sha256_hex
from qcl.oracle.errors import JobError
from qcl.oracle.jobs import CODE_VERSION, TASKS, Blobs, Executors, Task, analysis_request, check_request, make_request
from qcl.oracle.model_job import canonical_answer
from qcl.oracle.sim.jobs import sim_input, sim_job
from qcl.qubic.synth import sample_lines
from qcl.store.memory import MemoryStore


def test_the_job_id_is_the_hash_of_the_spec_and_any_pinned_field_changes_it() -> None:
    request, _ = sim_input("findings")
    assert request.job_id == digest_of(request.spec.model_dump(mode="json"))
    for change in ({"code_version": "other"}, {"input_digest": "00" * 32}, {"model_id": "m"}, {"max_new_tokens": 5}):
        other = make_request(request.spec.model_copy(update=change), request.sequence)
        assert other.job_id != request.job_id


def test_a_request_whose_id_is_not_its_spec_hash_is_refused() -> None:
    request, _ = sim_input("findings")
    with pytest.raises(JobError, match="not the hash of its spec"):
        check_request(request.model_copy(update={"job_id": "00" * 32}))


def test_a_numeric_job_must_state_its_tolerance() -> None:
    spec = OracleJobSpec(
        kind="numeric", task="analysis.health_score", input_digest="00" * 32, code_version=CODE_VERSION
    )
    with pytest.raises(JobError, match="tolerance"):
        check_request(make_request(spec, 0))


def test_an_unknown_analysis_task_lists_the_known_ones() -> None:
    with pytest.raises(JobError, match=r"known: analysis\.health_score"):
        analysis_request("analysis.nope", sample_lines()[:5], sequence=0)


def test_analysis_tasks_compute_the_report_of_the_pinned_window() -> None:
    assert sim_job("health-score")[1] == 60.0
    assert [f["code"] for f in sim_job("findings")[1]] == ["tick_stall", "price_trend"]  # type: ignore[index]
    assert isinstance(sim_job("price-change")[1], float)


def test_the_same_input_gives_byte_identical_results_twice() -> None:
    request, blob = sim_input("findings")
    first = TASKS["analysis.findings"].run(blob, request.spec)
    second = TASKS["analysis.findings"].run(blob + b"\n", request.spec)
    assert canonical_json(first) == canonical_json(second)


def test_an_input_without_valid_observations_is_a_job_error() -> None:
    request, _ = sim_input("findings")
    with pytest.raises(JobError, match="no valid observation"):
        TASKS["analysis.findings"].run(b"garbage\n{}\n", request.spec)


def test_executors_fetch_the_input_by_hash_and_run_the_task() -> None:
    request, blob = sim_input("health-score")
    blobs = Blobs(MemoryStore())
    assert blobs.put(blob) == request.spec.input_digest
    assert Executors(blobs).run(request) == 60.0


def test_a_missing_or_corrupted_input_is_refused() -> None:
    request, blob = sim_input("health-score")
    store = MemoryStore()
    with pytest.raises(JobError, match="is not in the store"):
        Executors(Blobs(store)).run(request)
    store.put(f"oracle:blob:{request.spec.input_digest}", blob.decode().replace("2025", "2024"))
    with pytest.raises(JobError, match="does not match its hash"):
        Executors(Blobs(store)).run(request)


def test_a_member_without_the_task_abstains_with_the_reason() -> None:
    request, blob = sim_input("health-score")
    blobs = Blobs(MemoryStore())
    blobs.put(blob)
    with pytest.raises(JobError, match=r"cannot run task 'analysis\.health_score'"):
        Executors(blobs, tasks={}).run(request)
    executors = Executors(blobs, tasks={})
    executors.register("analysis.health_score", Task("exact", lambda b, s: 1))
    with pytest.raises(JobError, match="is exact, the job says numeric"):
        executors.run(request)


def test_a_task_failing_on_its_input_is_a_job_error() -> None:
    request, blob = sim_input("health-score")
    blobs = Blobs(MemoryStore())
    blobs.put(blob)

    def broken(b: bytes, s: OracleJobSpec) -> float:
        raise ValueError("window too short")

    executors = Executors(blobs, tasks={"analysis.health_score": Task("numeric", broken, 0.0)})
    with pytest.raises(JobError, match="failed on its input: window too short"):
        executors.run(request)


def test_model_answers_are_canonicalised_before_hashing() -> None:
    assert canonical_answer("  The network\n is   healthy. ") == "The network is healthy."
    assert canonical_answer("cafe\u0301") == "café"
    assert sha256_hex(canonical_json({"answer": canonical_answer("a  b")})) == sha256_hex(
        canonical_json({"answer": "a b"})
    )

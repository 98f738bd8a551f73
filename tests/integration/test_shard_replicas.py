"""Shard replica sets scaled by the job autoscaler, on real stage processes (tiny-random-qwen2, 2 stages): jobs
waiting start a second set, which takes sessions once loaded; scaling down drains the newest set (the session it
holds finishes there with the reference's tokens), then its processes stop and leave the pool; no job is lost."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qcl.compute.autoscale import Autoscaler, ScalingPolicy, Signal
from qcl.compute.jobs import JobRequest
from qcl.compute.quotas import open_jobs
from qcl.compute.worker import start_workers
from qcl.config import Settings, load_settings
from qcl.model.loading import load_model
from qcl.model.params import GenerationParams
from qcl.model.service import GenerationService
from qcl.shard.coordinator import ShardedModel, open_pool
from qcl.shard.local import LocalPool
from qcl.shard.pool import PoolOptions
from qcl.shard.replicas import ShardReplicas
from qcl.store.memory import MemoryStore
from tests.backends import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stage-pools")]

MODEL = "tiny-random-qwen2"
QUESTION = "How healthy is the Qubic network at tick 17,500,000?"
PARAMS = GenerationParams(max_new_tokens=24, ban_eos=True)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("replicas")
    return load_settings(
        model_cache_dir=root / "models", state_dir=root / "state", shard_heartbeat_s=0.5, jobs_workers=2
    )


@pytest.fixture(scope="module")
def reference(settings: Settings) -> Iterator[GenerationService]:
    with GenerationService(load_model(MODEL, settings, progress=None), result_cache=0, threads=1) as service:
        yield service


@pytest.fixture(scope="module")
def local(settings: Settings) -> Iterator[LocalPool]:
    """One set of 2 stages for the module; each test leaves it at one set, as it found it."""
    with LocalPool(settings, MODEL, stages=2, replicas=1, threads=1) as pool:
        yield pool


@pytest.fixture
def model(settings: Settings, local: LocalPool) -> Iterator[ShardedModel]:
    """A fresh coordinator over the module's processes (its drains and removals are its own)."""
    pool, skeleton = open_pool(
        settings, store=MemoryStore(), seeds=local.addresses, model_id=MODEL, options=PoolOptions(wire="fp32")
    )
    sharded = ShardedModel(pool, skeleton, result_cache=0)
    assert pool.wait_ready(60)
    yield sharded
    sharded.close()
    assert [p.replica for p in local.processes] == [0, 0]


def _replica_of(node_id: str) -> int:
    return int(node_id.rsplit("-r", 1)[1])


def test_a_second_set_joins_then_drains_its_session_with_the_same_tokens_and_leaves(
    model: ShardedModel, local: LocalPool, reference: GenerationService
) -> None:
    pool = model.pool
    replicas = ShardReplicas(local, pool)
    assert replicas.replicas() == 1

    replicas.scale_to(2)
    added = [p for p in local.processes if p.replica == 1]
    assert [p.stage for p in added] == [0, 1] and replicas.replicas() == 2
    local.wait_serving(added)
    assert wait_for(lambda: len(pool.membership.usable()) == 4, timeout_s=30)
    # With the first set busy, a new session goes to the second.
    busy = [pool.place(layers, exclude={p.node_id for p in added}) for layers in pool.plan or []]
    assert all(node is not None and _replica_of(node.node_id) == 0 for node in busy)

    during: list[tuple[str, str, int]] = []

    def scale_down_mid_session(stage: int, step: int, node_id: str) -> None:
        if stage == 1 and step == 8 and not during:
            replicas.scale_to(1)
            during.append((node_id, pool.lifecycle(node_id), replicas.replicas()))

    pool.on_send = scale_down_mid_session
    try:
        tokens = model.generate(QUESTION, PARAMS).raw_text
    finally:
        pool.on_send = None
        for node in busy:
            pool.release(node.node_id)  # type: ignore[union-attr]
    assert tokens == reference.generate(QUESTION, PARAMS).raw_text
    node_id, lifecycle, counted = during[0]
    assert _replica_of(node_id) == 1 and lifecycle == "draining"  # its session went on there
    assert counted == 1 and replicas.draining() == 1 and pool.counters.failovers == 0

    assert replicas.replicas() == 1  # drained now: reaped
    assert replicas.draining() == 0 and [p.replica for p in local.processes] == [0, 0]
    assert all(p.process is not None and p.process.poll() is not None for p in added)
    assert all(pool.lifecycle(p.node_id) == "removed" for p in added)
    assert not {p.address for p in added} & set(pool.seeds)
    assert replicas.node_seconds > 0

    seen: list[str] = []
    pool.on_send = lambda stage, step, node_id: seen.append(node_id)
    assert model.generate(QUESTION, PARAMS).raw_text == reference.generate(QUESTION, PARAMS).raw_text
    assert seen and {_replica_of(n) for n in seen} == {0}

    replicas.scale_to(0)  # the first set stays: the pipeline needs one
    assert replicas.replicas() == 1 and replicas.draining() == 0


def test_the_autoscaler_adds_a_set_for_waiting_jobs_and_takes_it_away_losing_none(
    settings: Settings, model: ShardedModel, local: LocalPool, reference: GenerationService
) -> None:
    store = MemoryStore()
    jobs = open_jobs(settings, store)
    replicas = ShardReplicas(local, model.pool)
    policy = ScalingPolicy(min_replicas=1, max_replicas=2, scale_down_after_s=1.0, interval_s=0.2)
    scaler = Autoscaler(jobs, replicas, policy)
    workers = start_workers(settings, store, model, name="//test/jobs")
    assert workers is not None
    body = {"kind": "completion", "prompts": [f"{QUESTION} ({i})" for i in range(6)], "max_tokens": 12}
    try:
        # Six jobs waiting, nothing measured yet: one set more, at once.
        submitted = jobs.submit(JobRequest.model_validate(body).jobs(key_id="test", now=jobs.clock()))
        assert scaler.step(Signal(queued=6, running=0, arrival_rate=0.0, service_rate=0.0)) == 2
        assert replicas.replicas() == 2

        def finished() -> bool:
            final = [jobs.get(job.id) for job in submitted]
            return all(job is not None and job.final for job in final)

        assert wait_for(finished, timeout_s=120)
        scaler.start()  # idle now: the window passes, and the second set drains and leaves
        assert wait_for(lambda: replicas.replicas() == 1 and replicas.draining() == 0, timeout_s=30)
    finally:
        scaler.stop()
        workers.stop()
    final = [job for job in (jobs.get(job.id) for job in submitted) if job is not None]
    assert [job.state for job in final] == ["done"] * 6 and max(job.attempts for job in final) == 1
    for job in final:  # the tokens the one-process model gives: no job ran on a half-drained pipeline
        params = GenerationParams(max_new_tokens=job.max_tokens, temperature=job.temperature)
        assert job.result is not None and job.result["text"] == reference.generate(job.messages(), params).text
    assert [e.replicas_to for e in scaler.events] == [2, 1]
    assert {p.replica for p in local.processes} == {0}


def test_the_bench_reports_reaction_no_loss_and_the_one_process_models_texts(settings: Settings) -> None:
    from qcl.bench.autoscale import run_shard_autoscale_bench

    policy = ScalingPolicy(min_replicas=1, max_replicas=2, target_wait_s=1.0, scale_down_after_s=1.0, interval_s=0.2)
    result = run_shard_autoscale_bench(
        settings, model_id=MODEL, burst=40, trickle_per_s=0, trickle_s=0, tokens=8, policy=policy, baseline=False
    )
    scaled = result["autoscaled"]
    assert (scaled["jobs"], scaled["done"], scaled["lost"], scaled["duplicated"]) == (40, 40, 0, 0)
    assert scaled["identical_texts"] == 40  # fp32 on the wire: exactly the one-process model's greedy text
    assert scaled["peak_replica_sets"] == 2 and scaled["back_at_minimum"]
    assert 0 <= scaled["scale_up_decision_s"] < 5
    assert [(e["from"], e["to"]) for e in scaled["events"]] == [(1, 2), (2, 1)]
    assert "fixed" not in result and scaled["node_seconds"] > 0

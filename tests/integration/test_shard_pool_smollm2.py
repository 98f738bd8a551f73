"""SmolLM2-135M split over three stage processes (two replicas each): identity with one node, and kill -9 of any stage.

The stages and the reference run fp32 weights with one intra-op thread each, so the single node and the pool do
the same arithmetic. The conversion cache is the test session's (tests/conftest.py): converted once per run.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
import torch

from qcl.config import Settings, load_settings
from qcl.model.loading import load_model
from qcl.model.params import GenerationParams
from qcl.model.service import GenerationService
from qcl.model.steps import greedy_tokens
from qcl.shard.coordinator import ShardedModel, open_pool
from qcl.shard.local import LocalPool
from qcl.shard.pipeline import SendHook
from qcl.shard.pool import PoolOptions
from qcl.shard.sessions import Sampling
from qcl.store.memory import MemoryStore
from tests.backends import wait_for

# Stage-process pools run one at a time, on one worker (pytest-xdist --dist loadgroup): each is several model processes.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stage-pools")]

MODEL = "smollm2-135m-instruct"
QUESTION = "Summarise: tick 17,500,000, epoch 160, 12 % empty ticks, price -3.2 % in 24 h."
PARAMS = GenerationParams(max_new_tokens=24, ban_eos=True)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("shard-smollm2")
    return load_settings(  # the session's model cache (tests/conftest.py): converted once per test run
        state_dir=root / "state",
        quantization="none",
        shard_heartbeat_s=0.5,
    )


@pytest.fixture(scope="module")
def reference(settings: Settings) -> Iterator[GenerationService]:
    threads = torch.get_num_threads()
    loaded = load_model(MODEL, settings, progress=None)
    with GenerationService(loaded, result_cache=0, threads=1) as service:
        yield service
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def local(settings: Settings, reference: GenerationService) -> Iterator[LocalPool]:
    with LocalPool(settings, MODEL, stages=3, replicas=2, threads=1) as pool:
        yield pool


@pytest.fixture(scope="module")
def sharded(settings: Settings, local: LocalPool) -> Iterator[ShardedModel]:
    pool, skeleton = open_pool(
        settings, store=MemoryStore(), seeds=local.addresses, model_id=MODEL, options=PoolOptions(wire="fp32")
    )
    assert pool.wait_ready(120)
    model = ShardedModel(pool, skeleton, result_cache=0)
    yield model
    model.close()


@pytest.fixture(scope="module")
def expected(reference: GenerationService) -> str:
    return reference.generate(QUESTION, PARAMS).raw_text


def test_the_last_stage_holds_fewer_layers_and_each_node_one_range(sharded: ShardedModel, local: LocalPool) -> None:
    assert wait_for(lambda: len(sharded.pool.membership.usable()) == len(local.processes), timeout_s=60)
    plan = sharded.pool.plan or []
    assert [r.start for r in plan] == [0, plan[1].start, plan[2].start] and plan[-1].stop == 30
    assert len(plan[2]) < len(plan[0])
    assert sorted(r.ranges[0] for r in sharded.pool.membership.records()) == sorted(
        (r.start, r.stop) for r in plan for _ in range(2)
    )


def test_greedy_output_through_three_stages_equals_the_single_node_with_the_fp32_wire(
    sharded: ShardedModel, reference: GenerationService
) -> None:
    params = GenerationParams(max_new_tokens=32, ban_eos=True)
    result = sharded.generate(QUESTION, params)
    assert result.tokens == 32
    assert result.raw_text == reference.generate(QUESTION, params).raw_text


def test_the_fp16_wire_agrees_with_the_single_node_on_at_least_99_percent_of_tokens(
    settings: Settings, local: LocalPool, reference: GenerationService
) -> None:
    pool, _ = open_pool(settings, store=MemoryStore(), seeds=local.addresses, model_id=MODEL, options=PoolOptions())
    assert pool.wait_ready(60) and pool.options.wire == "fp16"
    tokenizer = reference.loaded.tokenizer
    agreeing = total = 0
    try:
        for prompt in (QUESTION, "What happens at the end of an epoch?"):
            text = tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
            )
            ids = list(tokenizer.encode(text, add_special_tokens=False))
            expected = greedy_tokens(reference.loaded.model, ids, 32, banned=[tokenizer.eos_token_id])
            session = pool.open_session(Sampling(banned=(tokenizer.eos_token_id,)))
            predicted = [session.prefill(ids)] + [session.decode(token) for token in expected[:-1]]
            session.close()
            agreeing += sum(a == b for a, b in zip(predicted, expected, strict=True))
            total += len(expected)
    finally:
        pool.close()
    assert agreeing / total >= 0.99


def _kill(local: LocalPool, stage: int, step: int, killed: list[str]) -> SendHook:
    def hook(index: int, at_step: int, node_id: str) -> None:
        if index == stage and at_step == step and not killed:
            local.kill(node_id, signal.SIGKILL)
            killed.append(node_id)

    return hook


# Each stage once at the prompt, then once mid-decode: a killed node has two tests' time to be restarted.
KILLS = [(0, 0), (1, 0), (2, 0), (0, 12), (1, 12), (2, 12)]


@pytest.mark.parametrize(
    ("stage", "step"), KILLS, ids=[f"stage{s}-{'prefill' if t == 0 else 'decode'}" for s, t in KILLS]
)
def test_killing_any_stage_yields_the_full_identical_output(
    sharded: ShardedModel, local: LocalPool, expected: str, stage: int, step: int
) -> None:
    replicas = [p for p in local.processes if p.stage == stage]
    local.wait_serving(replicas)  # both replicas up: the warm path (a replica takes over)
    usable = sharded.pool.membership.usable
    assert wait_for(lambda: {p.node_id for p in replicas} <= {n.node_id for n in usable()}, timeout_s=60)
    killed: list[str] = []
    failovers = sharded.pool.counters.failovers
    sharded.pool.on_send = _kill(local, stage, step, killed)
    try:
        result = sharded.generate(QUESTION, PARAMS)
    finally:
        sharded.pool.on_send = None
    assert killed, "the hook never fired"
    assert result.raw_text == expected and result.tokens == PARAMS.max_new_tokens
    assert sharded.pool.counters.failovers == failovers + 1


def test_a_killed_stage_is_declared_failed_and_recovers_after_its_restart(
    sharded: ShardedModel, local: LocalPool
) -> None:
    victim = local.processes[0].node_id
    local.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: sharded.pool.membership.state(victim) == "failed", timeout_s=30)
    local.wait_serving([local.processes[0]])
    assert wait_for(lambda: sharded.pool.membership.state(victim) == "up", timeout_s=30)
    kinds = [e.kind for e in sharded.pool.membership.events if e.node_id == victim]
    assert kinds[0] == "joined" and kinds[-2:] == ["failed", "recovered"]

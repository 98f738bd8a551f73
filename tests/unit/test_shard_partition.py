"""Layer partitioning: contiguous ranges sized by compute and memory, counting the embedding and LM head."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import LlamaConfig, Qwen2Config

from qcl.shard.errors import PartitionError
from qcl.shard.partition import ModelCosts, NodeCapacity, adopter, parse_layers, plan_stages, reassign

# Published configs (distributed-inference.md §4.1): SmolLM2-135M and DeepSeek-R1-Distill-Qwen-1.5B.
SMOLLM2 = LlamaConfig(
    hidden_size=576,
    intermediate_size=1536,
    num_hidden_layers=30,
    num_attention_heads=9,
    num_key_value_heads=3,
    vocab_size=49152,
    tie_word_embeddings=True,
)
R1_DISTILL = Qwen2Config(
    hidden_size=1536,
    intermediate_size=8960,
    num_hidden_layers=28,
    num_attention_heads=12,
    num_key_value_heads=2,
    vocab_size=151936,
    tie_word_embeddings=False,
)


def _equal(count: int) -> list[NodeCapacity]:
    return [NodeCapacity(f"n{i}") for i in range(count)]


def test_the_last_stage_gets_fewer_layers_because_it_holds_the_lm_head() -> None:
    plan = plan_stages(ModelCosts.from_config(SMOLLM2, quantization="int8-dynamic"), _equal(3), keep_order=True)
    sizes = [len(r) for r in plan.ranges]
    assert sizes[2] < sizes[0] and sizes[2] < sizes[1]
    assert sizes != [10, 10, 10]


def test_fp32_head_weighs_more_than_int8_head_so_the_last_stage_shrinks_further() -> None:
    fp32 = plan_stages(ModelCosts.from_config(SMOLLM2, quantization="none"), _equal(3), keep_order=True)
    int8 = plan_stages(ModelCosts.from_config(SMOLLM2, quantization="int8-dynamic"), _equal(3), keep_order=True)
    assert len(fp32.ranges[2]) < len(int8.ranges[2])


def test_cost_constants_reproduce_the_measured_head_to_layer_ratios() -> None:
    # Measured here on SmolLM2, one thread: head 6.1 layers in fp32, 2.1 in int8 (partition.py docstring).
    for quantization, measured in (("none", 6.1), ("int8-dynamic", 2.1)):
        costs = ModelCosts.from_config(SMOLLM2, quantization=quantization)
        assert costs.head_flops / costs.layer_flops == pytest.approx(measured, rel=0.15)


def test_a_node_twice_as_fast_gets_more_layers() -> None:
    nodes = [NodeCapacity("fast", compute=2.0), NodeCapacity("b"), NodeCapacity("c")]
    plan = plan_stages(ModelCosts.from_config(SMOLLM2), nodes, keep_order=True)
    assert len(plan.ranges[0]) > max(len(plan.ranges[1]), len(plan.ranges[2]))


def test_a_node_with_little_memory_gets_a_range_that_fits_it() -> None:
    costs = ModelCosts.from_config(R1_DISTILL)
    small = costs.stage_bytes(range(0, 6))
    plan = plan_stages(costs, [NodeCapacity("small", memory_bytes=small), *_equal(2)], keep_order=True)
    assert costs.stage_bytes(plan.ranges[0]) <= small


def test_untied_head_counts_its_own_copy_on_the_last_stage() -> None:
    costs = ModelCosts.from_config(R1_DISTILL)
    assert costs.stage_bytes(range(27, 28)) == costs.layer_bytes + costs.head_bytes
    assert costs.stage_bytes(range(0, 1)) == costs.layer_bytes + costs.embed_bytes


def test_a_split_that_fits_no_node_is_refused_with_the_bytes_needed() -> None:
    costs = ModelCosts.from_config(SMOLLM2)
    with pytest.raises(PartitionError, match="no contiguous split fits") as error:
        plan_stages(costs, [NodeCapacity(f"n{i}", memory_bytes=1000) for i in range(3)])
    assert str(costs.stage_bytes(range(0, 30))) in str(error.value)


def test_more_stages_than_layers_is_refused() -> None:
    with pytest.raises(PartitionError, match="need 31 layers or more; the model has 30"):
        plan_stages(ModelCosts.from_config(SMOLLM2), _equal(31))


def test_no_nodes_is_refused() -> None:
    with pytest.raises(PartitionError, match="at least one node"):
        plan_stages(ModelCosts.from_config(SMOLLM2), [])


def test_node_order_is_searched_so_the_fast_node_takes_the_head() -> None:
    nodes = [NodeCapacity("a"), NodeCapacity("b"), NodeCapacity("fast", compute=3.0)]
    searched = plan_stages(ModelCosts.from_config(SMOLLM2, quantization="none"), nodes)
    fixed = plan_stages(ModelCosts.from_config(SMOLLM2, quantization="none"), nodes, keep_order=True)
    assert max(searched.stage_times) <= max(fixed.stage_times)


@settings(deadline=None)  # up to 4! node orders x a dynamic programme each
@given(
    layers=st.integers(min_value=1, max_value=40),
    computes=st.lists(st.floats(min_value=0.25, max_value=4.0), min_size=1, max_size=6),
)
def test_ranges_are_contiguous_and_cover_every_layer_once(layers: int, computes: list[float]) -> None:
    config = LlamaConfig(
        hidden_size=64, intermediate_size=128, num_hidden_layers=layers, num_attention_heads=4, vocab_size=300
    )
    nodes = [NodeCapacity(f"n{i}", compute=c) for i, c in enumerate(computes)]
    if len(nodes) > layers:
        return
    plan = plan_stages(ModelCosts.from_config(config), nodes)
    assert plan.ranges[0].start == 0 and plan.ranges[-1].stop == layers
    assert all(a.stop == b.start for a, b in zip(plan.ranges, plan.ranges[1:], strict=False))
    assert all(len(r) >= 1 for r in plan.ranges)


def test_a_failed_node_moves_only_its_own_range() -> None:
    costs = ModelCosts.from_config(SMOLLM2)
    plan = plan_stages(costs, _equal(3), keep_order=True)
    live = [NodeCapacity("n0", memory_bytes=10**10), NodeCapacity("n2", memory_bytes=10**9)]
    moved = reassign(plan.assignment(), costs, failed="n1", live=live)
    before = plan.assignment()
    changed = [key for key in before if before[key] != moved[key]]
    assert changed == [(plan.ranges[1].start, plan.ranges[1].stop)]
    assert moved[changed[0]] == ["n0"]  # the live node with the most free memory


def test_a_failed_nodes_range_stays_with_its_surviving_replica() -> None:
    assignment = {(0, 15): ["a"], (15, 30): ["b", "b2"]}
    moved = reassign(assignment, ModelCosts.from_config(SMOLLM2), failed="b", live=[NodeCapacity("a")])
    assert moved == {(0, 15): ["a"], (15, 30): ["b2"]}


def test_no_live_node_with_room_for_an_orphaned_range_is_an_error() -> None:
    costs = ModelCosts.from_config(SMOLLM2)
    with pytest.raises(PartitionError, match="no live node has that free"):
        adopter(costs, range(0, 10), [NodeCapacity("tiny", memory_bytes=10)])


@pytest.mark.parametrize(
    ("text", "expected"), [("0:10", range(0, 10)), ("22:30", range(22, 30)), (" 3:4", range(3, 4))]
)
def test_layer_ranges_parse_half_open(text: str, expected: range) -> None:
    assert parse_layers(text) == expected


@pytest.mark.parametrize("text", ["", "10", "a:b", "5:5", "7:3", "-1:4", "1:2:3"])
def test_malformed_layer_ranges_are_refused_naming_the_input(text: str) -> None:
    with pytest.raises(PartitionError, match="layers: expected A:B"):
        parse_layers(text)

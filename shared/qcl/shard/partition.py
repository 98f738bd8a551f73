"""Contiguous layer ranges sized by each node's compute and memory, counting the embedding and the LM head.

    costs = ModelCosts.from_config(config, quantization="int8-dynamic")
    plan = plan_stages(costs, [NodeCapacity("a"), NodeCapacity("b"), NodeCapacity("c")])
    plan.ranges          # SmolLM2, int8, three equal nodes: [range(0, 11), range(11, 22), range(22, 30)]
    moved = reassign(plan.assignment(), failed="c", live=[...])   # only c's range moves

Stage 0 also holds the embedding (a lookup: memory, almost no compute); the last stage holds the final norm and the
LM head (a 49,152 x 576 matmul per token for SmolLM2, worth several decoder layers), so an even 10/10/10 split
makes the last stage the slowest (distributed-inference.md §4.4). The cost of a module is its multiply-adds per
token plus a fixed cost per Linear call (dispatch, and for int8 the dynamic quantization of its input), expressed
in FLOP equivalents. Measured here on SmolLM2 with one thread: a decoder layer took 3.5 ms and the head 21.5 ms in
fp32, 2.2 ms and 4.7 ms in int8; the constants below reproduce those ratios (head = 6.1 layers fp32, 2.1 int8).
A single stream runs the stages one after another, so balance matters for concurrent sessions (pipelining) and
memory, not for one stream's latency.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qcl.shard.errors import PartitionError

if TYPE_CHECKING:
    from qcl.model.registry import ModelSpec

# Fixed cost of one Linear call in FLOP equivalents, fitted to the timings in the module docstring.
LINEAR_CALL_FLOPS = {"none": 0.32e6, "int8-dynamic": 3.0e6}
LINEARS_PER_LAYER = 7  # q, k, v, o, gate, up, down
# Context length the attention cost is counted at (QK^T and AV grow with it; 512 is a typical narration prompt).
ATTENTION_CONTEXT = 512
# Permutations of node order tried for the best plan (4! = 24 dynamic programmes; more nodes keep their order).
MAX_PERMUTED_NODES = 4


@dataclass(frozen=True)
class ModelCosts:
    layers: int
    layer_flops: float  # per token, FLOP equivalents
    head_flops: float
    layer_bytes: int  # weights as served
    embed_bytes: int
    head_bytes: int

    @classmethod
    def from_config(cls, config: Any, *, quantization: str = "none") -> ModelCosts:
        """Costs of a Llama/Qwen2 transformers config (hidden, heads, FFN, vocabulary, tied or not)."""
        hidden = int(config.hidden_size)
        heads = int(config.num_attention_heads)
        kv_heads = int(getattr(config, "num_key_value_heads", heads))
        head_dim = int(getattr(config, "head_dim", None) or hidden // heads)
        ffn = int(config.intermediate_size)
        vocab = int(config.vocab_size)
        linear_params = hidden * heads * head_dim * 2 + hidden * kv_heads * head_dim * 2 + 3 * hidden * ffn
        per_call = LINEAR_CALL_FLOPS.get(quantization, LINEAR_CALL_FLOPS["none"])
        weight_bytes = 1 if quantization == "int8-dynamic" else 4  # int8 quantizes Linear weights only
        layer_flops = 2 * linear_params + 4 * ATTENTION_CONTEXT * heads * head_dim + LINEARS_PER_LAYER * per_call
        return cls(
            layers=int(config.num_hidden_layers),
            layer_flops=layer_flops,
            head_flops=2 * hidden * vocab + per_call,
            layer_bytes=linear_params * weight_bytes + 2 * hidden * 4,  # two fp32 RMS norms
            embed_bytes=vocab * hidden * 4,  # embeddings stay fp32
            head_bytes=vocab * hidden * weight_bytes + hidden * 4,  # a tied head is a copy on the last stage
        )

    def stage_flops(self, layers: range) -> float:
        return len(layers) * self.layer_flops + (self.head_flops if layers.stop == self.layers else 0.0)

    def stage_bytes(self, layers: range) -> int:
        held = len(layers) * self.layer_bytes
        if layers.start == 0:
            held += self.embed_bytes
        if layers.stop == self.layers:
            held += self.head_bytes
        return held


@dataclass(frozen=True)
class NodeCapacity:
    node_id: str
    compute: float = 1.0  # relative speed (FLOP/s up to a common factor)
    memory_bytes: int | None = None  # None: unbounded


@dataclass(frozen=True)
class StagePlan:
    ranges: list[range]
    nodes: list[str]  # nodes[i] serves ranges[i]
    stage_times: list[float]  # FLOP equivalents / compute: the slowest bounds a pipelined pool's throughput

    def assignment(self) -> dict[tuple[int, int], list[str]]:
        return {(r.start, r.stop): [node] for r, node in zip(self.ranges, self.nodes, strict=True)}

    def to_json(self) -> dict[str, Any]:
        return {
            "ranges": [f"{r.start}:{r.stop}" for r in self.ranges],
            "nodes": self.nodes,
            "layers_per_stage": [len(r) for r in self.ranges],
            "relative_stage_time": [round(t / max(self.stage_times), 3) for t in self.stage_times],
        }


def plan_stages(costs: ModelCosts, nodes: list[NodeCapacity], *, keep_order: bool = False) -> StagePlan:
    """Contiguous ranges, one per node, minimising the slowest stage within every node's memory.

    Tries node orders (up to MAX_PERMUTED_NODES nodes) unless `keep_order`; PartitionError when no split fits.
    """
    if not nodes:
        raise PartitionError("nodes: expected at least one node, got none")
    if len(nodes) > costs.layers:
        raise PartitionError(
            f"stages: {len(nodes)} stages need {len(nodes)} layers or more; the model has {costs.layers}"
        )
    orders = [nodes] if keep_order or len(nodes) > MAX_PERMUTED_NODES else itertools.permutations(nodes)
    best: StagePlan | None = None
    for order in orders:
        plan = _best_split(costs, list(order))
        if plan is not None and (best is None or max(plan.stage_times) < max(best.stage_times)):
            best = plan
    if best is None:
        need = costs.stage_bytes(range(0, costs.layers))
        have = ", ".join(f"{n.node_id}={n.memory_bytes}" for n in nodes)
        raise PartitionError(f"no contiguous split fits the nodes' memory: the model needs {need} bytes; nodes: {have}")
    return best


def _best_split(costs: ModelCosts, nodes: list[NodeCapacity]) -> StagePlan | None:
    """Dynamic programme over split points: best[s][end] = the smallest slowest-stage time for layers [0, end)."""
    count, stages = costs.layers, len(nodes)
    inf = float("inf")
    best = [[inf] * (count + 1) for _ in range(stages + 1)]
    cut: list[list[int]] = [[0] * (count + 1) for _ in range(stages + 1)]
    best[0][0] = 0.0
    for stage, node in enumerate(nodes, start=1):
        for end in range(stage, count - (stages - stage) + 1):
            for start in range(stage - 1, end):
                if best[stage - 1][start] == inf:
                    continue
                layers = range(start, end)
                if node.memory_bytes is not None and costs.stage_bytes(layers) > node.memory_bytes:
                    continue
                slowest = max(best[stage - 1][start], costs.stage_flops(layers) / node.compute)
                if slowest < best[stage][end]:
                    best[stage][end], cut[stage][end] = slowest, start
    if best[stages][count] == inf:
        return None
    ranges: list[range] = []
    end = count
    for stage in range(stages, 0, -1):
        start = cut[stage][end]
        ranges.insert(0, range(start, end))
        end = start
    times = [costs.stage_flops(r) / n.compute for r, n in zip(ranges, nodes, strict=True)]
    return StagePlan(ranges, [n.node_id for n in nodes], times)


def parse_layers(text: str) -> range:
    """'A:B' (half-open, as `qcl shard serve --layers` takes it) -> range(A, B)."""
    start, sep, stop = text.partition(":")
    try:
        layers = range(int(start), int(stop))
    except ValueError:
        raise PartitionError(f"layers: expected A:B with integers A < B, got {text!r}") from None
    if not sep or layers.start < 0 or layers.stop <= layers.start:
        raise PartitionError(f"layers: expected A:B with integers 0 <= A < B, got {text!r}")
    return layers


def check_layers(spec: ModelSpec, layers: range) -> None:
    """PartitionError unless `layers` lies within the model's decoder layers."""
    if layers.step != 1 or not 0 <= layers.start < layers.stop <= spec.layers:
        raise PartitionError(
            f"layers: expected a range A:B with 0 <= A < B <= {spec.layers} for {spec.id}, "
            f"got {layers.start}:{layers.stop}"
        )


def adopter(costs: ModelCosts, layers: range, candidates: list[NodeCapacity]) -> str:
    """The live node that should load an orphaned range: the most free memory among those it fits."""
    need = costs.stage_bytes(layers)
    fitting = [n for n in candidates if n.memory_bytes is None or n.memory_bytes >= need]
    if not fitting:
        raise PartitionError(f"layers {layers.start}:{layers.stop} need {need} bytes; no live node has that free")
    return max(fitting, key=lambda n: (n.memory_bytes is None, n.memory_bytes or 0, n.compute)).node_id


def reassign(
    assignment: dict[tuple[int, int], list[str]], costs: ModelCosts, failed: str, live: list[NodeCapacity]
) -> dict[tuple[int, int], list[str]]:
    """The assignment after `failed` leaves: its ranges go to replicas or an adopter; every other entry stays."""
    moved: dict[tuple[int, int], list[str]] = {}
    for key, holders in assignment.items():
        remaining = [node for node in holders if node != failed]
        if not remaining:
            remaining = [adopter(costs, range(*key), [n for n in live if n.node_id != failed])]
        moved[key] = remaining
    return moved

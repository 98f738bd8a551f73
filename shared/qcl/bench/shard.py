"""`qcl bench shard`: one node against the pool of stage processes, in one run on this machine.

    qcl bench shard --json                                   # SmolLM2, 3 stages, QCL_SHARD_WIRE (auto), 64 tokens
    qcl bench shard --model tiny-random-llama --stages 2 --tokens 16 --json

Method (exo-bench's, distributed-inference.md §3.9): one fixed chat prompt, exactly `tokens` new tokens with end of
sequence banned, greedy. Single node: the model runtime's per-step functions in this process (the weights as
served: QCL_QUANTIZATION). Pool: `stages` stage processes (2 replicas each) on loopback, driven through the
coordinator's pipeline sessions. Rounds alternate single and pool (a warm-up round is not counted) and report
medians, so load from other processes on a shared machine falls on both alike.
- tokens_per_s: decode tokens per second after the first token (inter-token rate); ttft_ms: prompt to first token.
- ratio_sharded_over_single: pool tokens_per_s / single tokens_per_s (1.0 = no cost; below 1 = slower).
- wire_bytes_per_token: bytes through the data plane per decode token, all hops, both directions, headers included.
- tokens_identical: the pool's greedy tokens equal the single node's; token_agreement: the share of positions where
  the pool, fed the single node's tokens, predicts the single node's next token (teacher forcing).
- recovery_s: the stage serving the middle range is killed (SIGKILL) mid-generation; time from the kill to the next
  token (its replica takes over, replaying the session's frames). recovery_cold_s: then its last replica is killed
  too, so a live node loads the orphaned range. tokens_identical_after_recovery: both interrupted runs give the
  uninterrupted pool run's tokens.
"""

from __future__ import annotations

import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from qcl.bench.model import SPEED_PROMPT
from qcl.config import Settings, available_cores, cpu_threads
from qcl.model.loading import LoadedModel, load_model
from qcl.model.steps import decode_one, new_cache, prefill, suppress
from qcl.shard.client import fetch_record
from qcl.shard.coordinator import open_pool, pool_options
from qcl.shard.local import LocalPool
from qcl.shard.pipeline import PipelineSession, SendHook
from qcl.shard.pool import ShardPool
from qcl.shard.sessions import Sampling
from qcl.shard.wire import resolve_wire
from qcl.store.memory import MemoryStore

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Timed:
    tokens: list[int]
    first_s: float  # prompt to the first token
    rest_s: float  # the first token to the last
    decode_wire_bytes: int = 0  # data-plane bytes after the first token (pool runs)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_shard_bench(
    settings: Settings,
    *,
    model_id: str,
    new_tokens: int = 64,
    stages: int = 3,
    wire: str = "auto",
    runs: int = 3,
    log_dir: Path | None = None,
    progress: Progress = _stderr,
) -> dict[str, Any]:
    threads = cpu_threads(settings.shard_threads)
    torch.set_num_threads(threads)
    load_average = os.getloadavg()[0]
    progress(f"single node: loading {model_id}")
    loaded = load_model(model_id, settings, progress=None)
    prompt_ids = _chat_ids(loaded, SPEED_PROMPT)
    banned = _eos_ids(loaded)
    with tempfile.TemporaryDirectory(prefix="qcl-bench-shard-") as scratch:
        progress(f"pool: starting {stages} stages x 2 replicas ({threads} threads each)")
        local = LocalPool(
            settings,
            model_id,
            stages=stages,
            replicas=2,
            threads=threads,
            restart=False,
            log_dir=log_dir or Path(scratch),
        ).start()
        options = pool_options(
            settings, loaded.quantization, wire=resolve_wire(wire, loaded.quantization), recovery_timeout_s=120.0
        )
        pool, _ = open_pool(settings, store=MemoryStore(), seeds=local.addresses, model_id=model_id, options=options)
        try:
            if not pool.wait_ready(60):
                raise RuntimeError("the local pool did not become ready")
            single, sharded, stage_ms = _rounds(loaded, pool, prompt_ids, banned, new_tokens, runs, progress)
            single_tokens, pool_tokens = single[-1].tokens, sharded[-1].tokens
            progress("token agreement (pool fed the single node's tokens)")
            agreement = _agreement(pool, prompt_ids, single_tokens, banned)
            progress("recovery: killing the middle stage's node mid-generation, then its last replica")
            recovery_s, recovery_cold_s, recovered = _recovery(local, pool, prompt_ids, banned, new_tokens, stages // 2)
            records = pool.membership.records()
        finally:
            pool.close()
            local.stop()
    single_rate, pool_rate = _median_rate(single), _median_rate(sharded)
    return {
        "model": model_id,
        "quantization": loaded.quantization,
        "wire": options.wire,
        "machine": {
            "cpu_cores": available_cores(),
            "threads_per_process": threads,
            "load_average_1m_at_start": round(load_average, 2),
            "platform": platform.platform(),
            "torch": torch.__version__,
        },
        "stages": [f"{r.start}:{r.stop}" for r in local.ranges],
        "prompt_tokens": len(prompt_ids),
        "new_tokens": new_tokens,
        "runs": runs,
        "single_tokens_per_s": single_rate,
        "pool_tokens_per_s": pool_rate,
        "ratio_sharded_over_single": round(pool_rate / single_rate, 3),
        "pool_stage_compute_ms_per_token": round(stage_ms, 2),
        "pool_hop_overhead_ms_per_token": round(1000 / pool_rate - stage_ms, 2),
        "single_ttft_ms": _median_ttft(single),
        "pool_ttft_ms": _median_ttft(sharded),
        "wire_bytes_per_token": round(statistics.median(t.decode_wire_bytes / (len(t.tokens) - 1) for t in sharded), 1),
        "tokens_identical": pool_tokens == single_tokens,
        "token_agreement": agreement,
        "recovery_s": recovery_s,
        "recovery_cold_s": recovery_cold_s,
        "adoptions": pool.counters.adoptions,
        "tokens_identical_after_recovery": recovered == [pool_tokens, pool_tokens],
        "stage_decode_ms_per_frame": {
            record.node_id: record.decode_ms_per_frame for record in sorted(records, key=lambda r: r.node_id)
        },
    }


def _chat_ids(loaded: LoadedModel, prompt: str) -> list[int]:
    tokenizer = loaded.tokenizer
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
    )
    return list(tokenizer.encode(text, add_special_tokens=False))


def _eos_ids(loaded: LoadedModel) -> tuple[int, ...]:
    configured = loaded.model.generation_config.eos_token_id
    ids = {loaded.tokenizer.eos_token_id, *(configured if isinstance(configured, list) else [configured])}
    return tuple(sorted(token for token in ids if token is not None))


def _rounds(
    loaded: LoadedModel,
    pool: ShardPool,
    prompt_ids: list[int],
    banned: tuple[int, ...],
    new_tokens: int,
    runs: int,
    progress: Progress,
) -> tuple[list[Timed], list[Timed], float]:
    single: list[Timed] = []
    sharded: list[Timed] = []
    before: dict[str, tuple[int, float]] = {}
    for round_index in range(runs + 1):  # round 0 warms both paths up and is not counted
        single.append(_single_run(loaded, prompt_ids, banned, new_tokens))
        sharded.append(_pool_run(pool, prompt_ids, banned, new_tokens))
        if round_index:
            progress(f"  round {round_index}/{runs}")
        else:
            before = _stage_compute(pool)
    after = _stage_compute(pool)
    tokens = sum(len(t.tokens) - 1 for t in sharded[1:])
    stage_ms = 1000 * sum(after[node][1] - before.get(node, (0, 0.0))[1] for node in after) / tokens
    return single[1:], sharded[1:], stage_ms


def _stage_compute(pool: ShardPool) -> dict[str, tuple[int, float]]:
    """Each node's (decode frames, decode compute seconds) so far, read from the nodes themselves."""
    records = [fetch_record(pool.channels.get(r.address, r.node_id), timeout_s=5.0) for r in pool.membership.records()]
    return {r.node_id: (r.decode_frames, r.decode_compute_s) for r in records}


@torch.inference_mode()
def _single_run(loaded: LoadedModel, prompt_ids: list[int], banned: tuple[int, ...], new_tokens: int) -> Timed:
    model, started = loaded.model, time.perf_counter()
    ids = torch.tensor([prompt_ids])  # (1, seq)
    mask, cache = torch.ones_like(ids), new_cache(model)
    token = suppress(prefill(model, ids, mask, cache), banned).argmax(-1)  # (1,)
    tokens, first = [int(token)], time.perf_counter()
    while len(tokens) < new_tokens:
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=-1)
        token = suppress(decode_one(model, token, mask, cache), banned).argmax(-1)
        tokens.append(int(token))
    return Timed(tokens, first - started, time.perf_counter() - first)


def _pool_run(
    pool: ShardPool,
    prompt_ids: list[int],
    banned: tuple[int, ...],
    new_tokens: int,
    session: PipelineSession | None = None,
    arrivals: list[float] | None = None,
) -> Timed:
    session = session or pool.open_session(Sampling(banned=banned))
    arrivals = arrivals if arrivals is not None else []
    try:
        started = time.perf_counter()
        tokens = [session.prefill(prompt_ids)]
        arrivals.append(time.perf_counter())
        while len(tokens) < new_tokens:
            tokens.append(session.decode(tokens[-1]))
            arrivals.append(time.perf_counter())
        return Timed(tokens, arrivals[0] - started, arrivals[-1] - arrivals[0], session.decode_bytes)
    finally:
        session.close()


def _agreement(pool: ShardPool, prompt_ids: list[int], reference: list[int], banned: tuple[int, ...]) -> float:
    session = pool.open_session(Sampling(banned=banned))
    try:
        predicted = [session.prefill(prompt_ids)]
        for token in reference[:-1]:
            predicted.append(session.decode(token))
    finally:
        session.close()
    return round(sum(p == r for p, r in zip(predicted, reference, strict=True)) / len(reference), 4)


def _recovery(
    local: LocalPool, pool: ShardPool, prompt_ids: list[int], banned: tuple[int, ...], new_tokens: int, stage: int
) -> tuple[float, float, list[list[int]]]:
    """Kill the node serving `stage` at the middle token, twice: first with a replica left, then without.

    Returns the seconds from each kill to the token of that step, and both runs' tokens.
    """
    step = new_tokens // 2
    timings: list[float] = []
    outputs: list[list[int]] = []
    for _ in range(2):
        killed_at: list[float] = []
        session = pool.open_session(Sampling(banned=banned))
        session.on_send = kill_at(local, stage, step, killed_at)
        arrivals: list[float] = []
        outputs.append(_pool_run(pool, prompt_ids, banned, new_tokens, session, arrivals).tokens)
        timings.append(arrivals[step] - killed_at[0])
    return round(timings[0], 3), round(timings[1], 3), outputs


def kill_at(local: LocalPool, stage: int, step: int, killed_at: list[float]) -> SendHook:
    """A send hook that kills (SIGKILL) the node about to get `step` of range `stage`, once, noting the time."""

    def kill(index: int, at_step: int, node_id: str) -> None:
        if index == stage and at_step == step and not killed_at:
            local.kill(node_id, signal.SIGKILL)
            killed_at.append(time.perf_counter())

    return kill


def _median_rate(timed: list[Timed]) -> float:
    return round(statistics.median((len(t.tokens) - 1) / t.rest_s for t in timed), 2)


def _median_ttft(timed: list[Timed]) -> float:
    return round(statistics.median(t.first_s for t in timed) * 1000, 1)

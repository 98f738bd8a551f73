"""`qcl bench model`: load time, speed, size and int8 agreement of a registered model on this machine.

    qcl bench model --json                          # the default model, 64 new tokens, 3 timed runs
    qcl bench model --model tiny-random-llama --tokens 8 --runs 1 --json

Method (fixed so runs compare):
- load_s_cold: load into a fresh temporary cache dir (for the default model: GGUF -> fp32 conversion + save);
  load_s_cached: load again from that cache.
- tokens/s: one fixed chat prompt, exactly `tokens` new tokens (end-of-sequence banned), greedy, one warm-up run
  excluded, median of `runs` timed runs; tokens / wall time from submission to the last token (prefill included).
  Our path goes through the GenerationService (per-step functions); the baseline is transformers' generate() on
  the same fp32 model, prompt and thread count, in the same run.
- sizes: bytes of the state dict as torch.save writes it (int8 packed weights included), in MB.
- int8_agreement: over a fixed prompt set, the fp32 model's greedy continuation is fed to both models; the share
  of positions where the int8 model's greedy next token equals the fp32 one.
"""

from __future__ import annotations

import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from qcl.config import Settings
from qcl.model.loading import LoadedModel, load_model
from qcl.model.quantize import serialized_size_mb
from qcl.model.registry import DEFAULT_MODEL, MODELS
from qcl.model.service import GenerationParams, GenerationService, available_cores
from qcl.model.steps import greedy_tokens

TARGET_MODEL = "deepseek-r1-distill-qwen-1.5b"
SPEED_PROMPT = (
    "Summarise the state of the Qubic network: tick 17,500,000, epoch 160, 12 % empty ticks in the last hour, "
    "price down 3.2 % in 24 hours."
)
AGREEMENT_PROMPTS = (
    "What is a blockchain tick?",
    "Explain in one sentence why empty ticks matter.",
    "The price fell 3.2 % today. Describe the trend.",
    "Write a short greeting in English.",
    "List three colours.",
    "What happens at the end of an epoch?",
    "請用一句話說明網路狀態。",
    "Summarise: 12 % empty ticks, epoch 160, tick 17,500,000.",
)
AGREEMENT_TOKENS = 24

Progress = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_model_bench(
    settings: Settings,
    *,
    model_id: str = DEFAULT_MODEL,
    new_tokens: int = 64,
    runs: int = 3,
    progress: Progress = _stderr,
) -> dict[str, Any]:
    threads = settings.model_threads or available_cores()
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="qcl-bench-model-") as scratch:
        fresh = settings.model_copy(update={"model_cache_dir": Path(scratch)})
        progress(f"cold load of {model_id} into an empty cache")
        cold = load_model(model_id, fresh, quantization="none", progress=lambda phase, *_: progress(f"  {phase}"))
        progress("load from the cache")
        fp32 = load_model(model_id, fresh, quantization="none", progress=None)
        int8 = load_model(model_id, fresh, quantization="int8", progress=None)
        load_s_cold = cold.load_s
        del cold  # its fp32 copy is not needed; keep memory for the timed runs
        prompt_ids = _chat_ids(fp32, SPEED_PROMPT)
        progress(f"speed: {runs} rounds of fp32 service, int8 service, fp32 generate(), {new_tokens} tokens each")
        speeds = _speeds(fp32, int8, prompt_ids, threads, new_tokens, runs, progress)
        fp32_speed, int8_speed, baseline = speeds["fp32"], speeds["int8"], speeds["generate"]["tokens_per_s"]
        progress(f"int8 agreement over {len(AGREEMENT_PROMPTS)} prompts x {AGREEMENT_TOKENS} tokens")
        agreement, positions = _agreement(fp32, int8)
        target = MODELS[TARGET_MODEL]
        return {
            "model": model_id,
            "machine": {
                "cpu_cores": available_cores(),
                "threads": threads,
                "platform": platform.platform(),
                "torch": torch.__version__,
            },
            "prompt_tokens": len(prompt_ids),
            "new_tokens": new_tokens,
            "runs": runs,
            "load_s_cold": round(load_s_cold, 2),
            "load_s_cached": round(fp32.load_s, 2),
            "tokens_per_s_fp32": fp32_speed["tokens_per_s"],
            "tokens_per_s_int8": int8_speed["tokens_per_s"],
            "tokens_per_s_generate_fp32": baseline,
            "ratio_fp32_vs_generate": round(fp32_speed["tokens_per_s"] / baseline, 2),
            "ratio_int8_vs_generate": round(int8_speed["tokens_per_s"] / baseline, 2),
            "first_token_ms_p50": int8_speed["first_token_ms_p50"],
            "first_token_ms_p50_fp32": fp32_speed["first_token_ms_p50"],
            "size_mb_fp32": serialized_size_mb(fp32.model),
            "size_mb_int8": serialized_size_mb(int8.model),
            "int8_agreement": agreement,
            "int8_agreement_positions": positions,
            "target_model": {
                "model": target.id,
                "parameters": target.parameters,
                "expected_size_mb_fp32": round(target.parameters * 4 / 1e6),
                "expected_size_mb_int8": round(target.expected_int8_mb),
            },
        }


def _chat_ids(loaded: LoadedModel, prompt: str) -> list[int]:
    tokenizer = loaded.tokenizer
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
    )
    return list(tokenizer.encode(text, add_special_tokens=False))


def _speeds(
    fp32: LoadedModel,
    int8: LoadedModel,
    prompt_ids: list[int],
    threads: int,
    new_tokens: int,
    runs: int,
    progress: Progress,
) -> dict[str, dict[str, float]]:
    """Median tokens/s and first-token time of each path; the paths alternate within each round, so load from
    other processes on a shared machine falls on all of them alike."""
    params = GenerationParams(max_new_tokens=new_tokens, ban_eos=True)
    samples: dict[str, list[tuple[float, float]]] = {"fp32": [], "int8": [], "generate": []}
    options = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens}  # min = max bans end-of-sequence
    services = {
        name: GenerationService(loaded, max_batch=1, batch_window_ms=0, result_cache=0, threads=threads)
        for name, loaded in (("fp32", fp32), ("int8", int8))
    }
    try:
        for round_index in range(runs + 1):  # round 0 warms every path up and is not counted
            for name, service in services.items():
                result = service.generate(SPEED_PROMPT, params)
                samples[name].append((result.tokens / (result.latency_ms / 1000), result.first_token_ms))
            samples["generate"].append(_generate_once(fp32.model, prompt_ids, options))
            if round_index:
                progress(f"  round {round_index}/{runs}")
    finally:
        for service in services.values():
            service.close()
    return {
        name: {
            "tokens_per_s": round(statistics.median(rate for rate, _ in timed[1:]), 2),
            "first_token_ms_p50": round(statistics.median(first for _, first in timed[1:]), 1),
        }
        for name, timed in samples.items()
    }


@torch.inference_mode()
def _generate_once(model: Any, prompt_ids: list[int], options: dict[str, int]) -> tuple[float, float]:
    ids = torch.tensor([prompt_ids])
    started = time.perf_counter()
    out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, **options)
    elapsed = time.perf_counter() - started
    return (out.shape[1] - ids.shape[1]) / elapsed, float("nan")


@torch.inference_mode()
def _agreement(fp32: LoadedModel, int8: LoadedModel) -> tuple[float, int]:
    agreeing = total = 0
    for prompt in AGREEMENT_PROMPTS:
        prompt_ids = _chat_ids(fp32, prompt)
        continuation = greedy_tokens(fp32.model, prompt_ids, AGREEMENT_TOKENS)
        sequence = torch.tensor([prompt_ids + continuation])  # (1, prompt + continuation)
        scored = slice(len(prompt_ids) - 1, sequence.shape[1] - 1)  # positions that predict the continuation
        expected = _next_tokens(fp32.model, sequence)[scored]
        got = _next_tokens(int8.model, sequence)[scored]
        agreeing += int((expected == got).sum())
        total += len(continuation)
    return round(agreeing / total, 4), total


def _next_tokens(model: Any, sequence: torch.Tensor) -> torch.Tensor:
    """Greedy next token at every position of `sequence` (1, seq) -> (seq,)."""
    logits: torch.Tensor = model(sequence).logits  # (1, seq, vocab)
    return logits[0].argmax(-1)

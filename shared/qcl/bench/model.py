"""`qcl bench model`: load time, speed, size and int8 agreement of a registered model on this machine.

    qcl bench model --json                          # the default model, 64 new tokens, 3 timed runs
    qcl bench model --model tiny-random-llama --tokens 8 --runs 1 --json

Method (fixed so runs compare):
- load_s_cold: load into a fresh temporary cache dir (for the default model: GGUF -> fp32 conversion + save);
  load_s_cached: load again from that cache.
- tokens/s: one fixed chat prompt, exactly `tokens` new tokens (end-of-sequence banned), greedy, one warm-up run
  excluded, median of `runs` timed runs; tokens / wall time from submission to the last token (prefill included).
  Our paths go through the GenerationService (torch per-step functions fp32 and int8, and the llama.cpp runtime
  on the GGUF); the baselines are transformers' generate() on the same fp32 model, and llama.cpp itself
  (llama-cpp-python's Llama.generate on the same GGUF, its own greedy sampler), with the same prompt and thread
  count, in the same run. ratio_llamacpp_runtime_vs_llamacpp is the llama.cpp runtime's figure over llama.cpp's.
- sizes: bytes of the state dict as torch.save writes it (int8 packed weights included), in MB.
- int8_agreement: over a fixed prompt set, the fp32 model's greedy continuation is fed to both models; the share
  of positions where the int8 model's greedy next token equals the fp32 one. llamacpp_agreement: the same for
  llama.cpp on the GGUF (its Q4_1 weights are the ones the fp32 model dequantizes).
- Without llama-cpp-python (or for a model without a GGUF) the llama.cpp figures are null and `llamacpp` says why.
"""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from qcl.config import Settings, available_cores, cpu_threads
from qcl.model.llamacpp import LlamaCppRuntime, llamacpp_problem, load_llamacpp
from qcl.model.loading import LoadedModel, load_model
from qcl.model.quantize import serialized_size_mb
from qcl.model.registry import DEFAULT_MODEL, MODELS, get_spec
from qcl.model.service import GenerationParams, GenerationService
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
PATHS = ("fp32", "int8", "generate")
LLAMACPP_PATHS = ("llama.cpp runtime", "llama.cpp")


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
    threads = cpu_threads(settings.model_threads)
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="qcl-bench-model-") as scratch:
        fresh = settings.model_copy(update={"model_cache_dir": Path(scratch), "model_threads": threads})
        progress(f"cold load of {model_id} into an empty cache")
        cold = load_model(model_id, fresh, quantization="none", progress=lambda phase, *_: progress(f"  {phase}"))
        progress("load from the cache")
        fp32 = load_model(model_id, fresh, quantization="none", progress=None)
        int8 = load_model(model_id, fresh, quantization="int8", progress=None)
        load_s_cold = cold.load_s
        del cold  # its fp32 copy is not needed; keep memory for the timed runs
        llamacpp_problem_text = llamacpp_problem(get_spec(model_id))
        llama = None if llamacpp_problem_text else load_llamacpp(model_id, fresh, sequences=1)
        prompt_ids = _chat_ids(fp32, SPEED_PROMPT)
        paths = [*PATHS, *(LLAMACPP_PATHS if llama else ())]
        progress(f"speed: {runs} rounds of {', '.join(paths)}; {new_tokens} tokens each")
        speeds = _speeds(fp32, int8, llama, prompt_ids, threads, new_tokens, runs, progress)
        baseline = speeds["generate"]["tokens_per_s"]
        progress(f"agreement with fp32 over {len(AGREEMENT_PROMPTS)} prompts x {AGREEMENT_TOKENS} tokens")
        agreement, positions = greedy_agreement(fp32, torch_next_tokens(int8))
        llama_agreement = greedy_agreement(fp32, llamacpp_next_tokens(llama))[0] if llama else None
        target = MODELS[TARGET_MODEL]
        return {
            "model": model_id,
            "machine": {
                "cpu_cores": available_cores(),
                "threads": threads,
                "platform": platform.platform(),
                "torch": torch.__version__,
                "llama_cpp_python": _llamacpp_version(),
            },
            "prompt_tokens": len(prompt_ids),
            "new_tokens": new_tokens,
            "runs": runs,
            "load_s_cold": round(load_s_cold, 2),
            "load_s_cached": round(fp32.load_s, 2),
            "tokens_per_s_fp32": speeds["fp32"]["tokens_per_s"],
            "tokens_per_s_int8": speeds["int8"]["tokens_per_s"],
            "tokens_per_s_generate_fp32": baseline,
            "ratio_fp32_vs_generate": round(speeds["fp32"]["tokens_per_s"] / baseline, 2),
            "ratio_int8_vs_generate": round(speeds["int8"]["tokens_per_s"] / baseline, 2),
            "first_token_ms_p50": speeds["int8"]["first_token_ms_p50"],
            "first_token_ms_p50_fp32": speeds["fp32"]["first_token_ms_p50"],
            "size_mb_fp32": serialized_size_mb(fp32.model),
            "size_mb_int8": serialized_size_mb(int8.model),
            "int8_agreement": agreement,
            "int8_agreement_positions": positions,
            **_llamacpp_figures(speeds, llama, llama_agreement, llamacpp_problem_text),
            "target_model": {
                "model": target.id,
                "parameters": target.parameters,
                "expected_size_mb_fp32": round(target.parameters * 4 / 1e6),
                "expected_size_mb_int8": round(target.expected_int8_mb),
            },
        }


def _llamacpp_figures(
    speeds: dict[str, dict[str, float]], llama: LoadedModel | None, agreement: float | None, problem: str | None
) -> dict[str, Any]:
    """The llama.cpp runtime (through the service) against llama.cpp itself; nulls and the reason without it."""
    if llama is None:
        return {
            "llamacpp": f"not measured: {problem}",
            "tokens_per_s_llamacpp_runtime": None,
            "tokens_per_s_llamacpp": None,
            "ratio_llamacpp_runtime_vs_llamacpp": None,
            "ratio_int8_vs_llamacpp": None,
            "llamacpp_agreement": None,
        }
    ours, theirs = speeds["llama.cpp runtime"]["tokens_per_s"], speeds["llama.cpp"]["tokens_per_s"]
    return {
        "llamacpp": f"llama-cpp-python {_llamacpp_version()} on {llama.spec.location}",
        "tokens_per_s_llamacpp_runtime": ours,
        "tokens_per_s_llamacpp": theirs,
        "ratio_llamacpp_runtime_vs_llamacpp": round(ours / theirs, 2),
        "ratio_int8_vs_llamacpp": round(speeds["int8"]["tokens_per_s"] / theirs, 2),
        "first_token_ms_p50_llamacpp_runtime": speeds["llama.cpp runtime"]["first_token_ms_p50"],
        "llamacpp_agreement": agreement,
    }


def _llamacpp_version() -> str | None:
    try:
        return importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        return None


def _chat_ids(loaded: LoadedModel, prompt: str) -> list[int]:
    tokenizer = loaded.tokenizer
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
    )
    return list(tokenizer.encode(text, add_special_tokens=False))


def _speeds(
    fp32: LoadedModel,
    int8: LoadedModel,
    llama: LoadedModel | None,
    prompt_ids: list[int],
    threads: int,
    new_tokens: int,
    runs: int,
    progress: Progress,
) -> dict[str, dict[str, float]]:
    """Median tokens/s and first-token time of each path; the paths alternate within each round, so load from
    other processes on a shared machine falls on all of them alike."""
    params = GenerationParams(max_new_tokens=new_tokens, ban_eos=True)
    options = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens}  # min = max bans end-of-sequence
    served = {"fp32": fp32, "int8": int8, **({"llama.cpp runtime": llama} if llama else {})}
    services = {
        name: GenerationService(loaded, max_batch=1, batch_window_ms=0, result_cache=0, threads=threads)
        for name, loaded in served.items()
    }
    timers: dict[str, Callable[[], tuple[float, float]]] = {
        name: functools.partial(_service_once, service, params) for name, service in services.items()
    }
    timers["generate"] = functools.partial(_generate_once, fp32.model, prompt_ids, options)
    if llama is not None:
        timers["llama.cpp"] = _llamacpp_timer(llama, prompt_ids, new_tokens, threads)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in timers}
    try:
        for round_index in range(runs + 1):  # round 0 warms every path up and is not counted
            for name, timer in timers.items():
                samples[name].append(timer())
            if round_index:
                progress(
                    f"  round {round_index}/{runs}: " + ", ".join(f"{n} {s[-1][0]:.1f}" for n, s in samples.items())
                )
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


def _service_once(service: GenerationService, params: GenerationParams) -> tuple[float, float]:
    result = service.generate(SPEED_PROMPT, params)
    return result.tokens / (result.latency_ms / 1000), result.first_token_ms


def _llamacpp_timer(
    llama: LoadedModel, prompt_ids: list[int], new_tokens: int, threads: int
) -> Callable[[], tuple[float, float]]:
    """llama.cpp as its Python binding runs it: Llama.generate, greedy, on the same GGUF, prompt ids and threads."""
    from llama_cpp import Llama

    assert isinstance(llama.runtime, LlamaCppRuntime)
    direct = Llama(
        model_path=str(llama.runtime.path), n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False
    )

    def once() -> tuple[float, float]:
        direct.reset()  # no prompt reuse from the previous round: prefill is timed, as on our paths
        started = time.perf_counter()
        first = float("nan")
        for count, _token in enumerate(direct.generate(prompt_ids, temp=0.0), start=1):
            if count == 1:
                first = (time.perf_counter() - started) * 1000
            if count == new_tokens:
                break
        return new_tokens / (time.perf_counter() - started), first

    return once


@torch.inference_mode()
def _generate_once(model: Any, prompt_ids: list[int], options: dict[str, int]) -> tuple[float, float]:
    ids = torch.tensor([prompt_ids])
    started = time.perf_counter()
    out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, **options)
    elapsed = time.perf_counter() - started
    return (out.shape[1] - ids.shape[1]) / elapsed, float("nan")


NextTokens = Callable[[list[int]], list[int]]


@torch.inference_mode()
def greedy_agreement(
    fp32: LoadedModel, candidate: NextTokens, prompts: Sequence[str] = AGREEMENT_PROMPTS
) -> tuple[float, int]:
    """Share of positions of fp32's greedy continuations where `candidate` predicts the same next token."""
    agreeing = total = 0
    for prompt in prompts:
        prompt_ids = _chat_ids(fp32, prompt)
        continuation = greedy_tokens(fp32.model, prompt_ids, AGREEMENT_TOKENS)
        sequence = prompt_ids + continuation
        scored = slice(len(prompt_ids) - 1, len(sequence) - 1)  # positions that predict the continuation
        expected = torch_next_tokens(fp32)(sequence)[scored]
        got = candidate(sequence)[scored]
        agreeing += sum(a == b for a, b in zip(expected, got, strict=True))
        total += len(continuation)
    return round(agreeing / total, 4), total


def torch_next_tokens(loaded: LoadedModel) -> NextTokens:
    """Greedy next token at every position of a sequence, by one forward pass of the torch model."""

    @torch.inference_mode()
    def next_tokens(sequence: list[int]) -> list[int]:
        logits: torch.Tensor = loaded.model(torch.tensor([sequence])).logits  # (1, seq, vocab)
        return [int(token) for token in logits[0].argmax(-1)]

    return next_tokens


def llamacpp_next_tokens(llama: LoadedModel) -> NextTokens:
    assert isinstance(llama.runtime, LlamaCppRuntime)
    return llama.runtime.greedy_next_tokens

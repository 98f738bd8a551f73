"""`qcl bench openai`: time to first token and tokens/s through /v1/chat/completions vs the generation service.

    qcl bench openai --json                                   # the default model, 4 prompts x 5 runs, 64 tokens
    qcl bench openai --model tiny-random-llama --runs 1 --tokens 16 --json

Method (fixed so runs compare): one generation service, loaded once, serves both paths in the same run. The
endpoint path is the official `openai` client streaming a chat completion from the API on a real server on
loopback (keys, rate limit, validation, SSE and all), in this process; the direct path is the service's
open_stream(). Each prompt is sampled (temperature 0.7, top_p 0.95) with the same seed on both paths, so both
produce the same tokens (and nothing comes from the greedy result cache). Per run: ttft = submission to the first
text delta; tokens/s = completion tokens / (submission to the last delta). One warm-up run per path is excluded;
the two paths take turns going first, so drift on a shared machine hits both alike. Medians are reported, and
ratios where 1.0 means no overhead: tokens_per_s endpoint/direct and ttft direct/endpoint (the issue asks >= 0.9),
each the median over pairs (the same prompt and seed on both paths, back to back), which cancels most of the drift
of a shared machine; ttft_overhead_ms_p50 is the median of the pairs' differences.
"""

from __future__ import annotations

import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qcl.config import Settings
from qcl.errors import QclError
from qcl.model.registry import DEFAULT_MODEL

PROMPTS = (
    "Summarise the state of the Qubic network: tick 17,500,000, epoch 160, 12 % empty ticks in the last hour.",
    "Explain in two sentences why empty ticks matter to a blockchain.",
    "The price fell 3.2 % today. Describe the trend for a newcomer.",
    "Write a short status update for node operators after an epoch change.",
)
TEMPERATURE, TOP_P = 0.7, 0.95
TARGET_RATIO = 0.9

Progress = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_openai_bench(
    settings: Settings,
    *,
    model_id: str = DEFAULT_MODEL,
    new_tokens: int = 64,
    runs: int = 5,
    progress: Progress = _stderr,
) -> dict[str, Any]:
    try:
        from openai import OpenAI
    except ImportError:
        raise QclError("qcl bench openai needs the official client: pip install openai (the dev extra)") from None
    from qcl.api import build_services, create_app
    from qcl.api.schemas import Role
    from qcl.api.server import ApiServer
    from qcl.bus.memory import MemoryBus
    from qcl.model.loading import load_model
    from qcl.model.service import GenerationParams, GenerationService
    from qcl.store.memory import MemoryStore

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access-log line per request among the progress
    progress(f"loading {model_id}")
    loaded = load_model(model_id, settings, progress=lambda phase, *_: progress(f"  {phase}"))
    with (
        tempfile.TemporaryDirectory(prefix="qcl-bench-openai-") as scratch,
        GenerationService(loaded, threads=settings.model_threads) as service,
    ):
        api_settings = settings.model_copy(
            update={"state_dir": Path(scratch), "rate_limit_key_burst": 10_000, "rate_limit_ip_burst": 10_000}
        )
        services = build_services(api_settings, store=MemoryStore(), bus=MemoryBus(), generation=service)
        _, key = services.keys.create(Role.OPERATOR, "bench openai", created_by="qcl bench openai")
        server = ApiServer(create_app(services, start_stream=False), "127.0.0.1", 0, grace_s=2)
        server.start()
        client = OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=600)
        try:

            def direct(prompt: str, seed: int) -> tuple[float, float, int]:
                params = GenerationParams(max_new_tokens=new_tokens, temperature=TEMPERATURE, top_p=TOP_P, seed=seed)
                started = time.perf_counter()
                stream = service.open_stream([{"role": "user", "content": prompt}], params)
                first = last = None
                for _ in stream:
                    last = time.perf_counter()
                    first = first or last
                return _figures(started, first, last, stream.result().tokens)

            def endpoint(prompt: str, seed: int) -> tuple[float, float, int]:
                started = time.perf_counter()
                chunks = client.chat.completions.create(
                    model=loaded.spec.id,
                    messages=[{"role": "user", "content": prompt}],
                    max_tokens=new_tokens,
                    temperature=TEMPERATURE,
                    top_p=TOP_P,
                    seed=seed,
                    stream=True,
                    stream_options={"include_usage": True},
                )
                first = last = None
                tokens = 0
                for chunk in chunks:
                    if chunk.choices and chunk.choices[0].delta.content:
                        last = time.perf_counter()
                        first = first or last
                    if chunk.usage is not None:
                        tokens = chunk.usage.completion_tokens
                return _figures(started, first, last, tokens)

            progress("warm-up (excluded)")
            direct(PROMPTS[0], 0)
            endpoint(PROMPTS[0], 0)
            measured: dict[str, list[tuple[float, float, int]]] = {"direct": [], "endpoint": []}
            total = runs * len(PROMPTS)
            for run in range(runs):
                for index, prompt in enumerate(PROMPTS):
                    seed = 1000 * run + index + 1
                    order = [("direct", direct), ("endpoint", endpoint)]
                    for path, call in order if (run + index) % 2 == 0 else order[::-1]:
                        measured[path].append(call(prompt, seed))
                    d, e = measured["direct"][-1], measured["endpoint"][-1]
                    done = run * len(PROMPTS) + index + 1
                    progress(
                        f"{done}/{total}: direct ttft {d[0]:.0f} ms {d[1]:.1f} tok/s | "
                        f"endpoint ttft {e[0]:.0f} ms {e[1]:.1f} tok/s ({e[2]} tokens)"
                    )
        finally:
            client.close()
            server.stop()
        threads = service.threads

    summary = {path: _summary(rows) for path, rows in measured.items()}
    pairs = list(zip(measured["direct"], measured["endpoint"], strict=True))
    tokens_ratio = statistics.median(e[1] / d[1] for d, e in pairs)
    ttft_ratio = statistics.median(d[0] / e[0] for d, e in pairs)
    overhead_ms = statistics.median(e[0] - d[0] for d, e in pairs)
    same_tokens = [d[2] for d in measured["direct"]] == [e[2] for e in measured["endpoint"]]
    return {
        "suite": "openai",
        "model": loaded.spec.id,
        "quantization": loaded.quantization,
        "machine": {"cpus": os.cpu_count(), "threads": threads, "platform": platform.platform(), "gpu": None},
        "prompts": len(PROMPTS),
        "runs": runs,
        "max_tokens": new_tokens,
        "direct": summary["direct"],
        "endpoint": summary["endpoint"],
        "same_tokens_both_paths": same_tokens,
        "tokens_per_s_ratio": round(tokens_ratio, 3),
        "ttft_ratio": round(ttft_ratio, 3),
        "ttft_overhead_ms_p50": round(overhead_ms, 1),
        "target_ratio": TARGET_RATIO,
        "meets_target": tokens_ratio >= TARGET_RATIO and ttft_ratio >= TARGET_RATIO,
    }


def _figures(started: float, first: float | None, last: float | None, tokens: int) -> tuple[float, float, int]:
    """(ttft ms, tokens/s, tokens) of one run; a run that produced no text has no figures."""
    if first is None or last is None or tokens == 0:
        raise QclError("a benchmark run produced no text; try more --tokens")
    return (first - started) * 1000, tokens / (last - started), tokens


def _summary(rows: list[tuple[float, float, int]]) -> dict[str, Any]:
    return {
        "ttft_ms_p50": round(statistics.median(r[0] for r in rows), 1),
        "ttft_ms_max": round(max(r[0] for r in rows), 1),
        "tokens_per_s_p50": round(statistics.median(r[1] for r in rows), 2),
        "tokens": sum(r[2] for r in rows),
    }

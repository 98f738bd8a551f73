"""The generation service: the one place that runs a model.

    from qcl.model.service import GenerationParams, load_service
    service = load_service(settings)                       # QCL_MODEL, QCL_QUANTIZATION, QCL_MODEL_* settings
    result = service.generate([{"role": "user", "content": "Hello"}], GenerationParams(max_new_tokens=32))
    for delta in service.stream("Hello", GenerationParams()):   # a str is one user message
        print(delta, end="")
    stream = service.open_stream(RawPrompt("Once upon a time"), params)  # a raw prompt: no chat template
    for delta in stream: ...                                    # stream.result() after; stream.close() cancels

One worker thread owns the model. Requests wait in a bounded line ordered by priority class (`params.priority`:
interactive > standard > batch > background), then arrival; when it is full the caller gets ModelBusyError with a
retry-after estimate instead of an ever-growing backlog. The worker takes the most urgent waiting request plus the
requests of the same class that arrive within the batch window (up to max_batch), left-pads them into one batch and
decodes them together; each row keeps its own parameters, stops on its own and is answered as soon as it finishes.
Preemption: between two decode steps the runner looks for waiting requests of a more urgent class than its batch;
it runs them as a batch of their own to the end, then resumes its paused batch (whose KV cache waits in memory),
so an interactive question never waits for a background narration to finish. A caller stops its request with
`params.cancel` (a threading.Event): finish_reason "cancelled" at the next step, with the text so far. Greedy
results are cached by (model, revision, quantization, prompt, parameters).

Deadlines (`deadline_s`, counted from submission): when the deadline passes during generation the result carries
the text so far with finish_reason "deadline"; when it passes before the request left the queue, so no token was
produced, generate() raises GenerationDeadlineError (an empty "answer" would look like one).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import torch

from qcl.config import Settings, cpu_threads
from qcl.model.batch import BatchRunner, Request
from qcl.model.errors import (
    ContextLengthError,
    InvalidGenerationRequestError,
    ModelBusyError,
    ModelUnavailableError,
)
from qcl.model.loading import LoadedModel, load_model
from qcl.model.params import PRIORITIES, FinishReason, GenerationParams, GenerationResult, RawPrompt
from qcl.model.text import prompt_opens_thinking
from qcl.model.waiting import WaitingLine

__all__ = [
    "FinishReason",
    "GenerationParams",
    "GenerationResult",
    "GenerationService",
    "GenerationStream",
    "RawPrompt",
    "load_service",
]

log = logging.getLogger(__name__)


Messages = Sequence[Mapping[str, str]] | str  # a plain str is one user message; a RawPrompt is sent as is
ROLES = ("system", "user", "assistant")
# Before the first batch has been timed, a retry-after guess of this many seconds per queued request.
INITIAL_SECONDS_PER_REQUEST = 5.0
DEFAULT_PARAMS = GenerationParams()


class ResultCache:
    """A bounded LRU of finished greedy results; thread-safe."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, GenerationResult] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> GenerationResult | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: str, result: GenerationResult) -> None:
        if self.capacity == 0:
            return
        with self._lock:
            self._entries[key] = result
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)


class GenerationStream:
    """One streamed generation: iterate it for text deltas, then `result()`; `close()` cancels what is unfinished."""

    def __init__(self, request: Request | None, cached: GenerationResult | None = None) -> None:
        self._request = request
        self._cached = cached

    def __iter__(self) -> Iterator[str]:
        if self._request is None:
            assert self._cached is not None
            if self._cached.text:
                yield self._cached.text
            return
        yield from _drain(self._request)

    def result(self) -> GenerationResult:
        """The finished result (blocks until there is one); raises the request's error if it failed."""
        if self._request is None:
            assert self._cached is not None
            return self._cached
        return self._request.future.result()

    def close(self) -> None:
        """Cancel the generation if it is still running or queued (the reader went away); idempotent."""
        if self._request is not None and not self._request.future.done():
            self._request.cancel()


class GenerationService:
    def __init__(
        self,
        loaded: LoadedModel,
        *,
        queue_size: int = 16,
        max_batch: int = 4,
        batch_window_ms: float = 5.0,
        result_cache: int = 256,
        threads: int = 0,
    ) -> None:
        self.loaded = loaded
        self.model_id = loaded.spec.id
        self.threads = cpu_threads(threads)
        torch.set_num_threads(self.threads)  # process-wide: the service is the one place that runs a model
        self.queue_size = queue_size
        self.max_batch = max_batch
        self.batch_window_s = batch_window_ms / 1000
        self._queue = WaitingLine(queue_size)
        self._cache = ResultCache(result_cache)
        self._model_lock = threading.Lock()  # one forward pass at a time: batch steps and health checks
        # A fast tokenizer's Rust backend is not safe to call from two threads at once ("Already borrowed").
        self._tokenizer_lock = threading.Lock()
        self._runner = BatchRunner(
            loaded, self._model_lock, self._tokenizer_lock, on_result=self._remember, urgent=self._more_urgent
        )
        self._busy = threading.Event()
        self._stopping = threading.Event()
        self._seconds_per_request = INITIAL_SECONDS_PER_REQUEST
        self.requests_served = 0
        self.batches_run = 0
        self.largest_batch = 0
        self._worker = threading.Thread(target=self._work, name=f"qcl-model-{self.model_id}", daemon=True)
        self._worker.start()

    # --- public API -------------------------------------------------------------------------------------------

    def generate(self, messages: Messages, params: GenerationParams = DEFAULT_PARAMS) -> GenerationResult:
        """Generate a reply to chat `messages` (a str is one user message); blocks until the result is ready."""
        submitted = self._submit(messages, params, streaming=False)
        if isinstance(submitted, GenerationResult):
            return submitted
        return submitted.future.result()

    def stream(self, messages: Messages, params: GenerationParams = DEFAULT_PARAMS) -> Iterator[str]:
        """Text deltas of the reply as they are decoded; joined, they equal generate()'s `text`.

        Submits at once (so a full queue raises ModelBusyError here, not on the first next()).
        """
        return iter(self.open_stream(messages, params))

    def open_stream(self, messages: Messages, params: GenerationParams = DEFAULT_PARAMS) -> GenerationStream:
        """stream(), with the result (usage, finish reason) after the deltas and cancellation by close()."""
        submitted = self._submit(messages, params, streaming=True)
        if isinstance(submitted, GenerationResult):
            return GenerationStream(None, submitted)
        return GenerationStream(submitted)

    def health_check(self) -> bool:
        """True when the worker is alive and a one-token forward pass gives finite logits ("can serve")."""
        if not self._worker.is_alive():
            return False
        token = self.loaded.tokenizer.eos_token_id or 0
        try:
            with self._model_lock:
                decoding = self._runner.runtime.start()
                try:
                    logits = decoding.prefill([[token]])
                finally:
                    decoding.close()
            return bool(torch.isfinite(logits).all())
        except Exception:  # a health check reports failure, it does not raise
            log.exception("health check of %s failed", self.model_id)
            return False

    def status(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "revision": self.loaded.revision,
            "weights_sha256": self.loaded.weights_sha256,
            "quantization": self.loaded.quantization,
            "runtime": self._runner.runtime.name,
            "loaded": self._worker.is_alive(),
            "load_s": round(self.loaded.load_s, 2),
            "queue_depth": self._queue.qsize(),
            "queue_by_priority": {PRIORITIES[rank]: n for rank, n in sorted(self._queue.counts().items())},
            "preemptions": self._runner.preemptions,
            "queue_size": self.queue_size,
            "busy": self._busy.is_set(),
            "threads": self.threads,
            "max_batch": self.max_batch,
            "cache_hits": self._cache.hits,
            "cache_misses": self._cache.misses,
            "requests_served": self.requests_served,
            "requests_cancelled": self._runner.cancelled,
            "batches_run": self.batches_run,
            "largest_batch": self.largest_batch,
        }

    def close(self) -> None:
        """Stop the worker; requests still queued fail with ModelUnavailableError."""
        self._stopping.set()
        self._worker.join(timeout=60)
        while True:
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                break
            request.fail(ModelUnavailableError(self.model_id, "the generation service stopped"))

    def __enter__(self) -> GenerationService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- submission ---------------------------------------------------------------------------------------------

    def _submit(self, messages: Messages, params: GenerationParams, *, streaming: bool) -> Request | GenerationResult:
        if not isinstance(params, GenerationParams):
            raise InvalidGenerationRequestError(f"params: expected GenerationParams, got {type(params).__name__}")
        if self._stopping.is_set():
            raise ModelUnavailableError(self.model_id, "the generation service stopped")
        submitted_at = time.monotonic()
        prompt_text, prompt_ids = self._encode(messages, params)
        raw = isinstance(messages, RawPrompt)
        key = self._cache_key(prompt_text, params, raw=raw) if params.greedy and self._cache.capacity else None
        if key is not None and (hit := self._cache.get(key)) is not None:
            return replace(hit, cached=True, latency_ms=(time.monotonic() - submitted_at) * 1000, first_token_ms=0.0)
        request = Request(
            prompt_ids=prompt_ids,
            params=params,
            submitted_at=submitted_at,
            opens_thinking=prompt_opens_thinking(prompt_text),
            cache_key=key,
            deltas=queue.SimpleQueue() if streaming else None,
        )
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            raise ModelBusyError(self._retry_after_s(), self.queue_size) from None
        return request

    def _encode(self, messages: Messages, params: GenerationParams) -> tuple[str, list[int]]:
        if isinstance(messages, RawPrompt):
            if not messages.strip():
                raise InvalidGenerationRequestError("prompt is empty")
            with self._tokenizer_lock:
                raw_ids = self.loaded.tokenizer.encode(str(messages))  # the tokenizer's own BOS convention
            self._check_context(len(raw_ids), params)
            return str(messages), list(raw_ids)
        chat = [{"role": "user", "content": messages}] if isinstance(messages, str) else list(messages)
        if not chat:
            raise InvalidGenerationRequestError("messages: expected at least one message, got none")
        for index, message in enumerate(chat):
            if not isinstance(message, Mapping) or message.get("role") not in ROLES:
                role = message.get("role") if isinstance(message, Mapping) else message
                raise InvalidGenerationRequestError(
                    f"messages[{index}].role: expected one of {', '.join(ROLES)}, got {role!r}"
                )
            if not isinstance(message.get("content"), str):
                raise InvalidGenerationRequestError(f"messages[{index}].content: expected a string")
        if not any(message["content"].strip() for message in chat):
            raise InvalidGenerationRequestError("prompt is empty: every message's content is blank")
        tokenizer = self.loaded.tokenizer
        with self._tokenizer_lock:
            text = tokenizer.apply_chat_template([dict(m) for m in chat], add_generation_prompt=True, tokenize=False)
            ids = tokenizer.encode(text, add_special_tokens=False)
        self._check_context(len(ids), params)
        return str(text), list(ids)

    def _check_context(self, prompt_tokens: int, params: GenerationParams) -> None:
        limit = self.loaded.spec.context_length
        if prompt_tokens + params.max_new_tokens > limit:
            raise ContextLengthError(self.model_id, prompt_tokens, params.max_new_tokens, limit)

    def _cache_key(self, prompt_text: str, params: GenerationParams, *, raw: bool = False) -> str:
        fields = [self.model_id, self.loaded.revision, self.loaded.quantization, prompt_text, params.cache_fields()]
        fields += ["raw"] if raw else []  # a raw prompt is tokenized differently from the same templated text
        return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode()).hexdigest()

    def _retry_after_s(self) -> float:
        """Seconds until the queue has room again, estimated from recent per-request times; at least 1."""
        waiting = self._queue.qsize() + 1
        return float(max(1, math.ceil(waiting * self._seconds_per_request / self.max_batch)))

    def _remember(self, request: Request, result: GenerationResult) -> None:
        if request.cache_key is not None and result.finish_reason not in ("deadline", "cancelled"):
            self._cache.put(request.cache_key, result)

    # --- the worker -----------------------------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                first = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            batch = self._gather(first)
            self._busy.set()
            self.batches_run += 1  # counted before the batch runs: its callers may read status() once answered
            self.largest_batch = max(self.largest_batch, len(batch))
            started = time.monotonic()
            try:
                self._runner.run(batch)
            except Exception as exc:  # the worker survives a failed batch; its requests get the error
                log.exception("generation batch of %d failed on %s", len(batch), self.model_id)
                for request in batch:
                    request.fail(exc)
            finally:
                self._busy.clear()
            per_request = (time.monotonic() - started) / len(batch)
            self._seconds_per_request = 0.7 * self._seconds_per_request + 0.3 * per_request
            self.requests_served += len(batch)

    def _gather(self, first: Request) -> list[Request]:
        """`first` plus the requests of its class that arrive within the batch window, up to max_batch (a batch is
        of one class, so that a class that preempts it never shares its steps)."""
        batch = [first]
        rank = first.params.rank
        closes_at = time.monotonic() + self.batch_window_s
        while len(batch) < self.max_batch:
            remaining = closes_at - time.monotonic()
            try:
                batch.append(self._queue.get(max(0.0, remaining), rank=rank))
            except queue.Empty:
                break
        return batch

    def _more_urgent(self, rank: int) -> list[Request]:
        """Waiting requests that preempt a running batch of class `rank` (the runner asks between decode steps)."""
        return self._queue.take_before(rank, self.max_batch)


def _drain(request: Request) -> Iterator[str]:
    assert request.deltas is not None
    while (delta := request.deltas.get()) is not None:
        yield delta
    request.future.result()  # re-raises the request's error, if it failed


def load_service(settings: Settings) -> GenerationService:
    """The service for QCL_MODEL with the QCL_MODEL_* settings; ModelUnavailableError says why it cannot start."""
    if settings.model_runtime == "llama.cpp":
        from qcl.model.llamacpp import load_llamacpp

        loaded = load_llamacpp(settings.model, settings)
    else:
        loaded = load_model(settings.model, settings)
    return GenerationService(
        loaded,
        queue_size=settings.model_queue_size,
        max_batch=settings.model_max_batch,
        batch_window_ms=settings.model_batch_window_ms,
        result_cache=settings.model_result_cache,
        threads=settings.model_threads,
    )

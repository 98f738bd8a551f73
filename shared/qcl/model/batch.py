"""One batch of generation requests, decoded together on the model's runtime (the service's worker runs it).

    runner = BatchRunner(loaded, model_lock, tokenizer_lock, on_result=lambda request, result: None)
    runner.run([request, ...])        # every request's future is resolved when it returns

Prompts are left-padded into one (batch, seq) tensor so every row's next token sits in the last column. Each row
samples with its own parameters and generator, stops on its own (end-of-sequence, a stop sequence, its token limit,
its deadline or its `params.cancel` event: finish_reason "cancelled" with the text so far) and is answered at once;
finished rows leave the batch and the KV cache. A request cancelled with `request.cancel()` (e.g. a streaming client
that went away) leaves at its next token, failed with GenerationCancelledError, or is never started when it is
cancelled while still queued. Between two decode steps the runner asks `urgent(rank)` for waiting requests of a
more urgent class than its batch's and runs those first (preemption), then resumes.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import torch

from qcl.model.errors import GenerationCancelledError, GenerationDeadlineError
from qcl.model.loading import LoadedModel
from qcl.model.params import FinishReason, GenerationParams, GenerationResult
from qcl.model.runtime import Runtime, TorchRuntime
from qcl.model.steps import sample, suppress
from qcl.model.text import cut_at_stop, split_thinking, streamable
from qcl.obs.logging import current_request

log = logging.getLogger(__name__)


@dataclass
class Request:
    prompt_ids: list[int]
    params: GenerationParams
    submitted_at: float  # time.monotonic()
    opens_thinking: bool  # the prompt ends inside an R1 <think> block
    cache_key: str | None
    deltas: queue.SimpleQueue[str | None] | None  # streaming: text deltas, then None
    future: Future[GenerationResult] = field(default_factory=Future)
    cancelled: threading.Event = field(default_factory=threading.Event)
    # The HTTP request that asked for it, read where the request is made: the batch runs on another thread, and a
    # shard pool carries it to the stage processes so their log lines name the same request.
    request_id: str | None = field(default_factory=lambda: current_request().get("request_id"))

    @property
    def deadline(self) -> float | None:
        return None if self.params.deadline_s is None else self.submitted_at + self.params.deadline_s

    def cancel(self) -> None:
        """Stop generating for this request (at its next token); a finished request is left as it is."""
        self.cancelled.set()

    def resolve(self, result: GenerationResult) -> None:
        self.future.set_result(result)
        if self.deltas is not None:
            self.deltas.put(None)

    def fail(self, error: BaseException) -> None:
        if self.future.done():
            return
        self.future.set_exception(error)
        if self.deltas is not None:
            self.deltas.put(None)


@dataclass
class _Row:
    request: Request
    generator: torch.Generator | None
    tokens: list[int] = field(default_factory=list)
    raw: str = ""
    streamed: str = ""
    first_token_at: float | None = None
    finish: FinishReason | None = None


def _generator(params: GenerationParams) -> torch.Generator | None:
    if params.greedy:
        return None
    seed = params.seed if params.seed is not None else random.SystemRandom().randrange(2**63)
    return torch.Generator().manual_seed(seed)


class BatchRunner:
    def __init__(
        self,
        loaded: LoadedModel,
        model_lock: threading.Lock,
        tokenizer_lock: threading.Lock,
        on_result: Callable[[Request, GenerationResult], None],
        urgent: Callable[[int], list[Request]] | None = None,
    ) -> None:
        self.loaded = loaded
        self._lock = model_lock
        self._tokenizer_lock = tokenizer_lock
        self._on_result = on_result
        self._urgent = urgent
        self.preemptions = 0  # times a running batch paused for more urgent requests
        tokenizer = loaded.tokenizer
        configured = loaded.model.generation_config.eos_token_id
        eos = {tokenizer.eos_token_id, *(configured if isinstance(configured, list) else [configured])}
        self.eos_ids = sorted(token for token in eos if token is not None)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_ids[0]
        self.runtime: Runtime = loaded.runtime or TorchRuntime(loaded.model, self.pad_id)
        self.cancelled = 0  # requests stopped by cancel()

    def run(self, batch: list[Request]) -> None:
        now = time.monotonic()
        rows = []
        for request in batch:
            deadline = request.deadline
            if request.cancelled.is_set():
                self._cancel(request)
            elif deadline is not None and now >= deadline:
                waited = now - request.submitted_at
                request.fail(
                    GenerationDeadlineError(
                        f"deadline of {request.params.deadline_s} s passed after {waited:.2f} s in the queue, "
                        "before generation started"
                    )
                )
            elif request.params.cancelled:
                self._finish(_Row(request, None), "cancelled", now)
            else:
                rows.append(_Row(request, _generator(request.params)))
        if rows:
            self._decode(rows)

    def _decode(self, rows: list[_Row]) -> None:
        decoding = self.runtime.start()
        try:
            with self._lock:
                logits = decoding.prefill([row.request.prompt_ids for row in rows])  # (batch, vocab)
            while True:
                for index, row in enumerate(rows):
                    self._accept(row, logits[index : index + 1])
                keep = [index for index, row in enumerate(rows) if row.finish is None]
                if not keep:
                    return
                if len(keep) < len(rows):
                    with self._lock:
                        decoding.keep(keep)
                    rows = [rows[index] for index in keep]
                self._yield_to_urgent(min(row.request.params.rank for row in rows))
                with self._lock:
                    logits = decoding.step([row.tokens[-1] for row in rows])
        finally:
            with self._lock:
                decoding.close()

    def _yield_to_urgent(self, rank: int) -> None:
        """Run waiting requests more urgent than class `rank` to the end, while this batch is paused."""
        if self._urgent is None:
            return
        while urgent := self._urgent(rank):
            self.preemptions += 1
            self.run(urgent)

    def _accept(self, row: _Row, logits: torch.Tensor) -> None:
        """Sample the row's next token from its logits (1, vocab), then take it."""
        params = row.request.params
        if params.ban_eos:
            logits = suppress(logits, self.eos_ids)
        self._take(row, int(sample(logits, params, row.generator)[0]))

    def _take(self, row: _Row, token: int) -> None:
        """Finish the row on `token` or stream its new text (the shard pool's runner calls this with its tokens)."""
        params = row.request.params
        now = time.monotonic()
        if row.request.cancelled.is_set():
            row.finish = "cancelled"
            self._cancel(row.request)
            return
        if row.first_token_at is None:
            row.first_token_at = now
        if token in self.eos_ids:
            self._finish(row, "eos", now)
            return
        row.tokens.append(token)
        with self._tokenizer_lock:
            decoded = str(self.loaded.tokenizer.decode(row.tokens, skip_special_tokens=True))
        row.raw, stopped = cut_at_stop(decoded, params.stop)
        deadline = row.request.deadline
        if stopped:
            self._finish(row, "stop", now)
        elif len(row.tokens) >= params.max_new_tokens:
            self._finish(row, "length", now)
        elif deadline is not None and now >= deadline:
            self._finish(row, "deadline", now)
        elif params.cancelled:
            self._finish(row, "cancelled", now)
        else:
            visible = split_thinking(row.raw, opened=row.request.opens_thinking)[1]
            self._emit(row, streamable(visible, params.stop))

    def _cancel(self, request: Request) -> None:
        self.cancelled += 1
        request.fail(GenerationCancelledError("the request was cancelled; generation stopped"))

    def _emit(self, row: _Row, visible: str) -> None:
        # Only extensions of what was already sent can be streamed; the final result stays authoritative.
        if row.request.deltas is not None and len(visible) > len(row.streamed) and visible.startswith(row.streamed):
            row.request.deltas.put(visible[len(row.streamed) :])
            row.streamed = visible

    def _finish(self, row: _Row, reason: FinishReason, now: float) -> None:
        row.finish = reason
        request = row.request
        thinking, text = split_thinking(row.raw, opened=request.opens_thinking)
        if thinking:
            log.info("%s thinking (%d chars): %s", self.loaded.spec.id, len(thinking), thinking)
        self._emit(row, text)
        first_token_at = row.first_token_at or now
        result = GenerationResult(
            text=text,
            raw_text=row.raw,
            thinking=thinking,
            tokens=len(row.tokens),
            finish_reason=reason,
            model=self.loaded.spec.id,
            latency_ms=(now - request.submitted_at) * 1000,
            first_token_ms=(first_token_at - request.submitted_at) * 1000,
            cached=False,
            prompt_tokens=len(request.prompt_ids),
        )
        self._on_result(request, result)
        request.resolve(result)

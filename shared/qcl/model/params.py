"""Request and result types of the generation service, validated at construction.

GenerationParams(max_new_tokens=64, stop=("\\n\\n",), deadline_s=5)   # greedy (temperature 0)
GenerationParams(temperature=0.7, top_p=0.9, seed=7)                 # sampling, reproducible with a seed
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from qcl.model.errors import InvalidGenerationRequestError

# Bounds of the parameters; a request outside them gets a field-level error, not a silent clamp.
MAX_NEW_TOKENS_LIMIT = 4096
MAX_TEMPERATURE = 5.0
MAX_STOP_SEQUENCES = 8
MAX_STOP_CHARS = 64

FinishReason = Literal["stop", "length", "eos", "deadline", "cancelled"]
# Priority classes, most urgent first: the service's queue serves a class before any later one, and a waiting
# request of an earlier class preempts a running batch of a later one between two decode steps.
Priority = Literal["interactive", "standard", "batch", "background"]
PRIORITIES: tuple[Priority, ...] = ("interactive", "standard", "batch", "background")


class RawPrompt(str):
    """A prompt the model continues as it is, without the chat template (OpenAI's /v1/completions)."""


@dataclass(frozen=True)
class GenerationParams:
    max_new_tokens: int = 128
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    top_k: int = 0  # 0 = no top-k cut
    stop: tuple[str, ...] = ()
    seed: int | None = None  # sampling only; None draws a fresh seed
    # Seconds from submission (queue wait included) after which generation stops with finish_reason "deadline".
    deadline_s: float | None = None
    ban_eos: bool = False  # never end on end-of-sequence (benchmarks: a fixed number of tokens)
    priority: Priority = "standard"  # interactive questions before background narration (PRIORITIES)
    # Set by the caller to stop the request: queued, it never runs; running, it ends at the next decode step with
    # finish_reason "cancelled" and the text so far. Not part of the result cache key, nor of equality.
    cancel: threading.Event | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stop", tuple(self.stop))  # a list is accepted and frozen
        problems = _problems(self)
        if problems:
            raise InvalidGenerationRequestError("invalid generation parameters: " + "; ".join(problems))

    @property
    def rank(self) -> int:
        """The priority class as a number, 0 = interactive (most urgent)."""
        return PRIORITIES.index(self.priority)

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def cache_fields(self) -> dict[str, Any]:
        """The parameters that decide a greedy result (the deadline does not; results cut by it are not cached)."""
        return {"max_new_tokens": self.max_new_tokens, "stop": list(self.stop), "ban_eos": self.ban_eos}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _problems(params: GenerationParams) -> list[str]:
    found = []
    if not _is_int(params.max_new_tokens) or not 1 <= params.max_new_tokens <= MAX_NEW_TOKENS_LIMIT:
        found.append(f"max_new_tokens: expected an integer in 1..{MAX_NEW_TOKENS_LIMIT}, got {params.max_new_tokens!r}")
    if not _is_number(params.temperature) or not 0 <= params.temperature <= MAX_TEMPERATURE:
        found.append(f"temperature: expected a number in 0..{MAX_TEMPERATURE}, got {params.temperature!r}")
    if not _is_number(params.top_p) or not 0 < params.top_p <= 1:
        found.append(f"top_p: expected a number in (0, 1], got {params.top_p!r}")
    if not _is_int(params.top_k) or params.top_k < 0:
        found.append(f"top_k: expected an integer >= 0, got {params.top_k!r}")
    if len(params.stop) > MAX_STOP_SEQUENCES:
        found.append(f"stop: expected at most {MAX_STOP_SEQUENCES} sequences, got {len(params.stop)}")
    for stop in params.stop:
        if not isinstance(stop, str) or not 1 <= len(stop) <= MAX_STOP_CHARS:
            found.append(f"stop: expected non-empty strings of at most {MAX_STOP_CHARS} characters, got {stop!r}")
    if params.seed is not None and (not _is_int(params.seed) or params.seed < 0):
        found.append(f"seed: expected an integer >= 0 or None, got {params.seed!r}")
    if params.deadline_s is not None and (not _is_number(params.deadline_s) or params.deadline_s <= 0):
        found.append(f"deadline_s: expected a positive number of seconds or None, got {params.deadline_s!r}")
    if params.priority not in PRIORITIES:
        found.append(f"priority: expected one of {', '.join(PRIORITIES)}, got {params.priority!r}")
    if params.cancel is not None and not isinstance(params.cancel, threading.Event):
        found.append(f"cancel: expected a threading.Event or None, got {type(params.cancel).__name__}")
    return found


@dataclass(frozen=True)
class GenerationResult:
    text: str  # user-facing: an R1 <think>…</think> block stripped
    raw_text: str  # everything the model wrote (up to a stop sequence)
    thinking: str | None  # the think block's content, for logs; None when the model wrote none
    tokens: int  # generated tokens (end-of-sequence not counted)
    finish_reason: FinishReason
    model: str
    latency_ms: float  # submission to result, queue wait included
    first_token_ms: float  # submission to the first generated token
    cached: bool  # served from the result cache
    prompt_tokens: int = 0

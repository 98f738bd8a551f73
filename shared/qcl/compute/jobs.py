"""Jobs: what a client submits (`JobRequest`, one prompt or many), and the job record the queue keeps (`Job`).

    request = JobRequest.model_validate({"kind": "completion", "prompts": ["Hi", "Hello"], "max_tokens": 32})
    jobs = request.jobs(key_id="3f9c0a12", now=time.time())      # one Job per prompt, state "queued"

A job moves queued -> running -> done | failed | cancelled | dead (qcl.compute.policy.apply); "dead" is the
dead letter: every attempt failed for a reason worth retrying (a busy model, a lost worker), and the last reason
is kept. Times are unix seconds.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from qcl.model.params import PRIORITIES, Priority

JobKind = Literal["completion", "chat"]
JobState = Literal["queued", "running", "done", "failed", "cancelled", "dead"]
JOB_STATES: tuple[JobState, ...] = ("queued", "running", "done", "failed", "cancelled", "dead")
FINAL_STATES: frozenset[JobState] = frozenset({"done", "failed", "cancelled", "dead"})

# Limits of one submission; past them 422 names the field (the body as a whole: QCL_MAX_REQUEST_BYTES, 413).
MAX_PROMPTS = 1000
MAX_PROMPT_CHARS = 8000
MAX_MESSAGES = 64
MAX_JOB_TOKENS = 1024
MAX_DEADLINE_S = 86_400.0
MAX_ATTEMPTS = 10


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChatMessage(_Strict):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=MAX_PROMPT_CHARS)


Conversation = list[ChatMessage]


class JobRequest(_Strict):
    """One job (`prompt` or `messages`) or a batch (`prompts` or `conversations`), with shared options."""

    kind: JobKind
    prompt: str | None = Field(default=None, min_length=1, max_length=MAX_PROMPT_CHARS)
    prompts: list[str] | None = Field(default=None, min_length=1, max_length=MAX_PROMPTS)
    messages: Conversation | None = Field(default=None, min_length=1, max_length=MAX_MESSAGES)
    conversations: list[Conversation] | None = Field(default=None, min_length=1, max_length=MAX_PROMPTS)
    max_tokens: int = Field(default=64, ge=1, le=MAX_JOB_TOKENS)
    temperature: float = Field(default=0.0, ge=0, le=2)
    stop: list[str] = Field(default_factory=list, max_length=4)
    priority: Priority = "batch"
    deadline_s: float | None = Field(default=None, gt=0, le=MAX_DEADLINE_S)  # from submission; then it fails
    max_attempts: int = Field(default=3, ge=1, le=MAX_ATTEMPTS)

    @model_validator(mode="after")
    def _one_input(self) -> JobRequest:
        wanted = ("prompt", "prompts") if self.kind == "completion" else ("messages", "conversations")
        other = ("messages", "conversations") if self.kind == "completion" else ("prompt", "prompts")
        for name in other:
            if getattr(self, name) is not None:
                raise ValueError(f"{name}: not allowed for kind {self.kind!r}; give {' or '.join(wanted)}")
        given = [name for name in wanted if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"{wanted[0]}: give exactly one of {' or '.join(wanted)} for kind {self.kind!r}")
        for index, text in enumerate(self.prompts or []):
            if not text.strip() or len(text) > MAX_PROMPT_CHARS:
                raise ValueError(f"prompts.{index}: expected 1..{MAX_PROMPT_CHARS} characters, not blank")
        return self

    def payloads(self) -> list[dict[str, Any]]:
        if self.kind == "completion":
            return [{"prompt": text} for text in ([self.prompt] if self.prompt is not None else self.prompts or [])]
        chats = [self.messages] if self.messages is not None else self.conversations or []
        return [{"messages": [m.model_dump() for m in chat]} for chat in chats]

    def jobs(self, *, key_id: str, now: float) -> list[Job]:
        batch_id = uuid.uuid4().hex if self.prompts is not None or self.conversations is not None else None
        return [
            Job(
                id=job_id(now, index),
                key_id=key_id,
                kind=self.kind,
                payload=payload,
                max_tokens=self.max_tokens,
                temperature=self.temperature,
                stop=list(self.stop),
                priority=self.priority,
                deadline_at=None if self.deadline_s is None else now + self.deadline_s,
                max_attempts=self.max_attempts,
                created_at=now,
                batch_id=batch_id,
            )
            for index, payload in enumerate(self.payloads())
        ]


def job_id(now: float, index: int) -> str:
    """32 hex digits that sort like (submission time, place in the batch): jobs submitted in the same instant
    leave the queue in the order they were given (sets order equal scores by member)."""
    return f"{int(now * 1000):012x}{index:05x}{uuid.uuid4().hex[:15]}"


class JobError(BaseModel):
    code: str  # deadline_exceeded, invalid_request, model_busy, worker_lost, runtime_error, cancelled
    message: str


class Job(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    key_id: str
    kind: JobKind
    payload: dict[str, Any]  # {"prompt": str} or {"messages": [{"role", "content"}, ...]}
    max_tokens: int
    temperature: float = 0.0
    stop: list[str] = Field(default_factory=list)
    priority: Priority = "batch"
    deadline_at: float | None = None
    max_attempts: int = 3
    created_at: float
    batch_id: str | None = None
    state: JobState = "queued"
    attempts: int = 0  # claims so far (a lost worker's attempt counts)
    not_before: float | None = None  # a retry waits until then
    started_at: float | None = None
    finished_at: float | None = None
    worker: str | None = None
    result: dict[str, Any] | None = None  # text, tokens, finish_reason, model, runtime, latency_ms
    error: JobError | None = None

    @property
    def rank(self) -> int:
        return PRIORITIES.index(self.priority)

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    def prompt_chars(self) -> int:
        if "prompt" in self.payload:
            return len(self.payload["prompt"])
        return sum(len(m.get("content", "")) for m in self.payload.get("messages", []))

    def messages(self) -> str | list[dict[str, str]]:
        """What the generation service takes: a str is one user message."""
        if "prompt" in self.payload:
            return str(self.payload["prompt"])
        return [dict(m) for m in self.payload["messages"]]

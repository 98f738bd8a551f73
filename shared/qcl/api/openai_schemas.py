"""OpenAI's wire format for the /v1 routes: request bodies as we validate them, answers, stream chunks, errors.

    body = ChatCompletionRequest.model_validate_json(raw)          # what routes_openai receives
    openai_error_body(422, "validation_error", "messages.0.role: ...", "messages.0.role")
    # -> (400, {"error": {"message", "type": "invalid_request_error", "param": "messages[0].role", "code", ...}})

Stream chunks are built in routes_openai, in the same shapes (`chat.completion.chunk`, `text_completion`).
Requests are strict (no "1" for a number, no unknown fields: OpenAI answers "Unrecognized request argument" too).
Parameters OpenAI defines that this server does not implement are accepted only at their neutral value (n=1,
presence_penalty=0, logprobs false, ...), and refused with a 400 naming them otherwise, never silently ignored.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from qcl.model.params import MAX_NEW_TOKENS_LIMIT, MAX_STOP_CHARS

OPENAI_PREFIX = "/v1/"  # the routes that speak OpenAI's dialect, errors included
MAX_STOP_SEQUENCES = 4  # as OpenAI allows


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class TextPart(_Request):
    type: Literal["text"]
    text: str


class ChatMessage(_Request):
    role: Literal["system", "developer", "user", "assistant"]  # developer is OpenAI's newer name for system
    content: str | list[TextPart]  # text parts are joined; other part types (images, audio) are refused
    name: str | None = Field(default=None, max_length=64)

    @field_validator("content", mode="before")
    @classmethod
    def _text_only(cls, value: Any) -> Any:
        """Say what is wrong with content as a whole, rather than once per member of the union."""
        if isinstance(value, list):
            kinds = [part.get("type") if isinstance(part, dict) else type(part).__name__ for part in value]
            if any(kind != "text" for kind in kinds):
                raise ValueError(f"only text content parts are supported, got parts of type {kinds}")
        elif not isinstance(value, str):
            raise ValueError(f"expected a string or a list of text parts, got {type(value).__name__}")
        return value

    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "\n".join(part.text for part in self.content)


class StreamOptions(_Request):
    include_usage: bool = False  # a last chunk with `usage` and no choices, before [DONE]


class _Sampling(_Request):
    """What both endpoints share. Defaults are OpenAI's: temperature 1 (sampling), top_p 1."""

    model: str = Field(min_length=1, max_length=128)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_NEW_TOKENS_LIMIT)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    n: int | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    user: str | None = Field(default=None, max_length=256)
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None

    @field_validator("n")
    @classmethod
    def _one_choice(cls, value: int | None) -> int | None:
        if value is not None and value != 1:
            raise ValueError(f"only n=1 is supported by this server, got {value}")
        return value

    @field_validator("presence_penalty", "frequency_penalty")
    @classmethod
    def _no_penalty(cls, value: float | None) -> float | None:
        if value:
            raise ValueError("penalties are not supported by this server; give 0 or leave it out")
        return value

    @field_validator("logit_bias")
    @classmethod
    def _no_bias(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value:
            raise ValueError("logit_bias is not supported by this server; leave it out")
        return value

    @field_validator("stop")
    @classmethod
    def _stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        stops = [value] if isinstance(value, str) else value or []
        if len(stops) > MAX_STOP_SEQUENCES:
            raise ValueError(f"at most {MAX_STOP_SEQUENCES} stop sequences, got {len(stops)}")
        if any(not 1 <= len(stop) <= MAX_STOP_CHARS for stop in stops):
            raise ValueError(f"each stop sequence must have 1..{MAX_STOP_CHARS} characters")
        return value

    def stops(self) -> tuple[str, ...]:
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class ChatCompletionRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1, max_length=256)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_NEW_TOKENS_LIMIT)  # OpenAI's newer name
    logprobs: bool | None = None

    @field_validator("logprobs")
    @classmethod
    def _no_logprobs(cls, value: bool | None) -> bool | None:
        if value:
            raise ValueError("logprobs are not supported by this server")
        return value

    @model_validator(mode="after")
    def _one_limit(self) -> ChatCompletionRequest:
        both = self.max_tokens is not None and self.max_completion_tokens is not None
        if both and self.max_tokens != self.max_completion_tokens:
            raise ValueError("max_tokens and max_completion_tokens differ; give one of them")
        return self

    def token_limit(self) -> int | None:
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens


class CompletionRequest(_Sampling):
    prompt: str | list[str]  # a list holds exactly one prompt
    echo: bool | None = None
    suffix: str | None = None
    best_of: int | None = None
    logprobs: int | None = None

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and len(value) != 1:
            raise ValueError(f"only one prompt per request is supported, got {len(value)}")
        return value

    @field_validator("echo", "suffix", "logprobs")
    @classmethod
    def _unsupported(cls, value: Any) -> Any:
        if value is not None and value is not False:
            raise ValueError("not supported by this server; leave it out")
        return value

    @field_validator("best_of")
    @classmethod
    def _one_candidate(cls, value: int | None) -> int | None:
        if value is not None and value != 1:
            raise ValueError(f"only best_of=1 is supported by this server, got {value}")
        return value

    def text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]

    def token_limit(self) -> int | None:
        return self.max_tokens


# -- answers ------------------------------------------------------------------------------------------------

FinishReason = Literal["stop", "length"]


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None


class ChatChoice(BaseModel):
    index: int = 0
    message: AssistantMessage
    logprobs: None = None
    finish_reason: FinishReason


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    system_fingerprint: str | None
    choices: list[ChatChoice]
    usage: Usage


class CompletionChoice(BaseModel):
    index: int = 0
    text: str
    logprobs: None = None
    finish_reason: FinishReason | None


class Completion(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    system_fingerprint: str | None
    choices: list[CompletionChoice]
    usage: Usage | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "qcl"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class OpenAIError(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None
    request_id: str  # ours: quote it when reporting a problem


class OpenAIErrorBody(BaseModel):
    error: OpenAIError


_TYPES = {401: "authentication_error", 403: "permission_error", 404: "invalid_request_error", 429: "rate_limit_error"}
_CODES = {"unauthorized": "invalid_api_key", "rate_limited": "rate_limit_exceeded", "validation_error": "invalid_value"}


# Pydantic names the member of a union in an error's location (stop.str, prompt.list[str]): not a field.
_UNION_MEMBER = re.compile(r"^(str|int|float|bool|none|list\[.*\]|dict\[.*\]|[A-Z]\w*)$")


def openai_param(field: str | None) -> str | None:
    """Our dotted field path as OpenAI writes a param: messages.0.role -> messages[0].role."""
    if not field:
        return None
    path = ".".join(part for part in field.split(".") if not _UNION_MEMBER.match(part))
    return re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", path)


def openai_error_body(
    status: int, code: str, message: str, field: str | None, request_id: str
) -> tuple[int, dict[str, Any]]:
    """(status, body) of one of our errors in OpenAI's shape; a 422 is OpenAI's 400 invalid_request_error."""
    status = 400 if status == 422 else status
    kind = "server_error" if status >= 500 else _TYPES.get(status, "invalid_request_error")
    param = openai_param(field)
    if field and message.startswith(f"{field}:"):
        message = f"{param}:{message[len(field) + 1 :]}"
    error = OpenAIError(message=message, type=kind, param=param, code=_CODES.get(code, code), request_id=request_id)
    return status, {"error": error.model_dump()}

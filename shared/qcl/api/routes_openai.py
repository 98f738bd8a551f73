"""OpenAI-compatible inference: /v1/models, /v1/chat/completions, /v1/completions, streamed as OpenAI streams.

    from openai import OpenAI
    client = OpenAI(base_url="http://127.0.0.1:8080/v1", api_key=OPERATOR_KEY)   # a `qcl keys create` key
    for chunk in client.chat.completions.create(model="smollm2-135m-instruct", stream=True,
                                                messages=[{"role": "user", "content": "Hello"}]):
        print(chunk.choices[0].delta.content or "", end="")

Backed by the API's model runtime (the generation service, or the shard pool's ShardedModel under `qcl up
--shards N`: the same interface); without one (templates-only narration, the API image without torch) every
/v1 route answers 503. Roles: listing models needs a viewer key, generating an operator key (as /api/ai/question).
The key goes in `Authorization: Bearer`, as OpenAI's clients send it; the per-key rate limit is the API's.

Semantics, where OpenAI leaves room: defaults are OpenAI's (temperature 1, top_p 1); top_p 0 is greedy; without
max_tokens at most DEFAULT_MAX_TOKENS are generated, fewer when the context has less room. finish_reason is
"stop" (end of sequence or a stop sequence) or "length" (the token limit, or the server's deadline). A streaming
client that disconnects cancels its generation at the next token. Errors are OpenAI-shaped (qcl.api.errors).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol, cast

import flask

from qcl.api.errors import ApiError, unavailable
from qcl.api.openai_schemas import (
    AssistantMessage,
    ChatChoice,
    ChatCompletion,
    ChatCompletionRequest,
    Completion,
    CompletionChoice,
    CompletionRequest,
    ModelCard,
    ModelList,
    OpenAIErrorBody,
    Usage,
    openai_error_body,
)
from qcl.api.routing import ApiRoutes
from qcl.api.schemas import Role
from qcl.errors import QclError
from qcl.model.errors import ContextLengthError, InvalidGenerationRequestError
from qcl.model.params import GenerationParams, GenerationResult, RawPrompt

if TYPE_CHECKING:
    from qcl.api.context import ApiContext

log = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 256  # without max_tokens: OpenAI's "up to the context" would tie a CPU up for minutes
MODEL_ID = {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"}
_FINISH = {"stop": "stop", "eos": "stop", "length": "length", "deadline": "length"}

Prompt = Sequence[dict[str, str]] | RawPrompt


class Stream(Protocol):
    def __iter__(self) -> Iterator[str]: ...

    def result(self) -> GenerationResult: ...

    def close(self) -> None: ...


class TextGeneration(Protocol):
    """What the /v1 routes need of a model runtime (qcl.model.service.GenerationService and its subclasses)."""

    model_id: str

    def generate(self, messages: Prompt, params: GenerationParams) -> GenerationResult: ...

    def open_stream(self, messages: Prompt, params: GenerationParams) -> Stream: ...


def register(routes: ApiRoutes, ctx: ApiContext) -> None:
    services = ctx.services

    def runtime() -> TextGeneration:
        generation = services.generation
        if generation is None or not callable(getattr(generation, "open_stream", None)):
            raise unavailable("model", "this API instance has no model runtime (templates-only narration, or no torch)")
        return cast(TextGeneration, generation)

    def served(model: str) -> TextGeneration:
        generation = runtime()
        if model != generation.model_id:
            raise ApiError(
                404,
                "model_not_found",
                f"model: {model!r} is not served here; served: {generation.model_id}",
                field="model",
            )
        return generation

    def submit(
        call: Callable[[Prompt, GenerationParams], Any],
        prompt: Prompt,
        body: ChatCompletionRequest | CompletionRequest,
        field: str,
    ) -> Any:
        """Run `call` (generate or open_stream) with the body's parameters; model refusals become OpenAI errors."""
        asked = body.token_limit()
        params = _params(body, asked or DEFAULT_MAX_TOKENS)
        try:
            try:
                return services.breakers.call("model", call, prompt, params, retries=0)
            except ContextLengthError as exc:
                room = exc.context_length - exc.prompt_tokens
                if asked is not None or room < 1:
                    raise
                return services.breakers.call("model", call, prompt, replace(params, max_new_tokens=room), retries=0)
        except ContextLengthError as exc:
            where = "max_tokens" if asked is not None and exc.prompt_tokens < exc.context_length else field
            message = (
                f"{where}: the prompt has {exc.prompt_tokens} tokens and {exc.max_new_tokens} more were asked for; "
                f"the context of {body.model} holds {exc.context_length}"
            )
            raise ApiError(400, "context_length_exceeded", message, field=where) from None
        except InvalidGenerationRequestError as exc:
            raise ApiError(400, "invalid_value", f"{field}: {exc}", field=field) from None
        except Exception as exc:
            retry_after = getattr(exc, "retry_after_s", None)
            if retry_after is None:
                raise
            raise ApiError(503, "model_busy", str(exc), retry_after_s=float(retry_after)) from None

    @routes.route(
        "GET",
        "/v1/models",
        role=Role.VIEWER,
        tag="openai",
        summary="OpenAI-compatible: the models this API serves",
        responses={200: ModelList, 503: OpenAIErrorBody},
    )
    def openai_models() -> ModelList:
        return ModelList(data=[_card(runtime(), services.started_at)])

    @routes.route(
        "GET",
        "/v1/models/{model}",
        role=Role.VIEWER,
        tag="openai",
        summary="OpenAI-compatible: one served model",
        path_params={"model": MODEL_ID},
        responses={200: ModelCard, 404: OpenAIErrorBody, 503: OpenAIErrorBody},
    )
    def openai_model(model: str) -> ModelCard:
        return _card(served(model), services.started_at)

    @routes.route(
        "POST",
        "/v1/chat/completions",
        role=Role.OPERATOR,
        tag="openai",
        summary="OpenAI-compatible chat completion (stream: true answers Server-Sent Events)",
        body=ChatCompletionRequest,
        responses={200: ChatCompletion, 404: OpenAIErrorBody, 503: OpenAIErrorBody},
    )
    def openai_chat_completions(body: ChatCompletionRequest) -> Any:
        """The chat template of the model is applied to `messages`; `developer` messages count as `system`."""
        generation = served(body.model)
        messages = [{"role": _role(m.role), "content": m.text()} for m in body.messages]
        head = _Head("chatcmpl", services.now(), generation, body.user)
        if body.stream:
            stream = submit(generation.open_stream, messages, body, "messages")
            return _sse(_chat_events(head, stream, body.include_usage), stream)
        result = submit(generation.generate, messages, body, "messages")
        _log(head, result)
        choice = ChatChoice(message=AssistantMessage(content=result.text), finish_reason=_FINISH[result.finish_reason])
        return ChatCompletion(**head.fields(), choices=[choice], usage=_usage(result))

    @routes.route(
        "POST",
        "/v1/completions",
        role=Role.OPERATOR,
        tag="openai",
        summary="OpenAI-compatible text completion of a raw prompt (stream: true answers Server-Sent Events)",
        body=CompletionRequest,
        responses={200: Completion, 404: OpenAIErrorBody, 503: OpenAIErrorBody},
    )
    def openai_completions(body: CompletionRequest) -> Any:
        """The prompt is continued as it is, without the chat template."""
        generation = served(body.model)
        prompt = RawPrompt(body.text())
        head = _Head("cmpl", services.now(), generation, body.user)
        if body.stream:
            stream = submit(generation.open_stream, prompt, body, "prompt")
            return _sse(_completion_events(head, stream, body.include_usage), stream)
        result = submit(generation.generate, prompt, body, "prompt")
        _log(head, result)
        choice = CompletionChoice(text=result.text, finish_reason=_FINISH[result.finish_reason])
        return Completion(**head.fields(), choices=[choice], usage=_usage(result))


class _Head:
    """The fields every answer and chunk of one completion repeats."""

    def __init__(self, prefix: str, now: Any, generation: TextGeneration, user: str | None) -> None:
        self.id = f"{prefix}-{uuid.uuid4().hex}"
        self.user = user or "-"  # OpenAI's end-user id, for abuse monitoring: it goes to the log
        self.created = int(now.timestamp())
        self.model = generation.model_id
        loaded = getattr(generation, "loaded", None)
        revision, quantization = getattr(loaded, "revision", None), getattr(loaded, "quantization", None)
        # OpenAI's system_fingerprint names the backend configuration: here the weights' revision and quantization.
        digest = hashlib.sha256(f"{revision}|{quantization}".encode()).hexdigest()[:10]
        self.fingerprint = f"fp_{digest}" if revision else None
        self.request_id = str(flask.g.get("request_id", ""))  # read now: a stream outlives the request context

    def fields(self) -> dict[str, Any]:
        return {"id": self.id, "created": self.created, "model": self.model, "system_fingerprint": self.fingerprint}


def _params(body: ChatCompletionRequest | CompletionRequest, max_new_tokens: int) -> GenerationParams:
    temperature = 1.0 if body.temperature is None else body.temperature
    top_p = 1.0 if body.top_p is None else body.top_p
    if top_p == 0:  # a nucleus of no probability mass keeps the single most likely token: greedy
        temperature, top_p = 0.0, 1.0
    return GenerationParams(  # a client waits on the other end: ahead of batch jobs and background narration
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        stop=body.stops(),
        seed=body.seed,
        priority="interactive",
    )


def _role(role: str) -> str:
    return "system" if role == "developer" else role


def _card(generation: TextGeneration, started_at: float) -> ModelCard:
    return ModelCard(id=generation.model_id, created=int(started_at))


def _usage(result: GenerationResult) -> Usage:
    return Usage(
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.tokens,
        total_tokens=result.prompt_tokens + result.tokens,
    )


def _log(head: _Head, result: GenerationResult) -> None:
    log.info(
        "%s for user %s: %d prompt + %d completion tokens, %s, %.0f ms",
        head.id,
        head.user,
        result.prompt_tokens,
        result.tokens,
        result.finish_reason,
        result.latency_ms,
    )


def _event(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


class _Events:
    """A stream's events as a WSGI body: the server closes it when the client goes away, which cancels the
    generation (also when the client left before the first event was written)."""

    def __init__(self, events: Iterator[str], stream: Stream) -> None:
        self._events = events
        self._stream = stream

    def __iter__(self) -> Iterator[str]:
        return self._events

    def close(self) -> None:
        close = getattr(self._events, "close", None)
        if close is not None:
            close()
        self._stream.close()


def _sse(events: Iterator[str], stream: Stream) -> flask.Response:
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy may hold tokens back
    return flask.Response(_Events(events, stream), mimetype="text/event-stream", headers=headers)


Chunk = Callable[[dict[str, Any] | None], dict[str, Any]]  # a choice's fields -> the chunk; None: no choice


def _streamed(
    head: _Head,
    stream: Stream,
    include_usage: bool,
    chunk: Chunk,
    first: dict[str, Any] | None,
    delta: Callable[[str], dict[str, Any]],
    last: Callable[[str], dict[str, Any]],
) -> Iterator[str]:
    """The SSE events of one stream: optional first chunk, one per delta, the finish, usage if asked, [DONE]."""
    try:
        if first is not None:
            yield _event(chunk(first))
        for text in stream:
            yield _event(chunk(delta(text)))
        result = stream.result()
        _log(head, result)
        yield _event(chunk(last(_FINISH[result.finish_reason])))
        if include_usage:
            yield _event({**chunk(None), "usage": _usage(result).model_dump()})
        yield "data: [DONE]\n\n"
    except Exception as exc:  # headers are sent: the error travels as an event, as OpenAI sends it
        log.exception("%s failed while streaming", head.id)
        # Our own errors say what went wrong in words meant for users; anything else stays in the log.
        why = str(exc) if isinstance(exc, QclError) else f"internal error; quote request id {head.request_id}"
        body = openai_error_body(500, "stream_failed", f"generation failed: {why}", None, head.request_id)[1]
        yield _event(body)
    finally:
        stream.close()


def _chat_events(head: _Head, stream: Stream, include_usage: bool) -> Iterator[str]:
    def chunk(choice: dict[str, Any] | None) -> dict[str, Any]:
        choices = [{"index": 0, "logprobs": None, "finish_reason": None, **choice}] if choice is not None else []
        return {**head.fields(), "object": "chat.completion.chunk", "choices": choices}

    return _streamed(
        head,
        stream,
        include_usage,
        chunk,
        first={"delta": {"role": "assistant", "content": ""}},
        delta=lambda text: {"delta": {"content": text}},
        last=lambda reason: {"delta": {}, "finish_reason": reason},
    )


def _completion_events(head: _Head, stream: Stream, include_usage: bool) -> Iterator[str]:
    def chunk(choice: dict[str, Any] | None) -> dict[str, Any]:
        base = {"index": 0, "text": "", "logprobs": None, "finish_reason": None}
        choices = [{**base, **choice}] if choice is not None else []
        return {**head.fields(), "object": "text_completion", "choices": choices}

    return _streamed(
        head,
        stream,
        include_usage,
        chunk,
        first=None,
        delta=lambda text: {"text": text},
        last=lambda reason: {"finish_reason": reason},
    )

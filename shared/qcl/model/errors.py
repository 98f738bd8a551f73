"""Errors of the model runtime; each message says what was expected and what was found."""

from __future__ import annotations

from qcl.errors import QclError


class ModelUnavailableError(QclError):
    """A registered model that cannot be loaded here (weights missing, no local path, no hub configured)."""

    def __init__(self, model_id: str, reason: str) -> None:
        super().__init__(f"model {model_id!r} is unavailable: {reason}")
        self.model_id = model_id
        self.reason = reason


class UnknownModelError(ModelUnavailableError):
    """A model id that is not in the registry."""

    def __init__(self, model_id: str, known: list[str]) -> None:
        super().__init__(model_id, "not in the model registry; registered models: " + ", ".join(known))


class ModelBusyError(QclError):
    """The request queue is full; the caller should retry after `retry_after_s` seconds."""

    def __init__(self, retry_after_s: float, queue_size: int) -> None:
        super().__init__(f"model busy ({queue_size} requests queued), retry after {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s
        self.queue_size = queue_size


class GenerationDeadlineError(QclError):
    """The request's deadline passed while it was still queued, before the model produced any token.

    A deadline that passes during generation is not an error: the result carries the text so far and
    finish_reason "deadline".
    """


class InvalidGenerationRequestError(QclError, ValueError):
    """A prompt or generation parameter outside its allowed range (empty prompt, max_new_tokens too large, ...)."""


class ContextLengthError(InvalidGenerationRequestError):
    """The prompt plus the tokens asked for do not fit in the model's context."""

    def __init__(self, model_id: str, prompt_tokens: int, max_new_tokens: int, context_length: int) -> None:
        super().__init__(
            f"prompt has {prompt_tokens} tokens; with max_new_tokens {max_new_tokens} that exceeds the "
            f"context length of {model_id} ({context_length})"
        )
        self.prompt_tokens = prompt_tokens
        self.max_new_tokens = max_new_tokens
        self.context_length = context_length


class GenerationCancelledError(QclError):
    """The caller cancelled the request (a streaming client went away); its generation stopped."""

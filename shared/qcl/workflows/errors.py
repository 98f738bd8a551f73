"""Errors of the workflow engine: a bad file at deploy, a limit hit, and errors raised inside an execution.

An error raised inside an execution is a Workflows error value: a map `{"message": ..., "tags": [...]}` (plus `code`
and `body` for HTTP errors) or whatever a `raise` step raised. `except: as: e` binds that value.
"""

from __future__ import annotations

from typing import Any

from qcl.errors import QclError


class WorkflowError(QclError):
    """Base of the engine's errors."""


class WorkflowSyntaxError(WorkflowError):
    """A workflow file that cannot deploy; `line` is 1-based (0 when unknown)."""

    def __init__(self, reason: str, line: int = 0) -> None:
        self.reason, self.line = reason, line
        super().__init__(f"line {line}: {reason}" if line else reason)


class ExpressionSyntaxError(WorkflowError):
    """An expression that does not parse; the column is 1-based inside the expression."""


class UnknownWorkflowError(WorkflowError, KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


class WorkflowRaised(WorkflowError):
    """An error inside an execution, carrying its Workflows error value."""

    def __init__(self, value: Any) -> None:
        self.value = value
        super().__init__(error_message(value))

    @property
    def tags(self) -> list[str]:
        tags = self.value.get("tags") if isinstance(self.value, dict) else None
        return [str(t) for t in tags] if isinstance(tags, list) else []


class LimitExceeded(WorkflowError):
    """A limit of the executor (steps, loop iterations, payload bytes, call depth); never caught by `except`."""


class ExecutionCancelled(WorkflowError):
    """The execution was cancelled; never caught by `except`."""


def raised(tag: str, message: str, **extra: Any) -> WorkflowRaised:
    """A built-in error, tagged like Cloud Workflows' (TypeError, KeyError, IndexError, ValueError, HttpError, ...)."""
    return WorkflowRaised({"message": message, "tags": [tag], **extra})


def error_message(value: Any) -> str:
    if isinstance(value, dict):
        tags = value.get("tags")
        prefix = f"[{', '.join(map(str, tags))}] " if isinstance(tags, list) and tags else ""
        return prefix + str(value.get("message", value))
    return str(value)

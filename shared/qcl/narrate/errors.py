"""Errors of narration and questions: a bad field names itself, so the HTTP API can answer 400 with it."""

from __future__ import annotations

from qcl.errors import QclError


class NarrationInputError(QclError, ValueError):
    """A request field the narrator cannot take; `field` names it, the message says what was expected and found."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class QuestionError(NarrationInputError):
    """An empty or oversized question."""

    def __init__(self, problem: str) -> None:
        super().__init__("question", problem)


class UnsupportedLanguageError(NarrationInputError):
    """A language other than the supported ones."""

    def __init__(self, problem: str) -> None:
        super().__init__("language", problem)

"""The narrator: analysis report → narrative, question → answer, in zh-TW or en, never unchecked.

    from qcl.model.service import load_service
    from qcl.narrate.service import Narrator
    narrator = Narrator(load_service(settings))              # Narrator(None, unavailable_reason=...) = templates only
    insight = narrator.narrate(report, "zh-TW")              # an AIInsight (events.py)
    insight = narrator.answer("what is the price trend today?", "en", report)

How a text is chosen: the model gets a prompt made of the template's sentences (report values only, prompts.py);
its reply is used when it passes the grounding check (grounding.py), else the template is. The result says which:
- model text used: model = the model id, grounded = true, fallback_used = false;
- template used instead: model = "template", grounded = false, fallback_used = true, fallback_reason = why
  ("ungrounded: …" with grounding_issues naming each failing token, "model_unavailable: …", "model_busy: …",
  "deadline: …", "truncated: …", "model_error: …", "templates_only: …", "behind: …");
- fixed replies (an off-topic question, no report yet): model = "template", grounded = false,
  fallback_used = false, confidence 0.
Nothing the model does raises out of here: errors and timeouts become a fallback with the reason.

Confidence (how much of the text is verified against the report):
- template text: TEMPLATE_CONFIDENCE (1.0): every statement is a report value, written by formats.py;
- grounded model text: GROUNDED_MODEL_CONFIDENCE (0.8): its figures, times and directions were checked, its
  other wording cannot be;
- an answer multiplies that by how surely the question was understood: 0.9 for a keyword match, the cosine
  similarity for an embedding match (questions.py);
- off-topic refusals and "no report yet": 0 (they state nothing about the network).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from qcl.analysis.report import AnalysisReport
from qcl.config import Settings
from qcl.events import AIInsight
from qcl.model.errors import GenerationDeadlineError, ModelBusyError, ModelUnavailableError
from qcl.model.params import GenerationParams, Priority
from qcl.narrate.answers import asked_sources, compose_answer
from qcl.narrate.embeddings import SentenceEncoder
from qcl.narrate.facts import ReportFacts, report_facts
from qcl.narrate.formats import LANGUAGES, Language
from qcl.narrate.grounding import GroundingResult, check_grounding
from qcl.narrate.language import ends_sentence, to_traditional
from qcl.narrate.phrasing import StreamEvent, stream_answer
from qcl.narrate.prompts import answer_messages, echo_issue, narration_messages
from qcl.narrate.questions import (
    NO_REPORT,
    REFUSAL,
    SMALL_TALK,
    QuestionMatcher,
    small_talk,
    validate_language,
    validate_question,
)
from qcl.narrate.templates import Rendered, compose, narrative

log = logging.getLogger(__name__)

TEMPLATE_CONFIDENCE = 1.0
GROUNDED_MODEL_CONFIDENCE = 0.8
TEMPLATE_MODEL = "template"  # the `model` of a text that no model wrote
# Tokens a reply may take. SmolLM2's tokenizer spends 0.43 tokens per character on the sample's English template
# narratives and 1.13 on the Chinese ones (digits are a token each), so about 290 / 140 characters fit: two or
# three sentences either way.
MAX_NEW_TOKENS: dict[Language, int] = {"en": 128, "zh-TW": 160}
STOP_SEQUENCES = ("\n\n",)  # one paragraph: what follows a blank line is the model talking about its answer
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|[。！？]")  # "98.7" has no space after its point


class GeneratedText(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def finish_reason(self) -> str: ...
    @property
    def tokens(self) -> int: ...


class TextModel(Protocol):
    """What the narrator needs of a model; qcl.model.service.GenerationService is one."""

    @property
    def model_id(self) -> str: ...

    def generate(self, messages: Sequence[Mapping[str, str]], params: GenerationParams) -> GeneratedText: ...


@dataclass(frozen=True)
class Attempt:
    """The model's part of one narration or answer: what it wrote and why it was not used (None when it was)."""

    text: str | None  # None when the model was not asked or produced nothing
    grounding: GroundingResult | None  # None when there was no text to check
    failure: str | None  # "<code>: <detail>", the fallback reason; None when the model's text is used
    tokens: int = 0  # tokens the model generated
    model_ms: float = 0.0  # the model's latency (queue wait included)


NO_ATTEMPT = Attempt(None, None, None)  # the model was not needed (a fixed reply)


@dataclass(frozen=True)
class Composition:
    insight: AIInsight
    attempt: Attempt


class Narrator:
    """Narratives and answers; `model` None means templates only, `unavailable_reason` says why (None: by choice)."""

    def __init__(
        self,
        model: TextModel | None,
        *,
        unavailable_reason: str | None = None,
        matcher: QuestionMatcher | None = None,
        deadline_s: float = 60.0,
        max_new_tokens: Mapping[Language, int] = MAX_NEW_TOKENS,
        writes: Sequence[Language] = LANGUAGES,
    ) -> None:
        self.model = model
        self.writes = tuple(writes)  # languages the model may write (the registry's measured capability)
        self.unavailable_reason = unavailable_reason  # None with no model: templates only, by choice
        self.matcher = matcher or QuestionMatcher()
        self.deadline_s = deadline_s
        self.max_new_tokens = dict(max_new_tokens)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._fallbacks: Counter[str] = Counter()
        self._model_error: str | None = None  # the last ModelUnavailableError, cleared by a success

    # --- public API -----------------------------------------------------------------------------------------------

    def narrate(
        self,
        report: AnalysisReport,
        language: Language,
        *,
        skip_model: str | None = None,
        request_id: str | None = None,
    ) -> AIInsight:
        """The report told in `language`; `skip_model` (a "<code>: <detail>" reason) uses the template at once."""
        return self.compose_narrative(report, language, skip_model=skip_model, request_id=request_id).insight

    def answer(
        self,
        question: str,
        language: Language,
        report: AnalysisReport | None,
        *,
        request_id: str | None = None,
        phrase: bool = True,
    ) -> AIInsight:
        """An answer from `report` (the latest); QuestionError / UnsupportedLanguageError name a bad field.
        `phrase` False returns the composed answer at once, without asking the model to phrase it."""
        return self.compose_answer(question, language, report, request_id=request_id, phrase=phrase).insight

    def fixed_reply(
        self,
        text: str,
        language: Language,
        *,
        kind: Literal["narrative", "answer"] = "answer",
        request_id: str | None = None,
    ) -> AIInsight:
        """A reply that states nothing about the network (no report yet, a refused or invalid request)."""
        with self._lock:
            self._counts[kind] += 1
        return AIInsight(
            request_id=request_id,
            kind=kind,
            text=text,
            language=language,
            model=TEMPLATE_MODEL,
            grounded=False,
            fallback_used=False,
            confidence=0.0,
            sources=[],
            latency_ms=0.0,
        )

    def close(self) -> None:
        """Stop the model's generation service, if the narrator has one that can stop."""
        close = getattr(self.model, "close", None)
        if callable(close):
            close()

    def status(self) -> dict[str, Any]:
        with self._lock:
            reason = self.unavailable_reason if self.model is None else self._model_error
            return {
                "model": self.model.model_id if self.model is not None else None,
                "mode": "model" if self.model is not None else "templates",
                "degraded": reason is not None,
                "reason": reason,
                "narratives": self._counts["narrative"],
                "answers": self._counts["answer"],
                "grounded": self._counts["grounded"],
                "fallback": self._counts["fallback"],
                "fallback_reasons": dict(self._fallbacks),
            }

    # --- with the model's attempt, for benchmarks and logs ------------------------------------------------------

    def compose_narrative(
        self,
        report: AnalysisReport,
        language: Language,
        *,
        skip_model: str | None = None,
        request_id: str | None = None,
    ) -> Composition:
        started = time.monotonic()
        language = validate_language(language)
        template = narrative(report, language)
        prompt_facts = compose(report, language, codes=None, groups=())  # health and findings: the short version
        problems = frozenset(f.code.value for f in report.findings if f.severity != "info")
        skip = skip_model or self.phrasing_skip(language)
        attempt = self._attempt(narration_messages(prompt_facts), report_facts(report), language, skip, problems)
        return self._finish("narrative", template, attempt, report, 1.0, started, request_id)

    def compose_answer(
        self,
        question: str,
        language: Language,
        report: AnalysisReport | None,
        *,
        request_id: str | None = None,
        phrase: bool = True,
    ) -> Composition:
        started = time.monotonic()
        language = validate_language(language)
        question = validate_question(question)
        if report is None:
            return Composition(self.fixed_reply(NO_REPORT[language], language, request_id=request_id), NO_ATTEMPT)
        match = self.matcher.match(question)
        if match is None:
            talk = small_talk(question)
            if talk is None:
                log.info("narrator: off-topic question refused: %.80r", question)
            reply = SMALL_TALK[talk] if talk else REFUSAL
            return Composition(self.fixed_reply(reply[language], language, request_id=request_id), NO_ATTEMPT)
        composed = compose_answer(report, match, language)
        skip = self.phrasing_skip(
            language, phrase=phrase, declined=match.declined, injection=match.injection, fixed=not match.topics
        )
        messages = answer_messages(question, composed)
        attempt = self._attempt(
            messages,
            report_facts(report, held_qu=match.held_qu, spend_usd=match.spend_usd),
            language,
            skip,
            frozenset(),
            priority="interactive",
            must_state=asked_sources(report, match),
        )
        return self._finish("answer", composed, attempt, report, match.score, started, request_id)

    def stream_answer(
        self, question: str, language: Language, report: AnalysisReport | None, *, request_id: str | None = None
    ) -> Iterator[StreamEvent]:
        """The composed answer at once, then the model's checked sentences, then the final answer (phrasing.py)."""
        return stream_answer(self, question, language, report, request_id)

    def phrasing_skip(
        self,
        language: Language,
        *,
        phrase: bool = True,
        declined: bool = False,
        injection: bool = False,
        fixed: bool = False,
    ) -> str | None:
        """Why the model is not asked to phrase an answer ("<code>: <detail>"), or None when it is."""
        if not phrase:
            return "composed: the composed answer, without waiting for the model"
        if fixed:
            return "fixed: a definition is told in fixed words"
        if declined:
            return "declined: a forecast or advice is declined in fixed words"
        if injection:
            return "injection: the question tries to give instructions; the composed answer stands"
        if self.model is None:
            return self._no_model_reason()
        if language not in self.writes:
            return f"language_unsupported: {self.model.model_id} is not measured to write {language} fluently"
        return None

    def _no_model_reason(self) -> str:
        if self.unavailable_reason is None:
            return "templates_only: no model configured (--no-model or QCL_NARRATE_MODEL=false)"
        return f"model_unavailable: {self.unavailable_reason}"

    # --- internals ------------------------------------------------------------------------------------------------

    def _attempt(
        self,
        messages: Sequence[Mapping[str, str]],
        facts: ReportFacts,
        language: Language,
        skip: str | None,
        must_cite: frozenset[str],
        priority: Priority = "background",
        must_state: tuple[frozenset[str], ...] = (),
    ) -> Attempt:
        if skip is not None:
            return Attempt(None, None, skip)
        if self.model is None:
            return Attempt(None, None, self._no_model_reason())
        params = GenerationParams(
            max_new_tokens=self.max_new_tokens[language],
            stop=STOP_SEQUENCES,
            deadline_s=self.deadline_s,
            priority=priority,
        )
        asked = time.monotonic()
        try:
            result = self.model.generate(messages, params)
        except ModelBusyError as exc:
            return Attempt(None, None, f"model_busy: {exc}")
        except GenerationDeadlineError as exc:
            return Attempt(None, None, f"deadline: {exc}")
        except ModelUnavailableError as exc:
            with self._lock:
                self._model_error = str(exc)
            return Attempt(None, None, f"model_unavailable: {exc}")
        except Exception as exc:  # a model failure must not take the worker down: the template answers
            log.exception("narrator: the model failed; the template answers")
            return Attempt(None, None, f"model_error: {type(exc).__name__}: {exc}")
        with self._lock:
            self._model_error = None
        judged = self._judge(result, facts, language, must_cite, must_state)
        return replace(judged, tokens=result.tokens, model_ms=round((time.monotonic() - asked) * 1000, 1))

    def _judge(
        self,
        result: GeneratedText,
        facts: ReportFacts,
        language: Language,
        must_cite: frozenset[str],
        must_state: tuple[frozenset[str], ...] = (),
    ) -> Attempt:
        """Whether the model's reply may be used (a failure reason when not)."""
        text = result.text.strip()
        if result.finish_reason == "deadline":
            return Attempt(text, None, f"deadline: the model passed its {self.deadline_s:g} s deadline")
        if language == "zh-TW":
            text = to_traditional(text)  # a model that slips into Simplified characters is converted, not refused
        if not ends_sentence(text):  # cut by the token limit or a stop sequence: keep the finished sentences
            text = _complete_sentences(text)
            if not text:
                return Attempt(result.text, None, f"truncated: no complete sentence in {result.tokens} tokens")
        if (echo := echo_issue(text)) is not None:
            return Attempt(text, None, echo)
        grounding = check_grounding(text, facts, language, must_cite=must_cite, must_state=must_state)
        if not grounding.grounded:
            return Attempt(text, grounding, f"ungrounded: {grounding.issues[0]}")
        return Attempt(text, grounding, None)

    def _finish(
        self,
        kind: Literal["narrative", "answer"],
        template: Rendered,
        attempt: Attempt,
        report: AnalysisReport,
        certainty: float,
        started: float,
        request_id: str | None,
    ) -> Composition:
        used_model = attempt.failure is None and attempt.text is not None and self.model is not None
        issues = list(attempt.grounding.issues) if attempt.grounding else []
        if used_model:
            assert attempt.text is not None and attempt.grounding is not None and self.model is not None
            text, model, confidence = attempt.text, self.model.model_id, GROUNDED_MODEL_CONFIDENCE
            sources = list(attempt.grounding.sources) or list(template.sources)
        else:
            text, model, confidence, sources = (
                template.text,
                TEMPLATE_MODEL,
                TEMPLATE_CONFIDENCE,
                list(template.sources),
            )
        insight = AIInsight(
            request_id=request_id,
            kind=kind,
            text=text,
            language=template.language,
            model=model,
            grounded=used_model,
            fallback_used=not used_model,
            confidence=round(confidence * certainty, 3),
            sources=sources,
            latency_ms=round((time.monotonic() - started) * 1000, 1),
            fallback_reason=None if used_model else attempt.failure,
            grounding_issues=issues,
            report_observed_at=report.observed_at,
        )
        with self._lock:
            self._counts[kind] += 1
            self._counts["grounded" if used_model else "fallback"] += 1
            if attempt.failure is not None:
                self._fallbacks[attempt.failure.split(":", 1)[0]] += 1
        if attempt.failure is not None and attempt.text is not None:
            log.info("narrator: %s fell back (%s); the model wrote: %.300r", kind, attempt.failure, attempt.text)
        return Composition(insight, attempt)


def _complete_sentences(text: str) -> str:
    """`text` up to its last sentence end (a reply cut by the token limit ends mid-sentence)."""
    ends = list(_SENTENCE_END.finditer(text))
    return text[: ends[-1].end()].strip() if ends else ""


def model_languages(model_id: str) -> tuple[Language, ...]:
    """The languages the registry says `model_id` writes well enough to be asked (all, for a model it lacks)."""
    from qcl.model.registry import MODELS

    spec = MODELS.get(model_id)
    return spec.writes if spec is not None else LANGUAGES


def open_narrator(
    settings: Settings, *, use_model: bool | None = None, load: Callable[[], TextModel] | None = None
) -> Narrator:
    """The narrator for `settings`: QCL_MODEL's generation service (or what `load` opens, e.g. a shard pool), or
    templates only when QCL_NARRATE_MODEL (or `use_model`) is off or the model cannot load; then its status and
    every fallback_reason say why."""
    matcher = QuestionMatcher(SentenceEncoder.bundled if settings.narrate_embeddings else None)
    options: dict[str, Any] = {
        "matcher": matcher,
        "deadline_s": settings.narrate_deadline_s,
        "writes": model_languages(settings.model),
    }
    if not (settings.narrate_model if use_model is None else use_model):
        return Narrator(None, **options)
    try:
        from qcl.model.service import load_service

        return Narrator(load() if load is not None else load_service(settings), **options)
    except ModelUnavailableError as exc:
        log.warning("narrator: %s; narratives and answers come from templates", exc)
        return Narrator(None, unavailable_reason=str(exc), **options)
    except Exception as exc:  # a broken cache or runtime must not stop the narrator: templates still answer
        log.exception(
            "narrator: the model %s failed to load; narratives and answers come from templates", settings.model
        )
        return Narrator(None, unavailable_reason=f"model {settings.model!r} failed to load: {exc}", **options)

"""An answer as a stream: the composed answer at once, then the model's phrasing sentence by sentence, each checked.

    for event, data in narrator.stream_answer("What's the market cap?", "en", report):
        ...   # ("answer", composed AIInsight), ("delta", {"text": "..."})*, ("final", AIInsight)

Why sentences, not raw tokens: a token stream would show the user figures no check has seen. Each sentence the model
finishes is checked together with the ones before it (grounding.py, binding included) before it is sent; the first
sentence that fails ends the phrasing, and `final` is then the composed answer with the reason. A model without a
stream() (or a skipped phrasing: a decline, an injection, a language the model does not write) sends no deltas,
and `final` says why in its fallback_reason.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from qcl.analysis.report import AnalysisReport
from qcl.events import AIInsight
from qcl.model.params import GenerationParams
from qcl.narrate.facts import report_facts
from qcl.narrate.formats import Language
from qcl.narrate.grounding import check_grounding
from qcl.narrate.language import to_traditional
from qcl.narrate.prompts import answer_messages, echo_issue
from qcl.narrate.questions import validate_language, validate_question

if TYPE_CHECKING:
    from qcl.narrate.service import Narrator

StreamEvent = tuple[Literal["answer", "delta", "final"], dict[str, Any]]
_SENTENCE = re.compile(r".+?(?:[.!?](?=\s|$)|[。！？])", re.S)
NO_FIGURE = "no figure"  # a first sentence may state none; the whole reply must


def stream_answer(
    narrator: Narrator, question: str, language: Language, report: AnalysisReport | None, request_id: str | None
) -> Iterator[StreamEvent]:
    """See the module docstring. Field errors raise before the first event."""
    language, question = validate_language(language), validate_question(question)
    started = time.monotonic()
    composition = narrator.compose_answer(question, language, report, request_id=request_id, phrase=False)
    composed = composition.insight
    yield "answer", composed.model_dump(mode="json")
    match = narrator.matcher.match(question) if report is not None else None
    if report is None or match is None or narrator.model is None:
        yield "final", composed.model_dump(mode="json")
        return
    skip = narrator.phrasing_skip(language, declined=match.declined, injection=match.injection, fixed=not match.topics)
    if skip is not None:
        yield "final", replace_insight(composed, fallback_reason=skip)
        return
    from qcl.narrate.answers import asked_sources, compose_answer

    messages = answer_messages(question, compose_answer(report, match, language))
    params = GenerationParams(
        max_new_tokens=narrator.max_new_tokens[language], stop=("\n\n",), deadline_s=narrator.deadline_s
    )
    facts = report_facts(report)
    accepted, buffer, failure = "", "", None
    stream = getattr(narrator.model, "stream", None)
    try:
        deltas = (
            stream(messages, params) if callable(stream) else iter([narrator.model.generate(messages, params).text])
        )
        for delta in deltas:
            buffer += delta
            while (sentence := _SENTENCE.match(buffer)) is not None:
                buffer = buffer[sentence.end() :]
                text = to_traditional(sentence.group()) if language == "zh-TW" else sentence.group()
                candidate = (accepted + text).strip()
                issues = [i for i in check_grounding(candidate, facts, language).issues if not i.startswith(NO_FIGURE)]
                issues += [echo] if (echo := echo_issue(candidate)) else []
                if issues:
                    failure = f"ungrounded: {issues[0]}"
                    break
                accepted = candidate
                yield "delta", {"text": text}
            if failure:
                break
    except Exception as exc:  # the composed answer stands; the stream still ends with `final`
        failure = f"model_error: {type(exc).__name__}: {exc}"
    must_state = asked_sources(report, match)
    final = check_grounding(accepted, facts, language, must_state=must_state) if accepted else None
    if failure is None and final is not None and final.grounded:
        insight = composed.model_copy(
            update={
                "text": accepted,
                "model": narrator.model.model_id,
                "grounded": True,
                "fallback_used": False,
                "fallback_reason": None,
                "sources": list(final.sources) or composed.sources,
                "confidence": round(0.8 * match.score, 3),
                "latency_ms": round((time.monotonic() - started) * 1000, 1),
            }
        )
        yield "final", insight.model_dump(mode="json")
        return
    reason = failure or (f"ungrounded: {final.issues[0]}" if final else "truncated: no complete sentence")
    yield "final", replace_insight(composed, fallback_reason=reason)


def replace_insight(insight: AIInsight, *, fallback_reason: str) -> dict[str, Any]:
    """The composed insight, marked as standing in for a phrasing that did not happen (and why)."""
    update = {"fallback_used": True, "fallback_reason": fallback_reason}
    return insight.model_copy(update=update).model_dump(mode="json")

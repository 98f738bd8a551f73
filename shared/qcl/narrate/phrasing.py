"""An answer as a stream: the composed answer at once, then the model's phrasing sentence by sentence, each checked.

    for event, data in narrator.stream_answer("What's the market cap?", "en", report):
        ...   # ("answer", composed AIInsight), ("delta", {"text": "..."})*, ("final", AIInsight)

Why sentences, not raw tokens: a token stream would show the user figures no check has seen. A sentence is sent only
when the reply up to it passes every check (grounding.py with binding, the asked figures, no echoed instructions);
a sentence that states no figure yet waits for the next one. So nothing sent is ever taken back: the first sentence
that fails ends the phrasing, and `final` is the reply as sent, or the composed answer with the reason when nothing
passed. A model without a
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
# Issues a reply may have while it is not finished: sentences wait until one brings the (asked) figure.
WAIT_FOR = ("no figure", "omission: the text leaves out the figure")


def stream_answer(
    narrator: Narrator, question: str, language: Language, report: AnalysisReport | None, request_id: str | None
) -> Iterator[StreamEvent]:
    """See the module docstring. Field errors raise before the first event."""
    from qcl.narrate.answers import asked_sources, compose_answer

    language, question = validate_language(language), validate_question(question)
    started = time.monotonic()
    composed = narrator.compose_answer(question, language, report, request_id=request_id, phrase=False).insight
    yield "answer", composed.model_dump(mode="json")
    match = narrator.matcher.match(question) if report is not None else None
    if report is None or match is None:  # a fixed reply: no report yet, or a question not about the network
        yield "final", composed.model_dump(mode="json")
        return
    skip = narrator.phrasing_skip(language, declined=match.declined, injection=match.injection, fixed=not match.topics)
    if skip is not None or narrator.model is None:
        yield "final", replace_insight(composed, fallback_reason=skip or "templates_only: no model configured")
        return
    messages = answer_messages(question, compose_answer(report, match, language))
    params = GenerationParams(  # a person waits for it: before background narration in the generation service
        max_new_tokens=narrator.max_new_tokens[language],
        stop=("\n\n",),
        deadline_s=narrator.deadline_s,
        priority="interactive",
    )
    facts = report_facts(report, held_qu=match.held_qu, spend_usd=match.spend_usd)
    must_state = asked_sources(report, match)
    accepted, pending, buffer, failure, waiting = "", "", "", None, None
    stream = getattr(narrator.model, "stream", None)
    deltas: Iterator[str] = iter(())
    try:
        deltas = (
            stream(messages, params) if callable(stream) else iter([narrator.model.generate(messages, params).text])
        )
        for delta in deltas:
            buffer += delta
            while failure is None and (sentence := _SENTENCE.match(buffer)) is not None:
                buffer = buffer[sentence.end() :]
                text = to_traditional(sentence.group()) if language == "zh-TW" else sentence.group()
                candidate = (accepted + pending + text).strip()
                issues = list(check_grounding(candidate, facts, language, must_state=must_state).issues)
                issues += [echo] if (echo := echo_issue(candidate)) else []
                if not issues:  # the reply so far passes every check: send what waited and this sentence
                    yield "delta", {"text": pending + text}
                    accepted, pending = candidate, ""
                elif all(issue.startswith(WAIT_FOR) for issue in issues):
                    pending, waiting = pending + text, issues[0]  # no figure yet, or not the asked one yet
                else:
                    failure = f"ungrounded: {issues[0]}"
            if failure is not None:
                break
    except Exception as exc:  # the composed answer stands; the stream still ends with `final`
        failure = f"model_error: {type(exc).__name__}: {exc}"
    finally:
        close = getattr(deltas, "close", None)
        if callable(close):
            close()  # a generation service cancels what the reader no longer wants
    latency_ms = round((time.monotonic() - started) * 1000, 1)
    if accepted:  # every sentence sent passed every check with those before it: the reply stands as sent
        final = check_grounding(accepted, facts, language, must_state=must_state)
        update = {
            "text": accepted,
            "model": narrator.model.model_id,
            "grounded": True,
            "fallback_used": False,
            "fallback_reason": None,
            "sources": list(final.sources) or composed.sources,
            "confidence": round(0.8 * match.score, 3),
            "latency_ms": latency_ms,
        }
        yield "final", composed.model_copy(update=update).model_dump(mode="json")
        return
    reason = failure or (f"ungrounded: {waiting}" if waiting else "truncated: no complete sentence")
    yield "final", replace_insight(composed, fallback_reason=reason, latency_ms=latency_ms)


def replace_insight(insight: AIInsight, *, fallback_reason: str, latency_ms: float | None = None) -> dict[str, Any]:
    """The composed insight, marked as standing in for a phrasing that did not happen (and why)."""
    update: dict[str, Any] = {"fallback_used": True, "fallback_reason": fallback_reason}
    if latency_ms is not None:
        update["latency_ms"] = latency_ms
    return insight.model_copy(update=update).model_dump(mode="json")

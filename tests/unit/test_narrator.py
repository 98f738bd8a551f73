"""The Narrator: the model's text when it passes the grounding check, the template otherwise, and why.

The model here is scripted: it returns a given text, which is how a wrong or failing model is made on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

import pytest

from qcl.analysis.report import AnalysisReport, Finding
from qcl.bench.narrate import sample_onset_reports
from qcl.model.errors import GenerationDeadlineError, ModelBusyError, ModelUnavailableError
from qcl.model.params import GenerationParams
from qcl.narrate.errors import UnsupportedLanguageError
from qcl.narrate.facts import report_facts
from qcl.narrate.grounding import check_grounding
from qcl.narrate.mentions import extract
from qcl.narrate.questions import QuestionMatcher
from qcl.narrate.service import GROUNDED_MODEL_CONFIDENCE, TEMPLATE_CONFIDENCE, Narrator
from qcl.narrate.templates import narrative


@dataclass(frozen=True)
class Reply:
    text: str
    finish_reason: str = "stop"
    tokens: int = 12


@dataclass
class ScriptedModel:
    """Returns `reply` (or raises `error`) and records what it was asked."""

    reply: str = ""
    error: Exception | None = None
    finish_reason: str = "stop"
    model_id: str = "scripted-model"
    calls: list[tuple[Sequence[Mapping[str, str]], GenerationParams]] = field(default_factory=list)
    closed: bool = False

    def close(self) -> None:
        self.closed = True

    def generate(self, messages: Sequence[Mapping[str, str]], params: GenerationParams) -> Reply:
        self.calls.append((messages, params))
        if self.error is not None:
            raise self.error
        return Reply(self.reply, self.finish_reason)


@cache
def stall_report() -> AnalysisReport:
    return next(
        r
        for r in sample_onset_reports()
        if any(f.severity == "critical" and f.code == "tick_stall" for f in r.findings)
    )


def stall() -> Finding:
    return next(f for f in stall_report().findings if f.code == "tick_stall")


def faithful_text() -> str:
    return (
        f"The network has produced no new tick for {stall().evidence['stall_s']} s and is stuck at tick {stall().tick}."
    )


def narrator_for(model: ScriptedModel | None, **options: object) -> Narrator:
    return Narrator(model, matcher=QuestionMatcher(encoder=None), **options)  # type: ignore[arg-type]


def test_a_grounded_model_text_is_used_with_the_model_and_its_sources() -> None:
    insight = narrator_for(ScriptedModel(faithful_text())).narrate(stall_report(), "en")
    assert insight.text == faithful_text()
    assert (insight.model, insight.grounded, insight.fallback_used) == ("scripted-model", True, False)
    assert insight.confidence == GROUNDED_MODEL_CONFIDENCE
    assert "tick_stall" in insight.sources and insight.fallback_reason is None


def test_a_made_up_number_brings_the_template_and_says_which_token_failed() -> None:
    wrong = faithful_text().replace("stuck at", "down 2.5% and stuck at")
    insight = narrator_for(ScriptedModel(wrong)).narrate(stall_report(), "en")
    assert insight.text == narrative(stall_report(), "en").text
    assert (insight.model, insight.grounded, insight.fallback_used) == ("template", False, True)
    assert insight.confidence == TEMPLATE_CONFIDENCE
    assert insight.fallback_reason is not None and insight.fallback_reason.startswith("ungrounded: ")
    assert any("'2.5%'" in issue for issue in insight.grounding_issues)


def test_a_made_up_narrative_in_chinese_falls_back_to_the_chinese_template() -> None:
    wrong = f"網路已經 999 秒沒有產生新的 tick，停在 tick {stall().tick}。"
    insight = narrator_for(ScriptedModel(wrong)).narrate(stall_report(), "zh-TW")
    assert insight.fallback_used and insight.language == "zh-TW"
    assert insight.text == narrative(stall_report(), "zh-TW").text
    assert any("'999'" in issue for issue in insight.grounding_issues)


def test_the_prompt_holds_no_number_that_is_not_in_the_report() -> None:
    model = ScriptedModel(faithful_text())
    narrator_for(model).narrate(stall_report(), "en")
    ((messages, params),) = model.calls
    prompt = "\n".join(message["content"] for message in messages)
    facts = report_facts(stall_report())
    assert extract(prompt).numbers
    assert check_grounding(prompt, facts, "en").issues == ()
    assert params.temperature == 0 and params.deadline_s is not None


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ModelBusyError(retry_after_s=3, queue_size=16), "model_busy"),
        (GenerationDeadlineError("deadline passed while queued"), "deadline"),
        (ModelUnavailableError("scripted-model", "weights missing"), "model_unavailable"),
        (RuntimeError("CUDA says no"), "model_error"),
    ],
)
def test_a_failing_model_never_raises_and_the_template_says_why(error: Exception, code: str) -> None:
    insight = narrator_for(ScriptedModel(error=error)).narrate(stall_report(), "en")
    assert insight.fallback_used and insight.text == narrative(stall_report(), "en").text
    assert insight.fallback_reason is not None and insight.fallback_reason.startswith(f"{code}: ")


def test_a_model_that_became_unavailable_marks_the_narrator_degraded_until_it_answers_again() -> None:
    model = ScriptedModel(error=ModelUnavailableError("scripted-model", "the generation service stopped"))
    narrator = narrator_for(model)
    narrator.narrate(stall_report(), "en")
    assert narrator.status()["degraded"] is True and "stopped" in narrator.status()["reason"]
    model.error, model.reply = None, faithful_text()
    narrator.narrate(stall_report(), "en")
    assert narrator.status()["degraded"] is False


def test_a_reply_cut_at_the_deadline_is_not_used() -> None:
    insight = narrator_for(ScriptedModel(faithful_text(), finish_reason="deadline"), deadline_s=5).narrate(
        stall_report(), "en"
    )
    assert insight.fallback_reason == "deadline: the model passed its 5 s deadline"


def test_a_reply_cut_by_the_token_limit_keeps_its_complete_sentences() -> None:
    text = faithful_text() + " The archive is"
    insight = narrator_for(ScriptedModel(text, finish_reason="length")).narrate(stall_report(), "en")
    assert insight.grounded and insight.text == faithful_text()


def test_a_reply_cut_before_its_first_sentence_ended_is_truncated() -> None:
    insight = narrator_for(ScriptedModel("The network has produced no", finish_reason="length")).narrate(
        stall_report(), "en"
    )
    assert insight.fallback_reason is not None and insight.fallback_reason.startswith("truncated: ")


def test_without_a_model_the_template_answers_and_says_the_model_is_unavailable() -> None:
    narrator = Narrator(None, unavailable_reason="weights not found", matcher=QuestionMatcher(encoder=None))
    insight = narrator.narrate(stall_report(), "zh-TW")
    assert insight.fallback_reason == "model_unavailable: weights not found"
    assert narrator.status() | {"fallback_reasons": None} == {
        "model": None,
        "mode": "templates",
        "degraded": True,
        "reason": "weights not found",
        "narratives": 1,
        "answers": 0,
        "grounded": 0,
        "fallback": 1,
        "fallback_reasons": None,
    }


def test_templates_only_by_choice_is_not_degraded() -> None:
    narrator = narrator_for(None)
    insight = narrator.narrate(stall_report(), "en")
    assert insight.fallback_reason is not None and insight.fallback_reason.startswith("templates_only: ")
    assert narrator.status()["degraded"] is False


def test_skip_model_uses_the_template_without_asking_the_model() -> None:
    model = ScriptedModel(faithful_text())
    insight = narrator_for(model).narrate(stall_report(), "en", skip_model="behind: 300 s late")
    assert insight.fallback_reason == "behind: 300 s late" and model.calls == []


def test_an_unsupported_language_is_a_field_error() -> None:
    with pytest.raises(UnsupportedLanguageError) as error:
        narrator_for(None).narrate(stall_report(), "fr")  # type: ignore[arg-type]
    assert error.value.field == "language"
    assert str(error.value) == "language: must be one of zh-TW, en (got 'fr')"
    assert isinstance(error.value, ValueError)


def test_status_counts_grounded_texts_and_fallbacks_by_reason() -> None:
    model = ScriptedModel(faithful_text())
    narrator = narrator_for(model)
    narrator.narrate(stall_report(), "en")
    model.reply = "The price fell 2.5%."
    narrator.narrate(stall_report(), "en")
    status = narrator.status()
    assert (status["model"], status["narratives"], status["grounded"], status["fallback"]) == (
        "scripted-model",
        2,
        1,
        1,
    )
    assert status["fallback_reasons"] == {"ungrounded": 1}


def test_closing_the_narrator_stops_its_model() -> None:
    model = ScriptedModel(faithful_text())
    narrator_for(model).close()
    narrator_for(None).close()  # nothing to stop
    assert model.closed


def test_the_insight_names_the_report_it_is_about() -> None:
    insight = narrator_for(None).narrate(stall_report(), "en")
    assert insight.report_observed_at == stall_report().observed_at and insight.kind == "narrative"


def test_a_model_that_cannot_load_leaves_a_narrator_of_templates_that_says_why() -> None:
    from qcl.config import load_settings
    from qcl.narrate.service import open_narrator

    narrator = open_narrator(load_settings(model="deepseek-r1-distill-qwen-1.5b", model_path=None, model_hub=False))
    status = narrator.status()
    assert (status["mode"], status["degraded"]) == ("templates", True)
    assert "deepseek-r1-distill-qwen-1.5b" in status["reason"] and "unavailable" in status["reason"]
    insight = narrator.narrate(stall_report(), "en")
    assert (insight.fallback_reason or "").startswith("model_unavailable: model 'deepseek-r1-distill-qwen-1.5b'")

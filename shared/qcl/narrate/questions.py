"""Questions: checked fields, the intents they are about, and the template answer built from the report.

    from qcl.narrate.questions import QuestionMatcher, answer_template, validate_question
    question = validate_question("為什麼現在空 tick 變多？")     # QuestionError for empty / oversized questions
    match = QuestionMatcher().match(question)                    # None: not about the network's state
    answer_template(report, match, "zh-TW").text

Matching: keywords first (intents.py, both languages); an English question no keyword matches is compared with
each intent's example phrasings by sentence embedding (embeddings.py, loaded on first need) and matches when the
closest is at least MIN_SIMILARITY. Anything else is off-topic and gets REFUSAL, never a guess. A question's
wording never changes what is done: "ignore previous instructions…" is matched like any other text.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, cast

from qcl.analysis.report import AnalysisReport
from qcl.narrate.embeddings import MIN_SIMILARITY, IntentIndex, SentenceEncoder
from qcl.narrate.errors import QuestionError, UnsupportedLanguageError
from qcl.narrate.formats import LANGUAGES, Language
from qcl.narrate.intents import Intent, keyword_intents
from qcl.narrate.templates import Rendered, compose

MAX_QUESTION_CHARS = 500  # the limit of AIRequest.question (events.py)
KEYWORD_SCORE = 0.9  # a keyword hit can still misread a question ("bitcoin price"): not full certainty

REFUSAL = {
    "en": "I can only answer questions about the Qubic network's state (ticks, epochs, tick quality, price, supply).",
    "zh-TW": "我只能回答關於 Qubic 網路狀態的問題（tick、epoch、tick 品質、價格、供應量等）。",
}
NO_REPORT = {
    "en": "No analysis of the network is available yet; please ask again in a minute.",
    "zh-TW": "目前還沒有網路的分析資料，請稍後再問。",
}
NO_FINDING = {
    "en": "The latest report raises no finding about {topic}",
    "zh-TW": "最新的分析報告中沒有關於「{topic}」的異常",
}
_HAN = re.compile(r"[\u3400-\u9fff]")


def validate_language(language: object) -> Language:
    """The language, or UnsupportedLanguageError naming the field ("zh-tw" is accepted as "zh-TW")."""
    if isinstance(language, str):
        for known in LANGUAGES:
            if language.strip().lower() == known.lower():
                return known
    raise UnsupportedLanguageError(f"must be one of {', '.join(LANGUAGES)} (got {language!r})")


def validate_question(question: object) -> str:
    """The question stripped of surrounding space, or QuestionError naming the field."""
    if not isinstance(question, str):
        raise QuestionError(f"must be text (got {type(question).__name__})")
    text = question.strip()
    if not text:
        raise QuestionError("must not be empty")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(f"must be at most {MAX_QUESTION_CHARS} characters (got {len(text)})")
    return text


@dataclass(frozen=True)
class IntentMatch:
    intents: tuple[Intent, ...]
    score: float  # KEYWORD_SCORE for keywords, the cosine similarity for an embedding match
    via: Literal["keywords", "embedding"]


class QuestionMatcher:
    """Keyword matching, then embeddings for English questions; the encoder loads on first need, once."""

    def __init__(self, encoder: Callable[[], SentenceEncoder | None] | None = SentenceEncoder.bundled) -> None:
        self._make_encoder = encoder
        self._index: IntentIndex | None = None
        self._loaded = False
        self._lock = threading.Lock()

    def match(self, question: str) -> IntentMatch | None:
        found = keyword_intents(question)
        if found:
            return IntentMatch(tuple(found), KEYWORD_SCORE, "keywords")
        if _HAN.search(question) or (index := self._intent_index()) is None:
            return None
        intent, similarity = index.best(question)
        return IntentMatch((intent,), round(similarity, 3), "embedding") if similarity >= MIN_SIMILARITY else None

    def _intent_index(self) -> IntentIndex | None:
        with self._lock:
            if not self._loaded:
                encoder = self._make_encoder() if self._make_encoder else None
                self._index = IntentIndex(encoder) if encoder is not None else None
                self._loaded = True
            return self._index


def answer_template(report: AnalysisReport, match: IntentMatch, language: Language) -> Rendered:
    """The intents' findings and metric sentences; says so when no finding of theirs is active."""
    code_sets = [intent.codes for intent in match.intents]
    codes = None if any(c is None for c in code_sets) else frozenset().union(*cast(list[frozenset[str]], code_sets))
    groups = tuple(dict.fromkeys(group for intent in match.intents for group in intent.groups))
    overview = codes is None
    rendered = compose(report, language, codes=codes, groups=groups, health=overview)
    if codes and not any(finding.code.value in codes for finding in report.findings):
        topics = ("、" if language == "zh-TW" else ", ").join(
            intent.topic[language] for intent in match.intents if intent.codes
        )
        missing = NO_FINDING[language].format(topic=topics)
        return Rendered(language, (missing, *rendered.sentences), rendered.sources)
    return rendered

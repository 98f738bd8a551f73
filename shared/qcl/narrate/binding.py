"""Numbers bound to their quantity: each number of a text must be written next to a word of the quantity it is.

    from qcl.narrate.binding import binding_issues
    binding_issues("142,979,335 QU have been burned", report_facts(report))
    # ["unbound: '142,979,335' is written as burned supply but is the market cap of the report"]

Rule: in the clause of a number, the nearest word that names a quantity (intents.py: each topic's `binds`) decides
what the number is; the number must equal (within its written rounding, grounding.py's `matches`) a report value
of that quantity: one of the topic's sources, or a figure of one of its findings. A finding's figures are told in
sentences of several clauses ("empty ticks are up: 559 of the 4,659 ticks added…"), so a number that is a figure
of a finding is also bound when its sentence names a topic of that finding. Any other number is unbound.

So "the market cap is 148,050,688 USD" passes, while the market
cap written where burned supply was asked, "health score dropped to 8.05e-7 USD", or "the pause is 61 seconds (186
seconds)" with 186 the epoch, fail: grounding used to accept any report value anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from qcl.analysis.report import FindingCode
from qcl.narrate.facts import Fact, ReportFacts
from qcl.narrate.intents import TOPICS, Topic
from qcl.narrate.mentions import NumberMention, extract, normalize

# Clauses end at commas and semicolons but not colons ("last 10,000 ticks: 99.67%" is one statement); sentences at a
# full stop followed by a space ("tick_info.tick" is a name).
_CLAUSE_END = re.compile(r"[.,](?!\d)|[;!?\n。，；！？、]")
_SENTENCE_END = re.compile(r"\.(?=\s|$)|[!?\n。！？]")
FINDING_CODES = frozenset(code.value for code in FindingCode)
# Words any number may sit beside that name no quantity of their own: counts of findings, the report's year.
_GENERAL_SOURCES = frozenset({"findings", "observed_at"})


@dataclass(frozen=True)
class Cue:
    word: str
    sources: frozenset[str]  # report values and finding codes a number beside this word may be
    label: str  # for messages: "market cap"


@cache
def _cues() -> tuple[tuple[Cue, re.Pattern[str]], ...]:
    """Every binding word, longest first (so "空 tick" is read before "tick"), with the sources it allows."""
    by_word: dict[str, tuple[set[str], list[str]]] = {}
    for topic in TOPICS:
        for word in topic.binds:
            sources, labels = by_word.setdefault(word.lower(), (set(), []))
            sources.update(_topic_sources(topic))
            labels.append(topic.label["en"].removeprefix("the "))
    cues = [Cue(word, frozenset(sources), " / ".join(labels)) for word, (sources, labels) in by_word.items()]
    cues.sort(key=lambda cue: -len(cue.word))
    return tuple((cue, _word_pattern(cue.word)) for cue in cues)


def _topic_sources(topic: Topic) -> set[str]:
    return {*topic.sources, *topic.codes}


def _word_pattern(word: str) -> re.Pattern[str]:
    body = re.escape(word).replace(r"\ ", r"\s*")
    if word.isascii() and word[0].isalnum():
        return re.compile(rf"(?<![A-Za-z0-9]){body}(?:s|es|ed|d)?(?![A-Za-z0-9])", re.I)
    return re.compile(body, re.I)


@dataclass(frozen=True)
class _Found:
    start: int
    end: int
    cue: Cue


def binding_issues(text: str, facts: ReportFacts, mentions: Iterable[NumberMention] | None = None) -> list[str]:
    """One issue per number of `text` that is not written beside a word of the quantity it is (module docstring)."""
    from qcl.narrate.grounding import matches  # grounding imports this module

    normal = normalize(text.replace("，", "；"))  # NFKC makes "，" a "," that a digit may follow: "，24 小時"
    numbers = list(mentions if mentions is not None else extract(text).numbers)
    issues: list[str] = []
    sentences = [
        (start, {s for found in _find_cues(sentence) for s in found.cue.sources})
        for start, sentence in _clauses(normal, _SENTENCE_END)
    ]
    for clause_start, clause in _clauses(normal, _CLAUSE_END):
        cues = _find_cues(clause)
        in_sentence = next(sources for start, sources in reversed(sentences) if start <= clause_start)
        for mention in (n for n in numbers if clause_start <= n.start < clause_start + len(clause)):
            start, end = mention.start - clause_start, mention.end - clause_start
            cue = _nearest(cues, start, end)
            candidates = [fact for fact in facts.values if matches(mention, fact)]
            if not candidates:
                continue  # grounding reports a number that is no report value at all
            if any(fact.source in _GENERAL_SOURCES for fact in candidates):
                continue
            if cue is not None and any(fact.source in cue.cue.sources for fact in candidates):
                continue
            if any(fact.source in FINDING_CODES and fact.source in in_sentence for fact in candidates):
                continue  # a finding's figure in a sentence that names the finding's subject
            if cue is None:
                issues.append(f"unbound: {mention.text!r} names no quantity (no word such as price or supply near it)")
            else:
                issues.append(
                    f"unbound: {mention.text!r} is written as {cue.cue.label} ({cue.cue.word!r}) but is "
                    f"{_describe(candidates)} of the report"
                )
    return issues


def _clauses(text: str, ends: re.Pattern[str]) -> list[tuple[int, str]]:
    clauses, start = [], 0
    for match in ends.finditer(text):
        clauses.append((start, text[start : match.start()]))
        start = match.end()
    clauses.append((start, text[start:]))
    return clauses


def _find_cues(clause: str) -> list[_Found]:
    found: list[_Found] = []
    for cue, pattern in _cues():
        for match in list(pattern.finditer(clause)):
            found.append(_Found(match.start(), match.end(), cue))
            clause = clause[: match.start()] + "\0" * (match.end() - match.start()) + clause[match.end() :]
    return found


# Words that say what a number counts in rather than what it is ("15,576 ticks", "epoch 187"): they decide only
# where no more specific word stands in the clause.
WEAK_CUES = frozenset({"tick", "epoch", "紀元"})


def _nearest(cues: list[_Found], start: int, end: int) -> _Found | None:
    """The specific cue closest to the number's span (a weak one where none is), the one before it on a tie."""

    def distance(found: _Found) -> tuple[int, int]:
        gap = start - found.end if found.end <= start else found.start - end if found.start >= end else 0
        return max(gap, 0), 0 if found.end <= start else 1

    outside = [c for c in cues if c.end <= start or c.start >= end]
    specific = [c for c in outside if c.cue.word not in WEAK_CUES]
    chosen = specific or outside
    return min(chosen, key=distance) if chosen else None


def _describe(facts: list[Fact]) -> str:
    names = list(dict.fromkeys(fact.source for fact in facts))
    return "the " + " / ".join(names[:3])

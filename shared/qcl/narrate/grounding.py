"""The grounding check: may this text reach a user as a statement about this report?

    from qcl.narrate.facts import report_facts
    from qcl.narrate.grounding import check_grounding
    result = check_grounding(model_text, report_facts(report), "en")
    result.grounded, result.issues   # False, ("number '2.5%' matches no percentage of the report (±0.05)",)

A text passes when every one of these holds:
- every number it writes (mentions.py reads them) equals a value of the report, exactly or rounded to the digits
  written: |written − value| ≤ half the unit of the last written digit ("98.7" matches 98.66–98.75, "37 million"
  matches 36.5–37.5 million, "9.12e-7" matches 9.115e-7–9.125e-7), and a rounded number keeps at least
  MIN_ROUNDED_DIGITS significant digits ("1" does not stand for 1.06, "6%" not for 5.8%); an unsigned number
  matches the value's magnitude ("fell 5.8%" for a change of −5.8), a signed one must agree in sign ("−5.8%");
- a percentage matches only a percentage of the report, a price in USD only a price or market cap, the number
  after the word "tick" only a tick and after "epoch" only an epoch; other numbers may match any value;
- every number is bound to its quantity: written beside a word of the quantity it is a value of (binding.py), so
  the market cap written as the burned supply fails though both are report values;
- every HH:MM time and date it writes is one in the report (times in UTC, as the report has them);
- every word about the network's state agrees with the report's status and findings ("healthy" needs a healthy
  status, "a serious problem" a warning or worse, "critical" / "嚴重" a critical finding; claims.py);
- every direction word agrees with the data for its subject (claims.py, facts.py trends): "the price fell" needs
  a fall in the report; a direction whose clause names no subject must agree with some trend of the report;
- a count or identifier (ticks, epochs, findings, seconds the rules round to integers) is not written with
  decimals ("a score of 60/100, which is 1.00" does not copy anything);
- it is written in the language asked for (language.py), reads as finished prose (no stutter, broken characters or
  sentence cut off: language.fluency_issue) and is not empty;
- an answer states the figure each part of the question asked for (`must_state`: one source of each set; a reply
  that gives the empty-tick count where the share was asked leaves it out);
- it says something checkable: at least one figure of the report, and, where `must_cite` names finding codes
  (a narrative of a report with warnings: those findings), a figure or trend of at least one of them;
- it does not loop: no clause repeated, no short unit repeated back to back four times or more (small models
  degenerate into "The world's biggest ever." × 16, which has no number to fail on).
A made-up figure can pass only by coinciding, within its rounding, with a value of the same kind in the report.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from qcl.narrate.binding import binding_issues
from qcl.narrate.claims import direction_claims, state_claims
from qcl.narrate.facts import Fact, ReportFacts
from qcl.narrate.formats import Language
from qcl.narrate.language import fluency_issue, language_issue
from qcl.narrate.mentions import NumberMention, extract

_CLAUSE_END = re.compile(r"[.,:](?!\d)|[;!?\n。，；：！？、]")
_NUMBER_PART = re.compile(r"[\d,.\s]+")
_LOOP = re.compile(r"(.{2,16}?)\1{3,}", re.S)  # a unit of 2–16 characters, four or more times in a row
MIN_ROUNDED_DIGITS = 2  # "1" for 1.06 s is not a copy of anything; "1.1" or "37 million" are roundings
MIN_REPEATED_CLAUSE = 3  # clauses of fewer words (Latin words + Han characters) may repeat: "Note:", "and"
_WORD = re.compile(r"[A-Za-z]+|[\u3400-\u9fff]")
_KIND_NAME = {"number": "number", "percent": "percentage", "usd": "price", "tick": "tick", "epoch": "epoch"}


@dataclass(frozen=True)
class GroundingResult:
    grounded: bool
    issues: tuple[str, ...]  # one per failing token, naming it
    sources: tuple[str, ...]  # metrics and finding codes whose values or trends the text used


def matches(mention: NumberMention, fact: Fact) -> bool:
    """The rounding rule of the module docstring."""
    if mention.kind != "number" and mention.kind != fact.kind:
        return False
    if fact.integral and mention.precision < 1:
        return False
    target = fact.value if mention.signed else abs(fact.value)
    noise = 1e-9 * max(abs(target), abs(mention.value))  # float noise only
    if abs(mention.value - target) <= noise:
        return True
    rounded_close = abs(mention.value - target) <= mention.precision / 2 + noise
    return rounded_close and significant_digits(mention) >= MIN_ROUNDED_DIGITS


def significant_digits(mention: NumberMention) -> int:
    """Digits written from the first non-zero one to the last ("98.7" 3, "37 million" 2, "1" 1, "0.004" 1)."""
    if mention.precision <= 0 or mention.value == 0:
        return 99  # exact forms (10^12) and zero
    return max(0, math.floor(math.log10(abs(mention.value)) - math.log10(mention.precision) + 1e-9) + 1)


def repetition_issue(text: str) -> str | None:
    """Why `text` reads as a degenerate loop, or None."""
    for loop in _LOOP.finditer(text):
        unit = loop.group(1)
        if not _NUMBER_PART.fullmatch(unit):  # ",000,000,000" is a number, not a loop
            return f"repetition: {unit!r} repeated {len(loop.group(0)) // len(unit)} times in a row"
    clauses = Counter(" ".join(c.split()).lower() for c in _CLAUSE_END.split(text))
    repeated = [c for c, n in clauses.items() if n > 1 and len(_WORD.findall(c)) >= MIN_REPEATED_CLAUSE]
    return f"repetition: {repeated[0]!r} written {clauses[repeated[0]]} times" if repeated else None


def check_grounding(
    text: str,
    facts: ReportFacts,
    language: Language,
    *,
    must_cite: frozenset[str] = frozenset(),
    must_state: tuple[frozenset[str], ...] = (),
) -> GroundingResult:
    issues: list[str] = []
    sources: set[str] = set()
    if not text.strip():
        return GroundingResult(False, ("empty text",), ())
    if (problem := language_issue(text, language)) is not None:
        issues.append(problem)
    if (loop := repetition_issue(text)) is not None:
        issues.append(loop)
    if (rough := fluency_issue(text, language)) is not None:
        issues.append(rough)
    mentions = extract(text)
    issues.extend(binding_issues(text, facts, mentions.numbers))
    for mention in mentions.numbers:
        found = [fact for fact in facts.values if matches(mention, fact)]
        if found:
            sources.update(fact.source for fact in found)
        else:
            kind = _KIND_NAME[mention.kind]
            where = "" if mention.kind == "number" else f" {kind}"
            issues.append(
                f"{kind} {mention.text!r} matches no{where} value of the report (rounding ±{mention.precision / 2:g})"
            )
    issues.extend(f"time {time!r} is not a time of the report" for time in mentions.times if time not in facts.times)
    for date in mentions.dates:
        known = date in facts.dates if len(date) == 10 else any(d.endswith(date) for d in facts.dates)
        if not known:
            issues.append(f"date {date!r} is not a date of the report")
    if not sources:
        issues.append("no figure: the text states no value of the report, so nothing in it can be checked")
    for claim in direction_claims(text):
        subjects = claim.subjects or (None,)
        allowed = set().union(*(facts.directions(subject) for subject in subjects))
        about = ", ".join(claim.subjects) or "no subject named"
        if claim.direction in allowed:
            sources.update(
                t.source
                for t in facts.trends
                if t.direction == claim.direction and (not claim.subjects or t.subject in claim.subjects)
            )
        else:
            shown = ", ".join(sorted(allowed)) or "no trend"
            issues.append(f"direction {claim.word!r} ({about}) disagrees with the data ({shown})")
    for state in state_claims(text):
        if not facts.allows(state.level):
            severities = ", ".join(sorted(facts.severities)) or "no findings"
            issues.append(
                f"state {state.word!r} ({state.level}) disagrees with the report ({facts.status}; {severities})"
            )
    if must_cite and sources and not must_cite & sources:
        issues.append(f"omission: the text states nothing of {', '.join(sorted(must_cite))}")
    issues.extend(
        f"omission: the text leaves out the figure asked for ({' or '.join(sorted(group))})"
        for group in must_state
        if sources and not group & sources
    )
    return GroundingResult(not issues, tuple(issues), tuple(sorted(sources)))

"""The question evaluation: a labelled set of questions a user would ask, read and answered against real reports.

    qcl eval questions --json                 # composed answers: intent, answer and decline accuracy, latency
    qcl eval questions --model 20 --json      # and the share the model phrased, over 20 answers per language

The set (data/questions.jsonl, one JSON object a line) holds each question, the language of the answer wanted,
its labels (topic names and "definition:<term>", intents.py) and what kind of reply is right: `answer`,
`decline` (forecasts, investment advice) or `refusal` (not about the network). Each question is answered against
the bundled sample's final report and the reports where each finding first appeared, so answers are checked on
healthy and troubled networks alike. An answer is right when it carries, for each label, the report's figure for
it (the asked quantity: the market cap, not the price) and every number in it is a report value bound to its own
quantity (binding.py). Expected figures are read from the report at evaluation time, never written in the set.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from qcl.analysis.report import AnalysisReport
from qcl.events import AIInsight
from qcl.narrate.answers import DECLINE, DEFINITIONS, PROBLEM, UNAVAILABLE
from qcl.narrate.binding import binding_issues
from qcl.narrate.facts import derived_metrics, report_facts
from qcl.narrate.formats import LANGUAGES, Language, metric_text, usd_amount
from qcl.narrate.grounding import matches
from qcl.narrate.mentions import extract
from qcl.narrate.questions import REFUSAL, held_amount, spend_amount, validate_language
from qcl.narrate.service import TEMPLATE_MODEL, Narrator

ReplyKind = Literal["answer", "decline", "refusal"]


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    language: Language
    labels: tuple[str, ...]
    kind: ReplyKind


def load_questions(path: Path | None = None) -> list[EvalQuestion]:
    """The evaluation set; a malformed line is an error naming its line number."""
    text = (
        path.read_text("utf-8")
        if path
        else resources.files("qcl.narrate").joinpath("data/questions.jsonl").read_text("utf-8")
    )
    questions = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(
                EvalQuestion(row["question"], validate_language(row["language"]), tuple(row["labels"]), row["kind"])
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"questions line {number}: {exc}") from None
    return questions


def expected_figure(label: str, report: AnalysisReport, language: Language) -> str | None:
    """The text an answer to `label` must carry for `report` (None: the label has no single figure)."""
    if label.startswith("definition:"):
        return DEFINITIONS[label.split(":", 1)[1]][0 if language == "en" else 1]
    if label in DECLINE:
        return DECLINE[label][language]
    if label == "unavailable":
        return UNAVAILABLE[language]
    if label in ("health", "findings"):
        return f"{report.health_score}/100" if label == "health" else None
    if label == "data":
        return f"{report.window_observations:,}"
    if label == "updated":
        return report.observed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    m = report.metrics
    if m is None:
        return None
    change = m.price_change_1h_pct if m.price_change_1h_pct is not None else m.price_change_24h_pct
    figures: dict[str, tuple[str, float | None]] = {
        "price": ("price_usd", m.price_usd),
        "price_change": ("price_change_1h_pct", abs(change) if change is not None else None),
        "market_cap": ("market_cap_usd", m.market_cap_usd),
        "supply": ("circulating_supply", m.circulating_supply),
        "issued": ("issued_qus", derived_metrics(m)["issued_qus"] or m.circulating_supply),
        "burned": ("burned_qus", m.burned_qus),
        "empty_share": ("empty_tick_share_pct", derived_metrics(m)["empty_tick_share_pct"]),
        "empty_ticks": ("empty_ticks_in_epoch", m.empty_ticks_in_epoch),
        "quality": ("epoch_tick_quality_pct", m.epoch_tick_quality_pct),
        "pace": ("tick_rate_per_s", m.tick_rate_per_s) if m.tick_rate_per_s is not None else ("tick", None),
        "epoch": ("epoch", m.epoch),
        "tick": ("tick", m.tick),
        "ticks_in_epoch": ("ticks_in_epoch", m.ticks_in_epoch),
        "active": ("active_addresses", m.active_addresses),
        "archive": ("archive_lag_ticks", m.archive_lag_ticks),
    }
    field, value = figures[label]
    return None if value is None else metric_text(field, value).lstrip("+")


def answer_problems(item: EvalQuestion, insight: AIInsight, report: AnalysisReport) -> list[str]:
    """Why `insight` is not the right reply to `item` about `report` (empty: it is)."""
    text = insight.text
    if item.kind == "refusal":
        return [] if text == REFUSAL[item.language] else [f"expected the refusal, got {text[:80]!r}"]
    problems = []
    for label in item.labels:
        figure = expected_figure(label, report, item.language)
        if figure is not None and figure not in text:
            problems.append(f"{label}: {figure!r} missing")
        if label == "findings":
            wanted = {f.code.value for f in report.findings if f.severity in PROBLEM}
            if not wanted <= set(insight.sources):
                problems.append(f"findings: {sorted(wanted - set(insight.sources))} not told")
    held = held_amount(item.question) if "price" in item.labels else None
    if held is not None and report.metrics is not None and usd_amount(held * report.metrics.price_usd) not in text:
        problems.append(f"price: the worth of {held:,.0f} QU missing")
    spend = spend_amount(item.question) if "price" in item.labels else None
    if spend is not None and report.metrics is not None and f"{spend / report.metrics.price_usd:,.0f}" not in text:
        problems.append(f"price: the QU that {spend:,.0f} USD buy missing")
    facts = report_facts(report, held_qu=held, spend_usd=spend)
    mentions = extract(text).numbers
    problems += [
        f"number {m.text!r} is no report value" for m in mentions if not any(matches(m, f) for f in facts.values)
    ]
    problems += binding_issues(text, facts, mentions)
    return problems


def eval_reports() -> list[AnalysisReport]:
    """The sample's final report, then the report where each finding code first appeared."""
    from qcl.analysis import analyze_capture
    from qcl.bench.narrate import sample_onset_reports
    from qcl.qubic.capture import read_capture
    from qcl.qubic.synth import sample_capture_path

    reports = [analyze_capture(read_capture(sample_capture_path())).report]
    seen: set[str] = set()
    for report in sample_onset_reports():
        codes = {f.code.value for f in report.findings} - seen
        if codes:
            reports.append(report)
            seen |= codes
    return reports


def evaluate(
    narrator: Narrator,
    questions: list[EvalQuestion],
    reports: list[AnalysisReport],
    *,
    model_sample: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Intent, answer and decline accuracy of composed answers over `reports`; latency on the first report; with
    `model_sample` N, the share of N answers per language the model phrased (and that passed every check)."""
    by_label: dict[str, list[bool]] = defaultdict(list)
    intent_right = 0
    answers = declines = refusals = 0
    answers_right = declines_right = refusals_right = 0
    unbound = 0
    latencies: list[float] = []
    wrong: list[dict[str, Any]] = []
    total = len(questions)
    for done, item in enumerate(questions, start=1):
        match = narrator.matcher.match(item.question)
        got = tuple(sorted(match.labels)) if match is not None else ()
        correct = got == tuple(sorted(item.labels))
        intent_right += correct
        for label in item.labels or ("offtopic",):
            by_label[label].append(correct)
        for index, report in enumerate(reports):
            started = time.perf_counter()
            insight = narrator.answer(item.question, item.language, report, phrase=False)
            if index == 0:
                latencies.append((time.perf_counter() - started) * 1000)
            problems = answer_problems(item, insight, report)
            unbound += sum(p.startswith("unbound") for p in problems)
            ok = not problems
            if item.kind == "answer":
                answers, answers_right = answers + 1, answers_right + ok
            elif item.kind == "decline":
                declines, declines_right = declines + 1, declines_right + ok
            else:
                refusals, refusals_right = refusals + 1, refusals_right + ok
            if not ok and len(wrong) < 40:
                wrong.append({"question": item.question, "report": index, "labels": got, "problems": problems[:3]})
        if progress:
            progress(done, total)
    result: dict[str, Any] = {
        "questions": total,
        "reports": len(reports),
        "languages": dict(Counter(item.language for item in questions)),
        "intent_accuracy": _share(intent_right, total),
        "per_intent": {
            label: {"n": len(hits), "accuracy": _share(sum(hits), len(hits))}
            for label, hits in sorted(by_label.items())
        },
        "answer_accuracy": _share(answers_right, answers),
        "decline_accuracy": _share(declines_right + refusals_right, declines + refusals),
        "unbound_numbers": unbound,
        "composed_latency_ms": {"p50": _percentile(latencies, 50), "p95": _percentile(latencies, 95)},
        "wrong": wrong,
    }
    if model_sample:
        result["model_phrased"] = _model_share(narrator, questions, reports[0], model_sample, progress)
    return result


def _model_share(
    narrator: Narrator,
    questions: Iterable[EvalQuestion],
    report: AnalysisReport,
    sample: int,
    progress: Callable[[int, int], None] | None,
) -> dict[str, Any]:
    shares: dict[str, Any] = {}
    for language in LANGUAGES:
        chosen = [q for q in questions if q.kind == "answer" and q.language == language][:sample]
        phrased, reasons, latencies = 0, Counter[str](), []
        for done, item in enumerate(chosen, start=1):
            insight = narrator.answer(item.question, language, report)
            latencies.append(insight.latency_ms)
            if insight.model != TEMPLATE_MODEL and not answer_problems(item, insight, report):
                phrased += 1
            elif insight.fallback_reason:
                reasons[insight.fallback_reason.split(":", 1)[0]] += 1
            if progress:
                progress(done, len(chosen))
        shares[language] = {
            "asked": len(chosen),
            "model_phrased_share": _share(phrased, len(chosen)),
            "fallback_reasons": dict(reasons),
            "latency_ms": {"p50": _percentile(latencies, 50), "p95": _percentile(latencies, 95)},
        }
    return shares


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _percentile(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 2)
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 2)

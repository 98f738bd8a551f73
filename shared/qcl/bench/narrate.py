"""`qcl bench narrate`: how often the model's narratives pass the grounding check, and how long they take.

    qcl bench narrate --json                  # every onset report of the bundled sample, zh-TW and en
    qcl bench narrate --reports 5 --lang en   # a quicker look

The reports are the bundled sample's at each observation where a finding was raised (onset_reports): the ones
the narrator service narrates as material changes. Each is narrated with the configured model; the figures are
the share that passed the grounding check per language, why the others fell back, and the latency of a narration.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from qcl.analysis import analyze_capture, analyze_window, check_consistency, invalid_report
from qcl.analysis.engine import RollingAnalysis
from qcl.analysis.report import AnalysisReport
from qcl.config import Settings
from qcl.narrate.formats import LANGUAGES, Language
from qcl.narrate.prompts import PROMPT_VERSION
from qcl.narrate.questions import QuestionMatcher
from qcl.narrate.service import Composition, Narrator
from qcl.pipeline.narrator import material_change, narrated_summary
from qcl.qubic.capture import InvalidLine, read_capture
from qcl.qubic.types import Observation

DAY_S = 86400


def onset_reports(items: Iterable[Observation | InvalidLine], *, window_s: int = DAY_S) -> list[AnalysisReport]:
    """The report at each item where analyze_capture raised a finding, and at each invalid item, in order."""
    items = list(items)
    raised_at = {finding.observed_at for finding in analyze_capture(items, window_s=window_s).findings}
    window: deque[Observation] = deque()
    reports: list[AnalysisReport] = []
    for item in items:
        if isinstance(item, InvalidLine):
            reports.append(invalid_report(item.reason, observed_at=item.observed_at, window=window))
            continue
        reason = check_consistency(window, item)
        if reason is not None:
            reports.append(invalid_report(reason, observed_at=item.observed_at, window=window))
            continue
        window.append(item)
        while (item.observed_at - window[0].observed_at).total_seconds() > window_s:
            window.popleft()
        if item.observed_at in raised_at:
            reports.append(analyze_window(window))
    return reports


def policy_figures(items: Iterable[Observation | InvalidLine], *, interval_s: float) -> dict[str, Any]:
    """How many of a capture's reports the narrator service narrates (pipeline/narrator.py material_change).

    The reports are the analyzer's, one per valid observation over a day's rolling window, made as it makes them
    (RollingAnalysis: O(1) amortised a step, where analysing each whole window again was O(window) a report)."""
    rolling = RollingAnalysis(window_s=DAY_S)
    previous: dict[str, Any] | None = None
    reports, narrated = 0, Counter[str]()
    first: Observation | None = None
    for item in items:
        if isinstance(item, InvalidLine) or rolling.check(item) is not None:
            continue
        report = rolling.accept(item)
        first = first or item
        reports += 1
        why = material_change(previous, report, interval_s)
        if why is not None:
            narrated[why.split(" ")[0]] += 1  # first / status / new / escalated (tick_stall escalated …) / routine
            previous = narrated_summary(report)
    last = rolling.window.last
    hours = (last.observed_at - first.observed_at).total_seconds() / 3600 if first and last else 0
    return {
        "reports": reports,
        "narrated": sum(narrated.values()),
        "by_reason": dict(narrated),
        "narrated_per_hour": round(sum(narrated.values()) / hours, 1) if hours else None,
    }


def sample_onset_reports(path: Path | None = None) -> list[AnalysisReport]:
    from qcl.qubic.synth import sample_capture_path

    return onset_reports(read_capture(path or sample_capture_path()))


# Questions asked of the sample's final report in each language (the same intents in both).
QUESTIONS: dict[Language, tuple[str, ...]] = {
    "en": (
        "What is the price trend today?",
        "Is the network stuck?",
        "How is the tick quality?",
        "Why are there more empty ticks now?",
    ),
    "zh-TW": ("今天的價格走勢如何？", "網路是不是卡住了？", "tick 品質怎麼樣？", "為什麼現在空 tick 變多？"),
}


def _percentile(values: list[float], q: int) -> float | None:
    if not values:
        return None
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0], 1)


def _figures(compositions: list[Composition]) -> dict[str, Any]:
    asked = [c.attempt for c in compositions if c.attempt.tokens]
    grounded = sum(c.insight.grounded for c in compositions)
    model_s = sum(a.model_ms for a in asked) / 1000
    failed = next((c.attempt for c in compositions if c.attempt.failure and c.attempt.text), None)
    passed = next((c.insight.text for c in compositions if c.insight.grounded), None)
    checked = [c.attempt.grounding for c in compositions if c.attempt.grounding is not None]

    def clean_share(*prefixes: str) -> float | None:
        """Of the model texts that were checked, the share with no issue of these kinds."""
        clean = sum(not any(i.startswith(prefixes) for i in g.issues) for g in checked)
        return round(clean / len(checked), 3) if checked else None

    return {
        "count": len(compositions),
        "grounded": grounded,
        "grounded_share": round(grounded / len(compositions), 3) if compositions else None,
        "model_texts_checked": len(checked),
        "bound_share": clean_share("unbound:"),
        "fluent_share": clean_share("fluency:", "repetition:"),
        "in_language_share": clean_share("language:"),
        "fallback_reasons": dict(
            Counter((c.attempt.failure or "").split(":")[0] for c in compositions if not c.insight.grounded)
        ),
        "model_latency_ms_p50": _percentile([a.model_ms for a in asked], 50),
        "model_latency_ms_p95": _percentile([a.model_ms for a in asked], 95),
        "tokens_per_s": round(sum(a.tokens for a in asked) / model_s, 1) if model_s else None,
        "example_grounded": passed,
        "example_rejected": {"text": failed.text[:300], "why": failed.failure} if failed and failed.text else None,
    }


def run_narrate_bench(
    settings: Settings,
    *,
    reports: int | None = None,
    languages: Sequence[Language] = LANGUAGES,
    questions: bool = True,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> dict[str, Any]:
    """Narrate the onset reports (and ask QUESTIONS of the final one) with the configured model; see the docstring."""
    from qcl.model.service import load_service

    settings = settings.model_copy(update={"model_result_cache": 0})  # every narration runs the model
    started = time.monotonic()
    service = load_service(settings)
    load_s = time.monotonic() - started
    # Every language is asked, whatever the registry allows: this bench is how a model's capability is measured.
    narrator = Narrator(service, matcher=QuestionMatcher(encoder=None), deadline_s=settings.narrate_deadline_s)
    chosen = sample_onset_reports()[:reports]
    asked = {language: QUESTIONS[language] if questions else () for language in languages}
    total = sum(len(chosen) + len(asked[language]) for language in languages)
    done = 0
    figures: dict[str, Any] = {}
    try:
        for language in languages:
            narratives, answers = [], []
            for report in chosen:
                narratives.append(narrator.compose_narrative(report, language))
                done += 1
                progress(done, total)
            for question in asked[language]:
                answers.append(narrator.compose_answer(question, language, chosen[-1]))
                done += 1
                progress(done, total)
            figures[language] = {"narratives": _figures(narratives)}
            if answers:
                figures[language]["answers"] = _figures(answers)
    finally:
        status = service.status()
        service.close()
    from qcl.qubic.synth import sample_capture_path

    return {
        "policy": policy_figures(read_capture(sample_capture_path()), interval_s=settings.narrate_interval_s),
        "model": status["model"],
        "quantization": status["quantization"],
        "threads": status["threads"],
        "cpu_count": os.cpu_count(),
        "load_s": round(load_s, 2),
        "prompt_version": PROMPT_VERSION,
        "reports": len(chosen),
        "languages": figures,
    }

"""Template narratives: one for every finding code and variant, in both languages, exact by construction."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from qcl.analysis.report import AnalysisReport, Finding, FindingCode
from qcl.bench.narrate import sample_onset_reports
from qcl.narrate.facts import report_facts
from qcl.narrate.findings_text import finding_sentence
from qcl.narrate.formats import LANGUAGES, Language, approx_large, metric_text
from qcl.narrate.grounding import check_grounding
from qcl.narrate.templates import NO_METRICS, compose, narrative


@cache
def sample_findings() -> dict[tuple[str, str, str], tuple[Finding, AnalysisReport]]:
    """Each (code, severity, metric) of the sample, with a report that holds it."""
    found: dict[tuple[str, str, str], tuple[Finding, AnalysisReport]] = {}
    for report in sample_onset_reports():
        for finding in report.findings:
            found.setdefault((finding.code.value, finding.severity, finding.metric), (finding, report))
    return found


def find(code: str, **where: str) -> tuple[Finding, AnalysisReport]:
    return next(
        pair
        for (c, severity, metric), pair in sample_findings().items()
        if c == code and where.get("severity", severity) == severity and where.get("metric", metric) == metric
    )


def alone(report: AnalysisReport, finding: Finding) -> AnalysisReport:
    """`report` with `finding` as its only finding (so the check sees only what this finding says)."""
    return report.model_copy(update={"findings": [finding]})


def assert_exact(report: AnalysisReport, finding: Finding, language: Language) -> str:
    epoch = report.metrics.epoch if report.metrics else None
    sentence = finding_sentence(finding, language, epoch=epoch)
    result = check_grounding(sentence, report_facts(alone(report, finding)), language)
    assert result.grounded, (sentence, result.issues)
    return sentence


def with_evidence(finding: Finding, **changes: Any) -> Finding:
    evidence = {k: v for k, v in finding.evidence.items() if changes.get(k, 0) is not None}
    evidence.update({k: v for k, v in changes.items() if v is not None})
    return finding.model_copy(update={"evidence": evidence})


def test_the_sample_holds_every_finding_code() -> None:
    assert {code for code, _, _ in sample_findings()} == {code.value for code in FindingCode}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_finding_variant_of_the_sample_has_an_exact_sentence(language: Language) -> None:
    for finding, report in sample_findings().values():
        sentence = assert_exact(report, finding, language)
        assert sentence != finding.message_en and sentence != finding.message_zh  # a template, not the message


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_quality_level_below_the_healthy_line_has_its_own_sentence(language: Language) -> None:
    drop, report = find("tick_quality_drop", severity="warning")
    level = drop.model_copy(update={"metric": "latest_stats.epochTickQuality", "threshold": 98.0})
    sentence = assert_exact(report, level, language)
    assert ("below the 98% threshold" in sentence) if language == "en" else ("低於 98% 的門檻" in sentence)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_young_epoch_dip_without_the_epoch_number_says_this_epoch(language: Language) -> None:
    young, _ = find("tick_quality_drop", severity="info")
    assert (
        finding_sentence(young, language, epoch=None)
        .split("：" if language == "zh-TW" else ": ")[1]
        .startswith("this epoch" if language == "en" else "本 epoch")
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_supply_above_its_expected_total_is_told_as_more(language: Language) -> None:
    anomaly, report = find("supply_anomaly")
    surplus = with_evidence(
        anomaly, difference=5, supply_change=None, previous_supply=None, changed_supply=None, changed_at=None
    )
    sentence = assert_exact(report, surplus, language)
    assert ("5 QU more than" in sentence) if language == "en" else ("多 5 QU" in sentence)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_mid_epoch_supply_change_alone_is_told(language: Language) -> None:
    anomaly, report = find("supply_anomaly")
    change = with_evidence(anomaly, difference=None, supply_plus_burned=None, expected_total=None)
    assert "-3,200,000,000 QU" in assert_exact(report, change, language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_empty_ticks_in_the_last_ten_thousand_alone_are_told(language: Language) -> None:
    empty, report = find("empty_ticks_high", severity="warning")
    last_10k = with_evidence(
        empty,
        recent_empty_share_pct=None,
        quality_last_10k_pct=96.5,
        ticks_in_last_10k=10000,
        empty_ticks_in_last_10k=350,
    )
    sentence = assert_exact(report, last_10k, language)
    assert "96.5%" in sentence and "350" in sentence


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_finding_of_another_evidence_shape_is_told_in_its_own_words(language: Language) -> None:
    stall, _ = find("tick_stall", severity="critical")
    odd = stall.model_copy(update={"evidence": {}})
    message = stall.message_en if language == "en" else stall.message_zh
    assert finding_sentence(odd, language).endswith(message)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_report_without_metrics_says_no_figures_are_available(language: Language) -> None:
    report = sample_onset_reports()[0].model_copy(update={"metrics": None})
    assert narrative(report, language).sentences[-1] == NO_METRICS[language]


def test_the_zh_tw_health_summary_reads_naturally() -> None:
    stall, report = find("tick_stall", severity="critical")
    text = compose(alone(report, stall), "zh-TW", codes=None, groups=()).text
    assert text.startswith(
        "截至 2025-11-12 08:52 UTC，Qubic 網路的健康分數為 60/100（欠佳），偵測到 1 項狀況（嚴重 1 項）。"
    )
    assert "嚴重：網路已經 121 秒沒有產生新的 tick，停在 tick 36998410" in text


def test_one_formatter_writes_each_metric() -> None:
    assert metric_text("epoch_tick_quality_pct", 98.7049) == "98.70%"
    assert metric_text("price_change_1h_pct", -0.04) == "+0.0%"  # no negative zero
    assert metric_text("price_change_24h_pct", 16.64) == "+16.6%"
    assert metric_text("price_usd", 9.123e-7) == "9.12e-7"
    assert metric_text("ticks_in_epoch", 558410) == "558,410"
    assert metric_text("tick", 36998410) == "36998410"


@pytest.mark.parametrize(
    ("value", "language", "text"),
    [
        (156_381_204_887_512, "zh-TW", "156.38 兆"),
        (156_381_204_887_512, "en", "156.38 trillion"),
        (3_200_000_000, "zh-TW", "32.00 億"),
        (45_000, "zh-TW", "4.50 萬"),
        (45_000, "en", None),
    ],
)
def test_large_amounts_are_written_in_the_language_s_units(value: int, language: Language, text: str | None) -> None:
    assert approx_large(value, language) == text

"""The grounding check: what it reads in a text, the rounding it allows, and what it rejects."""

from __future__ import annotations

import re
from functools import cache

import pytest

from qcl.analysis.report import AnalysisReport
from qcl.bench.narrate import sample_onset_reports
from qcl.narrate.answers import compose_answer
from qcl.narrate.facts import Fact, report_facts
from qcl.narrate.formats import LANGUAGES, Language
from qcl.narrate.grounding import check_grounding, matches
from qcl.narrate.intents import TOPICS
from qcl.narrate.mentions import NumberMention, extract
from qcl.narrate.questions import IntentMatch
from qcl.narrate.templates import narrative


@cache
def reports() -> tuple[AnalysisReport, ...]:
    return tuple(sample_onset_reports())


def report_with(code: str) -> AnalysisReport:
    return next(r for r in reports() if any(f.code.value == code for f in r.findings))


def problems(report: AnalysisReport) -> frozenset[str]:
    return frozenset(f.code.value for f in report.findings if f.severity != "info")


def only(text: str) -> NumberMention:
    (mention,) = extract(text).numbers
    return mention


# --- what is read ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "precision", "kind"),
    [
        ("37,011,000 ticks", 37_011_000, 1, "number"),
        ("quality 98.70%", 98.70, 0.01, "percent"),
        ("fell 5.8 percent", 5.8, 0.1, "percent"),
        ("0.3 percentage points", 0.3, 0.1, "percent"),
        ("下降 0.3 個百分點", 0.3, 0.1, "percent"),
        ("price 9.12e-7 USD", 9.12e-7, 1e-9, "usd"),
        ("price 9.12 × 10^-7", 9.12e-7, 1e-9, "number"),
        ("$0.000000912", 9.12e-7, 1e-9, "usd"),
        ("價格 9.35e-7 美元", 9.35e-7, 1e-9, "usd"),
        ("品質 ９８．７％", 98.7, 0.1, "percent"),
        ("supply 156.4 trillion QU", 156.4e12, 1e11, "number"),
        ("流通量約 1,563 億", 1563e8, 1e8, "number"),
        ("約 3.2萬 個", 32_000, 1000, "number"),
        ("百分之十二", 12, 1, "percent"),
        ("三十五個 tick", 35, 1, "number"),
        ("一百八十六", 186, 1, "number"),
        ("stuck at tick 36998410", 36_998_410, 1, "tick"),
        ("Epoch 187 began", 187, 1, "epoch"),
        ("37 million", 37e6, 1e6, "number"),
        ("10k ticks", 10_000, 1000, "number"),
        ("epoch × 10^12", 1e12, 0, "number"),
        ("三萬五千", 35_000, 1, "number"),
        ("二〇二五", 2025, 1, "number"),
    ],
)
def test_a_number_is_read_with_its_value_precision_and_kind(
    text: str, value: float, precision: float, kind: str
) -> None:
    mention = only(text)
    assert mention.value == pytest.approx(value)
    assert mention.precision == pytest.approx(precision)
    assert mention.kind == kind


def test_a_sign_is_read_only_when_written() -> None:
    assert [(m.value, m.signed) for m in extract("−3.2% then +16.6% then 4.0%").numbers] == [
        (-3.2, True),
        (16.6, True),
        (4.0, False),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "SmolLM2 and R1 wrote it",  # digits glued to letters
        "1. First point\n2. Second point",  # list markers
        "一個問題，一些變化，一直如此",  # the article 一
        "每週三更新",  # a weekday
        "網路十分穩定",  # 十分 "very"
        "千萬不要擔心，萬一有問題",  # idioms
        "百分比與徵兆",  # 百分比, 徵兆
        "第一項",  # an ordinal
    ],
)
def test_what_only_looks_like_a_number_is_not_read(text: str) -> None:
    assert extract(text).numbers == ()


def test_ten_minutes_in_chinese_is_a_number_but_ten_points_very_is_not() -> None:
    assert [m.value for m in extract("十分鐘內十分穩定").numbers] == [10]


def test_times_and_dates_are_read_apart_from_numbers() -> None:
    mentions = extract("At 2025-11-12T17:00:00Z, on Nov 12, 2025 and 11月12日 at 9:05 UTC")
    assert mentions.times == ("17:00", "09:05")
    assert set(mentions.dates) == {"2025-11-12", "11-12"}
    assert mentions.numbers == ()


# --- the rounding rule --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "value", "ok"),
    [
        ("98.7%", 98.66, True),
        ("98.7%", 98.75, True),
        ("98.7%", 98.76, False),  # beyond half a unit of the last digit written
        ("98.70%", 98.7049, True),
        ("98.700%", 98.7049, False),  # more digits than the report has
        ("9.1e-7", 9.12e-7, True),
        ("1", 1.06, False),  # one digit does not stand for 1.06
        ("1.1", 1.06, True),
        ("6%", 5.8, False),
        ("5.8%", -5.8, True),  # unsigned: the magnitude ("fell 5.8%")
        ("+5.8%", -5.8, False),  # signed: the sign too
        ("-5.8%", -5.8, True),
    ],
)
def test_a_number_matches_a_value_rounded_to_the_digits_written(written: str, value: float, ok: bool) -> None:
    mention = only(written)
    assert matches(mention, Fact("x", value, "percent" if mention.kind == "percent" else "number")) is ok


def test_a_percentage_never_matches_a_value_of_another_kind() -> None:
    assert not matches(only("60%"), Fact("health_score", 60, "number"))


def test_the_number_after_tick_only_matches_a_tick() -> None:
    assert not matches(only("tick 187"), Fact("epoch", 187, "epoch"))
    assert matches(only("tick 187"), Fact("tick", 187, "tick"))


def test_a_count_written_with_decimals_is_not_a_copy_of_it() -> None:
    assert not matches(only("1.00"), Fact("findings", 1, "number", integral=True))


# --- templates pass, wrong texts fail -----------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_template_narrative_of_the_sample_passes_the_check(language: Language) -> None:
    for report in reports():
        result = check_grounding(
            narrative(report, language).text, report_facts(report), language, must_cite=problems(report)
        )
        assert result.grounded, (report.observed_at, result.issues)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_composed_answer_of_the_sample_passes_the_check(language: Language) -> None:
    for report in reports():
        facts = report_facts(report)
        for topic in TOPICS:
            text = compose_answer(report, IntentMatch((topic,), (), 0.9, "keywords"), language).text
            result = check_grounding(text, facts, language)
            assert result.grounded, (report.observed_at, topic.name, result.issues)


def _bump_first_number(text: str) -> str:
    """The text with its first figure of 2+ digits changed by one in its last digit (a plausible invention)."""
    match = re.search(r"(?<![\d.])(\d+\.\d+|\d{2,})(?![\d.])", text)
    assert match is not None
    digits = match.group()
    bumped = digits[:-1] + str((int(digits[-1]) + 3) % 10)
    return text[: match.start()] + bumped + text[match.end() :]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_finding_sentence_with_one_figure_changed_fails(language: Language) -> None:
    for report in reports():
        facts = report_facts(report)
        for sentence in narrative(report, language).sentences[1:]:
            if not re.search(r"\d{2,}|\d\.\d", sentence):
                continue
            wrong = _bump_first_number(sentence)
            assert not check_grounding(wrong, facts, language).grounded, wrong


def test_an_invented_percentage_is_caught_and_named() -> None:
    report = report_with("tick_stall")
    result = check_grounding(
        "The network stalled at tick 36998410 and the price fell 2.5%.", report_facts(report), "en"
    )
    assert not result.grounded
    assert any("'2.5%'" in issue for issue in result.issues)


def test_a_direction_that_contradicts_the_data_is_caught() -> None:
    report = report_with("price_crash")
    crash = next(f for f in report.findings if f.code.value == "price_crash")
    pct = str(crash.evidence["change_pct"]).lstrip("-")
    text = f"The price rose {pct}% in {crash.evidence['minutes']} min."
    result = check_grounding(text, report_facts(report), "en")
    assert [issue for issue in result.issues if issue.startswith("direction 'rose'")]
    assert check_grounding(text.replace("rose", "fell"), report_facts(report), "en").grounded


def test_a_chinese_direction_word_is_checked_too() -> None:
    report = report_with("empty_ticks_high")
    finding = next(f for f in report.findings if f.code.value == "empty_ticks_high")
    share = finding.evidence["recent_empty_share_pct"]
    facts = report_facts(report)
    assert check_grounding(f"空 tick 變多，最近占 {share}%。", facts, "zh-TW").grounded
    assert not check_grounding(f"空 tick 減少，最近占 {share}%。", facts, "zh-TW").grounded


def test_a_time_not_in_the_report_is_caught() -> None:
    report = report_with("data_gap")
    gap = next(f for f in report.findings if f.code.value == "data_gap")
    facts = report_facts(report)
    assert check_grounding(
        f"No data since {gap.evidence['since']} for {gap.evidence['gap_s']} s.", facts, "en"
    ).grounded
    result = check_grounding(f"No data since 03:17 UTC for {gap.evidence['gap_s']} s.", facts, "en")
    assert "time '03:17' is not a time of the report" in result.issues


def test_a_date_not_in_the_report_is_caught() -> None:
    report = reports()[0]
    result = check_grounding(f"On 2023-12-12 the score was {report.health_score}/100.", report_facts(report), "en")
    assert "date '2023-12-12' is not a date of the report" in result.issues


def test_a_tick_that_is_not_a_tick_of_the_report_is_caught() -> None:
    report = report_with("tick_stall")
    result = check_grounding("The network is stuck at tick 36998411.", report_facts(report), "en")
    assert not result.grounded and "'36998411'" in result.issues[0]


def test_simplified_chinese_fails_a_zh_tw_check() -> None:
    report = reports()[0]
    text = f"网络健康分数为 {report.health_score}/100。"
    result = check_grounding(text, report_facts(report), "zh-TW")
    assert any(issue.startswith("language: Simplified Chinese characters") for issue in result.issues)


def test_english_fails_a_zh_tw_check_and_chinese_an_english_one() -> None:
    report = reports()[0]
    facts = report_facts(report)
    english = f"The health score is {report.health_score}/100."
    chinese = f"健康分數為 {report.health_score}/100。"
    assert check_grounding(english, facts, "en").grounded and check_grounding(chinese, facts, "zh-TW").grounded
    assert not check_grounding(english, facts, "zh-TW").grounded
    assert not check_grounding(chinese, facts, "en").grounded


def test_a_text_with_no_figure_of_the_report_fails() -> None:
    result = check_grounding("The world's biggest ever.", report_facts(reports()[0]), "en")
    assert result.issues == ("no figure: the text states no value of the report, so nothing in it can be checked",)


@pytest.mark.parametrize(
    "text",
    [
        "Score 100/100. The network is fine. The network is fine. The network is fine.",
        "分數 100/100，我是猐某人的猐某人的猐某人的猐某人的",
    ],
)
def test_a_looping_text_fails(text: str) -> None:
    result = check_grounding(text, report_facts(reports()[-1]), "zh-TW" if "分數" in text else "en")
    assert any(issue.startswith("repetition:") for issue in result.issues)


def test_a_narrative_that_leaves_out_every_problem_fails_the_omission_rule() -> None:
    report = report_with("tick_stall")
    text = f"The health score is {report.health_score}/100."
    result = check_grounding(text, report_facts(report), "en", must_cite=problems(report))
    assert result.issues == ("omission: the text states nothing of tick_stall",)


def test_an_empty_text_fails() -> None:
    assert check_grounding("  ", report_facts(reports()[0]), "en").issues == ("empty text",)


def test_sources_name_the_metrics_and_findings_a_grounded_text_used() -> None:
    report = report_with("tick_stall")
    stall = next(f for f in report.findings if f.code.value == "tick_stall")
    text = f"No new tick for {stall.evidence['stall_s']} s, stuck at tick {stall.tick}."
    result = check_grounding(text, report_facts(report), "en")
    assert result.grounded
    assert "tick_stall" in result.sources and "tick" in result.sources


def test_calling_a_healthy_network_a_serious_problem_fails() -> None:
    report = next(r for r in reports() if r.health_score == 100 and not problems(r))
    text = f"A Qubic network's health score of {report.health_score} is a serious problem."
    result = check_grounding(text, report_facts(report), "en")
    assert [issue for issue in result.issues if issue.startswith("state 'serious' (problem) disagrees")]


def test_calling_a_degraded_network_healthy_fails() -> None:
    report = next(r for r in reports() if r.status == "degraded")
    result = check_grounding(f"The network is healthy at {report.health_score}/100.", report_facts(report), "en")
    assert any(issue.startswith("state 'healthy' (healthy)") for issue in result.issues)


def test_severe_words_need_a_critical_finding() -> None:
    report = next(r for r in reports() if "warning" in {f.severity for f in r.findings} and r.status == "healthy")
    facts = report_facts(report)
    assert not check_grounding(f"健康分數 {report.health_score}/100，情況嚴重。", facts, "zh-TW").grounded
    assert check_grounding(f"健康分數 {report.health_score}/100，有警示。", facts, "zh-TW").grounded


def test_a_negated_problem_word_claims_nothing() -> None:
    report = next(r for r in reports() if r.health_score == 100 and not problems(r))
    assert check_grounding(
        f"健康分數 {report.health_score}/100，目前沒有任何異常。", report_facts(report), "zh-TW"
    ).grounded
    assert check_grounding(f"Score {report.health_score}/100 with no problems.", report_facts(report), "en").grounded


# --- numbers bound to their quantity ------------------------------------------------------------------------------


@cache
def final() -> AnalysisReport:
    from qcl.analysis import analyze_capture
    from qcl.qubic.capture import read_capture
    from qcl.qubic.synth import sample_capture_path

    return analyze_capture(read_capture(sample_capture_path())).report  # market cap 148,050,688, epoch 187


@pytest.mark.parametrize(
    "text",
    [
        "148,050,688 QU have been burned so far.",  # the market cap, written as burned supply
        "The health score dropped to 9.43e-7 USD.",  # the price, written as the health score
        "The current tick has run for 187 seconds.",  # the epoch, written as a duration
        "已銷毀 148,050,688 QU。",
    ],
)
def test_a_report_value_written_as_another_quantity_fails(text: str) -> None:
    result = check_grounding(text, report_facts(final()), "zh-TW" if "銷毀" in text else "en")
    assert not result.grounded and any(issue.startswith("unbound:") for issue in result.issues), result.issues


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The market cap is 148,050,688 USD.", "en"),
        ("市值為 148,050,688 美元（約 1.48 億美元）。", "zh-TW"),
        ("Epoch 187 has had 15,576 ticks so far, 151 of them empty.", "en"),
    ],
)
def test_a_value_written_beside_its_own_quantity_passes(text: str, language: Language) -> None:
    result = check_grounding(text, report_facts(final()), language)
    assert result.grounded, result.issues


def test_a_number_beside_no_quantity_word_is_unbound() -> None:
    result = check_grounding("It is 148,050,688 today.", report_facts(final()), "en")
    assert any("names no quantity" in issue for issue in result.issues)

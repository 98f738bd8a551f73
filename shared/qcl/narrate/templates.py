"""Template narratives: an analysis report told in English or Traditional Chinese, exact by construction.

    from qcl.narrate.templates import narrative
    text = narrative(report, "zh-TW").text

A narrative is the health summary, one sentence per finding (worst first; findings_text.py), then the network's
headline figures (tick, quality, price). Every figure is a report value written by formats.py; the grounding
check passes every template over the bundled sample (tests/unit/test_grounding.py). Sentences are also the facts
a model is given (prompts.py) and the pieces a question's answer is built from (questions.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from qcl.analysis.findings import iso
from qcl.analysis.report import SEVERITY_RANK, AnalysisReport, NetworkMetrics
from qcl.narrate.findings_text import finding_sentence
from qcl.narrate.formats import Language, approx_large, metric_text

STATUS_WORD = {
    "en": {"healthy": "healthy", "degraded": "degraded", "critical": "critical"},
    "zh-TW": {"healthy": "健康", "degraded": "欠佳", "critical": "危急"},
}


@dataclass(frozen=True)
class Rendered:
    """Sentences (without their final stop) and the metrics / finding codes they state."""

    language: Language
    sentences: tuple[str, ...]
    sources: tuple[str, ...]

    @property
    def text(self) -> str:
        if self.language == "en":
            return " ".join(sentence + "." for sentence in self.sentences)
        return "".join(sentence + "。" for sentence in self.sentences)


def _when(report: AnalysisReport) -> str:
    moment = iso(report.observed_at)  # "2025-11-12T17:00:00.123Z"
    return f"{moment[:10]} {moment[11:16]} UTC"


def health_sentence(report: AnalysisReport, language: Language) -> str:
    score, status = report.health_score, STATUS_WORD[language][report.status]
    counts = {severity: sum(f.severity == severity for f in report.findings) for severity in SEVERITY_RANK}
    n = len(report.findings)
    if language == "en":
        if n == 0:
            found = "with no findings"
        else:
            parts = ", ".join(f"{counts[s]} {s}" for s in ("critical", "warning", "info") if counts[s])
            found = f"with {n} finding{'s' if n > 1 else ''} ({parts})"
        return f"As of {_when(report)} the Qubic network's health score is {score}/100 ({status}), {found}"
    if n == 0:
        found = "目前沒有任何異常"
    else:
        zh_severity = {"critical": "嚴重", "warning": "警示", "info": "資訊"}
        parts = "、".join(f"{zh_severity[s]} {counts[s]} 項" for s in ("critical", "warning", "info") if counts[s])
        found = f"偵測到 {n} 項狀況（{parts}）"
    return f"截至 {_when(report)}，Qubic 網路的健康分數為 {score}/100（{status}），{found}"


def network_sentence(m: NetworkMetrics, language: Language) -> str:
    epoch, tick, duration = metric_text("epoch", m.epoch), metric_text("tick", m.tick), m.tick_duration_s
    rate = None if m.tick_rate_per_s is None else metric_text("tick_rate_per_s", m.tick_rate_per_s)
    if language == "en":
        pace = f" and ticks advance at {rate} per second" if rate is not None else ""
        return f"Epoch {epoch} is at tick {tick}; the current tick has run for {duration} s{pace}"
    pace = f"，近期每秒前進 {rate} 個 tick" if rate is not None else ""
    return f"目前為 epoch {epoch}，tick {tick}；目前這個 tick 已持續 {duration} 秒{pace}"


def quality_sentence(m: NetworkMetrics, language: Language) -> str:
    quality = metric_text("epoch_tick_quality_pct", m.epoch_tick_quality_pct)
    empty, ticks = (
        metric_text("empty_ticks_in_epoch", m.empty_ticks_in_epoch),
        metric_text("ticks_in_epoch", m.ticks_in_epoch),
    )
    last = m.tick_quality_last_10k_pct
    last_text = None if last is None else metric_text("tick_quality_last_10k_pct", last)
    if language == "en":
        recent = f" (last 10,000 ticks: {last_text})" if last_text else ""
        return f"Epoch tick quality is {quality}{recent}; {empty} of the epoch's {ticks} ticks were empty"
    recent = f"（最近 10,000 個 tick 為 {last_text}）" if last_text else ""
    return f"本 epoch 的 tick 品質為 {quality}{recent}，本 epoch 的 {ticks} 個 tick 中有 {empty} 個是空 tick"


def price_sentence(m: NetworkMetrics, language: Language) -> str:
    price = metric_text("price_usd", m.price_usd)
    changes = []
    for field, en_horizon, zh_horizon in (
        ("price_change_1h_pct", "1 h", "1 小時"),
        ("price_change_24h_pct", "24 h", "24 小時"),
    ):
        value = getattr(m, field)
        if value is None:
            changes.append(f"{en_horizon} change not known yet" if language == "en" else f"{zh_horizon}變化尚無資料")
        else:
            changes.append(
                f"{metric_text(field, value)} over {en_horizon}"
                if language == "en"
                else f"{zh_horizon} {metric_text(field, value)}"
            )
    if language == "en":
        return f"The price is {price} USD ({', '.join(changes)})"
    return f"價格為 {price} 美元（{'，'.join(changes)}）"


def supply_sentence(m: NetworkMetrics, language: Language) -> str:
    supply, burned = metric_text("circulating_supply", m.circulating_supply), metric_text("burned_qus", m.burned_qus)
    cap = metric_text("market_cap_usd", m.market_cap_usd)
    words = approx_large(m.circulating_supply, language)
    if language == "en":
        about = f" (about {words})" if words else ""
        return (
            f"Circulating supply is {supply} QU{about}, {burned} QU have been burned, and the market cap is {cap} USD"
        )
    about = f"（約 {words}）" if words else ""
    return f"流通量為 {supply} QU{about}，已銷毀 {burned} QU，市值為 {cap} 美元"


def archive_sentence(m: NetworkMetrics, language: Language) -> str:
    if m.archive_lag_ticks is None:
        return "No archive position was observed" if language == "en" else "沒有觀測到歸檔進度"
    lag = metric_text("archive_lag_ticks", m.archive_lag_ticks)
    return (
        f"The archive is {lag} ticks behind the live tick"
        if language == "en"
        else f"歸檔進度比即時 tick 落後 {lag} 個 tick"
    )


def activity_sentence(m: NetworkMetrics, language: Language) -> str:
    active = metric_text("active_addresses", m.active_addresses)
    return f"There are {active} active addresses" if language == "en" else f"活躍地址數為 {active}"


def coverage_sentence(report: AnalysisReport, language: Language) -> str:
    n = f"{report.window_observations:,}"
    if language == "en":
        return f"The analysis covers {n} observations"
    return f"這次分析涵蓋 {n} 筆觀測資料"


NO_METRICS = {
    "en": "The latest observation could not be used, so no current figures are available",
    "zh-TW": "最新的觀測資料無法使用，暫時沒有最新數據",
}

COVERAGE = "coverage"  # the group that tells how many observations the analysis covers
MetricSentence = Callable[[NetworkMetrics, Language], str]
METRIC_SENTENCES: dict[str, tuple[MetricSentence, tuple[str, ...]]] = {
    "network": (network_sentence, ("epoch", "tick", "tick_duration_s", "tick_rate_per_s")),
    "quality": (
        quality_sentence,
        ("epoch_tick_quality_pct", "tick_quality_last_10k_pct", "empty_ticks_in_epoch", "ticks_in_epoch"),
    ),
    "price": (price_sentence, ("price_usd", "price_change_1h_pct", "price_change_24h_pct")),
    "supply": (supply_sentence, ("circulating_supply", "burned_qus", "market_cap_usd")),
    "archive": (archive_sentence, ("archive_lag_ticks",)),
    "activity": (activity_sentence, ("active_addresses",)),
}  # fmt: skip


def narrative(report: AnalysisReport, language: Language) -> Rendered:
    """The whole report: health, findings worst first, then tick, quality and price."""
    return compose(report, language, codes=None, groups=("network", "quality", "price"))


def compose(
    report: AnalysisReport,
    language: Language,
    *,
    codes: frozenset[str] | None,
    groups: tuple[str, ...],
    health: bool = True,
) -> Rendered:
    """Health (optional), the findings whose code is in `codes` (all when None), then the sentence groups named
    (METRIC_SENTENCES' keys, or COVERAGE)."""
    sentences: list[str] = []
    sources: list[str] = []
    if health:
        sentences.append(health_sentence(report, language))
        sources.append("health_score")
    epoch = report.metrics.epoch if report.metrics else None
    chosen = [f for f in report.findings if codes is None or f.code.value in codes]
    for finding in sorted(chosen, key=lambda f: -SEVERITY_RANK[f.severity]):  # stable: report order within a rank
        sentences.append(finding_sentence(finding, language, epoch=epoch))
        sources.append(finding.code.value)
    for group in groups:
        if group == COVERAGE:
            sentences.append(coverage_sentence(report, language))
            sources.append("window_observations")
        elif report.metrics is not None:
            write, fields = METRIC_SENTENCES[group]
            sentences.append(write(report.metrics, language))
            sources.extend(fields)
        elif NO_METRICS[language] not in sentences:
            sentences.append(NO_METRICS[language])
    return Rendered(language, tuple(sentences), tuple(dict.fromkeys(sources)))

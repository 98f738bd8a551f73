"""One sentence per finding, in English and Traditional Chinese, written from the finding's own evidence.

    from qcl.narrate.findings_text import finding_sentence
    finding_sentence(finding, "zh-TW", epoch=187)   # "嚴重：網路已經 121 秒沒有產生新的 tick，停在 tick 36998410；…"

Every figure comes from the finding (its evidence, tick and threshold) through formats.py, so a sentence is exact
by construction. A finding whose evidence lacks an expected key (an older report shape) is told with its own
message_en / message_zh, which are report text as well.
"""

from __future__ import annotations

from collections.abc import Callable

from qcl.analysis.report import Finding, FindingCode
from qcl.narrate.formats import Language, evidence_number, identifier

SEVERITY_WORD = {
    "en": {"critical": "Critical", "warning": "Warning", "info": "Note"},
    "zh-TW": {"critical": "嚴重", "warning": "警示", "info": "資訊"},
}

Pair = tuple[str, str]  # (English, Traditional Chinese)


def finding_sentence(finding: Finding, language: Language, *, epoch: int | None = None) -> str:
    """ "<Severity>: <what happened, with its figures>" in `language`, without the final full stop."""
    try:
        en, zh = _TEMPLATES[finding.code](finding, epoch)
    except KeyError:  # evidence of another shape: the finding's own words
        en, zh = finding.message_en, finding.message_zh
    label = SEVERITY_WORD[language][finding.severity]
    return f"{label}: {en}" if language == "en" else f"{label}：{zh}"


def _n(finding: Finding, key: str) -> str:
    value = finding.evidence[key]
    if value is None:
        raise KeyError(key)
    return value if isinstance(value, str) else evidence_number(value)


def _id(finding: Finding, key: str) -> str:
    value = finding.evidence[key]
    if not isinstance(value, int | float):
        raise KeyError(key)
    return identifier(value)


def _tick_stall(f: Finding, _: int | None) -> Pair:
    stall, tick, spt, limit = _n(f, "stall_s"), _id(f, "tick"), _n(f, "seconds_per_tick"), _n(f, "threshold_s")
    return (
        f"the network has produced no new tick for {stall} s and is stuck at tick {tick}; at this epoch's {spt} s "
        f"per tick a stall starts above {limit} s",
        f"網路已經 {stall} 秒沒有產生新的 tick，停在 tick {tick}；"
        f"依本 epoch 每個 tick 約 {spt} 秒計算，超過 {limit} 秒即視為停滯",
    )


def _epoch_transition(f: Finding, _: int | None) -> Pair:
    if "previous_epoch" in f.evidence:
        before, after, first = _id(f, "previous_epoch"), _id(f, "epoch"), _id(f, "initial_tick")
        at, halt = _n(f, "changed_at"), _n(f, "halt_s")
        return (
            f"epoch {before} ended and epoch {after} began at {at} with initial tick {first}; the network paused "
            f"about {halt} s, as is normal at the weekly transition",
            f"epoch {before} 已結束，epoch {after} 於 {at} 開始，起始 tick 為 {first}；網路暫停約 {halt} 秒，"
            f"這是每週 epoch 轉換的正常現象",
        )
    stall, tick, epoch = _n(f, "stall_s"), _id(f, "tick"), _id(f, "epoch")
    return (
        f"the network has paused for {stall} s at tick {tick} of epoch {epoch} during the weekly epoch transition "
        f"(Wednesdays 12:00 UTC); a pause of up to an hour is normal",
        f"每週 epoch 轉換期間（每週三 12:00 UTC）網路已暫停 {stall} 秒（epoch {epoch}，停在 tick {tick}），"
        f"最長約一小時的暫停屬正常現象",
    )


def _tick_rate_low(f: Finding, _: int | None) -> Pair:
    recent, normal = _n(f, "recent_ticks_per_s"), _n(f, "normal_ticks_per_s")
    ratio, minutes = _n(f, "ratio_pct"), _n(f, "stretch_min")
    return (
        f"ticks are advancing slowly: {recent} per second over the last {minutes} min, {ratio}% of this epoch's "
        f"normal {normal} per second",
        f"tick 前進速度偏慢：最近 {minutes} 分鐘每秒只前進 {recent} 個，"
        f"僅為本 epoch 正常速度（每秒 {normal} 個）的 {ratio}%",
    )


def _empty_ticks_high(f: Finding, _: int | None) -> Pair:
    en: list[str] = []
    zh: list[str] = []
    if "recent_empty_share_pct" in f.evidence:
        share, base, minutes = _n(f, "recent_empty_share_pct"), _n(f, "epoch_empty_share_pct"), _n(f, "stretch_min")
        added, empty = _n(f, "recent_ticks"), _n(f, "recent_empty_ticks")
        en.append(
            f"empty ticks are up: {empty} of the {added} ticks added in the last {minutes} min were empty "
            f"({share}%), against {base}% for the epoch so far"
        )
        zh.append(
            f"空 tick 變多：最近 {minutes} 分鐘新增的 {added} 個 tick 中有 {empty} 個是空 tick（{share}%），"
            f"本 epoch 至今約為 {base}%"
        )
    if "quality_last_10k_pct" in f.evidence:
        quality, ticks = _n(f, "quality_last_10k_pct"), _n(f, "ticks_in_last_10k")
        empty_count = f.evidence.get("empty_ticks_in_last_10k")
        en.append(f"the quality of the last {ticks} ticks is {quality}%")
        zh.append(f"最近 {ticks} 個 tick 的品質只有 {quality}%")
        if empty_count is not None:
            en[-1] += f", with {_n(f, 'empty_ticks_in_last_10k')} empty"
            zh[-1] += f"，其中 {_n(f, 'empty_ticks_in_last_10k')} 個是空 tick"
    if not en:
        raise KeyError("recent_empty_share_pct")
    return "; ".join(en), "；".join(zh)


def _tick_quality_drop(f: Finding, epoch: int | None) -> Pair:
    quality = _n(f, "epoch_tick_quality_pct")
    if f.severity == "info":
        ticks = _n(f, "ticks_in_epoch")
        name = f"epoch {epoch}" if epoch is not None else "this epoch"
        return (
            f"{name} has just begun ({ticks} ticks so far) and its tick quality is {quality}%; a dip this early is "
            f"normal",
            f"{name if epoch is not None else '本 epoch'} 剛開始（目前只有 {ticks} 個 tick），tick 品質為 {quality}%，"
            f"剛開始時短暫偏低屬正常現象",
        )
    if f.metric.endswith("_drop_pp"):
        drop, best = _n(f, "drop_pp"), _n(f, "highest_in_last_hour_pct")
        return (
            f"epoch tick quality fell {drop} percentage points within the last hour, from {best}% to {quality}%",
            f"本 epoch 的 tick 品質在過去一小時內下降了 {drop} 個百分點，從 {best}% 降到 {quality}%",
        )
    if f.threshold is None:
        raise KeyError("threshold")
    limit, ticks, empty = f"{f.threshold:g}", _n(f, "ticks_in_epoch"), _n(f, "empty_ticks_in_epoch")
    return (
        f"epoch tick quality is only {quality}% ({empty} of {ticks} ticks empty), below the {limit}% threshold",
        f"本 epoch 的 tick 品質只有 {quality}%（{ticks} 個 tick 中有 {empty} 個空 tick），低於 {limit}% 的門檻",
    )


def _archive_lag(f: Finding, _: int | None) -> Pair:
    lag, archive, live = _n(f, "lag_ticks"), _id(f, "archive_tick"), _id(f, "live_tick")
    return (
        f"the archive is {lag} ticks behind the live network (processed up to tick {archive}, live tick {live})",
        f"歸檔節點落後即時網路 {lag} 個 tick（已處理到 tick {archive}，即時 tick 為 {live}）",
    )


def _data_gap(f: Finding, _: int | None) -> Pair:
    gap, minutes, since = _n(f, "gap_s"), _n(f, "gap_min"), _n(f, "since")
    return (
        f"no observations arrived for {gap} s (about {minutes} min) since {since}, so the analysis has a hole there",
        f"自 {since} 起約 {minutes} 分鐘（{gap} 秒）沒有收到觀測資料，這段期間無法分析",
    )


def _supply_anomaly(f: Finding, _: int | None) -> Pair:
    en: list[str] = []
    zh: list[str] = []
    supply, burned = _n(f, "circulating_supply"), _n(f, "burned_qus")
    if "difference" in f.evidence:
        total, expected, difference = _n(f, "supply_plus_burned"), _n(f, "expected_total"), f.evidence["difference"]
        if not isinstance(difference, int | float):
            raise KeyError("difference")
        gap = evidence_number(abs(difference))
        short = difference < 0
        en.append(
            f"circulating supply ({supply} QU) plus burned ({burned} QU) comes to {total} QU, {gap} QU "
            f"{'short of' if short else 'more than'} the {expected} QU this epoch should hold"
        )
        zh.append(
            f"流通量（{supply} QU）加上已銷毀（{burned} QU）共 {total} QU，比本 epoch 應有的 {expected} QU "
            f"{'少' if short else '多'} {gap} QU"
        )
    if "supply_change" in f.evidence:
        before, after, at, change = (
            _n(f, "previous_supply"),
            _n(f, "changed_supply"),
            _n(f, "changed_at"),
            f.evidence["supply_change"],
        )
        if not isinstance(change, int | float):
            raise KeyError("supply_change")
        delta = f"{int(change):+,}"
        en.append(f"circulating supply changed within the epoch at {at}, from {before} QU to {after} QU ({delta} QU)")
        zh.append(f"本 epoch 期間流通量在 {at} 改變，由 {before} QU 變為 {after} QU（{delta} QU）")
    if not en:
        raise KeyError("difference")
    return "; ".join(en), "；".join(zh)


def _price_move(f: Finding, _: int | None) -> Pair:
    change, before, after = _n(f, "change_pct"), _n(f, "from_price_usd"), _n(f, "to_price_usd")
    minutes, limit = _n(f, "minutes"), _n(f, "threshold_pct")
    size = change.lstrip("-")
    falling = f.code is FindingCode.PRICE_CRASH
    return (
        f"the price {'fell' if falling else 'rose'} {size}% in {minutes} min, from {before} to {after} USD, more than "
        f"recent volatility explains (threshold {limit}%)",
        f"價格在 {minutes} 分鐘內{'下跌' if falling else '上漲'} {size}%，"
        f"從 {before} 美元{'跌' if falling else '漲'}到 "
        f"{after} 美元，超出近期波動可以解釋的幅度（門檻 {limit}%）",
    )


def _price_trend(f: Finding, _: int | None) -> Pair:
    price = _n(f, "price_usd")
    en_parts, zh_parts = [], []
    for key, en_horizon, zh_horizon in (("1h", "1 h", "1 小時"), ("24h", "24 h", "24 小時")):
        change, word = f.evidence.get(f"change_{key}_pct"), f.evidence.get(f"direction_{key}")
        if not isinstance(change, int | float) or word not in ("up", "down", "flat"):
            continue
        if word == "flat":
            en_parts.append(f"flat ({change:+}%) over {en_horizon}")
            zh_parts.append(f"{zh_horizon}持平（{change:+}%）")
        else:
            en_parts.append(f"{word} {abs(change)}% over {en_horizon}")
            zh_parts.append(f"{zh_horizon}{'上漲' if word == 'up' else '下跌'} {abs(change)}%")
    if not en_parts:
        raise KeyError("change_1h_pct")
    return f"the price is {price} USD: " + ", ".join(en_parts), f"價格為 {price} 美元：" + "，".join(zh_parts)


def _data_invalid(f: Finding, _: int | None) -> Pair:
    reason = _n(f, "reason")
    return f"an observation was rejected and skipped: {reason}", f"有一筆觀測資料無效，已略過：{reason}"


_TEMPLATES: dict[FindingCode, Callable[[Finding, int | None], Pair]] = {
    FindingCode.TICK_STALL: _tick_stall,
    FindingCode.TICK_RATE_LOW: _tick_rate_low,
    FindingCode.EMPTY_TICKS_HIGH: _empty_ticks_high,
    FindingCode.TICK_QUALITY_DROP: _tick_quality_drop,
    FindingCode.PRICE_CRASH: _price_move,
    FindingCode.PRICE_SPIKE: _price_move,
    FindingCode.PRICE_TREND: _price_trend,
    FindingCode.SUPPLY_ANOMALY: _supply_anomaly,
    FindingCode.EPOCH_TRANSITION: _epoch_transition,
    FindingCode.ARCHIVE_LAG: _archive_lag,
    FindingCode.DATA_GAP: _data_gap,
    FindingCode.DATA_INVALID: _data_invalid,
}

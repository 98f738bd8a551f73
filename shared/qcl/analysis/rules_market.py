"""Rules about the price and the supply.

The stats price is CoinGecko's, refreshed about every 60 s; circulating supply comes from the epoch-start spectrum
and is refreshed once per epoch (API reload within 24 h); burnedQus = epoch × 10^12 − supply exactly
(qubic-rpc.md §2.1, §4.7).
"""

from __future__ import annotations

import math
from typing import Literal

from qcl.analysis.findings import Evidence, clock, make_finding, minutes, price_text, round_pct
from qcl.analysis.report import Finding, FindingCode
from qcl.analysis.timeline import Timeline

PRICE_HORIZON_S = 1800.0  # a crash or spike is a move within the last 30 min
PRICE_MOVE_MIN_PCT = 5.0  # never less than 5 % ...
PRICE_MOVE_SIGMAS = 4.0  # ... nor less than 4 σ √n, σ the per-step volatility before the horizon
PRICE_MOVE_CRITICAL_PCT = 20.0
MIN_VOLATILITY_STEPS = 20  # fewer earlier steps than this: volatility unknown, the 5 % floor applies
TREND_FLAT_PCT = {3600: 1.0, 86400: 3.0}  # |change| below this over the horizon reads "flat"
ISSUANCE_PER_EPOCH = 10**12  # ISSUANCE_RATE in qubic/core (§4.1)
SUPPLY_CHANGE_ACTIVE_S = 1800.0  # a mid-epoch supply change stays reported this long
SUPPLY_RELOAD_S = 86400.0  # after an epoch change the stats API may reload the new supply within 24 h

Direction = Literal["up", "down", "flat"]
_ZH_DIRECTION = {"up": "上漲", "down": "下跌", "flat": "持平"}


def _price_move(timeline: Timeline, code: FindingCode) -> Finding | None:
    now = timeline.now
    if now.price_usd <= 0:
        return None
    horizon_start = now.t - PRICE_HORIZON_S
    falling = code is FindingCode.PRICE_CRASH
    # A fall is measured from the highest price in the horizon, a rise from the lowest (now's price counts).
    extreme_index = timeline.price_extreme_since(horizon_start, highest=falling)
    if extreme_index is None:
        return None
    extreme = timeline.samples[extreme_index]
    steps = len(timeline) - 1 - extreme_index
    if steps < 1:
        return None
    change = (now.price_usd / extreme.price_usd - 1.0) * 100.0
    sigma, counted = timeline.log_return_sigma(horizon_start)
    if counted < MIN_VOLATILITY_STEPS:
        sigma = 0.0
    threshold = max(PRICE_MOVE_MIN_PCT, 100.0 * PRICE_MOVE_SIGMAS * sigma * math.sqrt(steps))
    if (falling and change > -threshold) or (not falling and change < threshold):
        return None
    critical = abs(change) >= max(PRICE_MOVE_CRITICAL_PCT, threshold)
    limit = round_pct(max(PRICE_MOVE_CRITICAL_PCT, threshold) if critical else threshold)
    pct, mins = round_pct(abs(change)), minutes(now.t - extreme.t)
    old, new = price_text(extreme.price_usd), price_text(now.price_usd)
    verb_en, verb_zh = ("fell", "下跌") if falling else ("rose", "上漲")
    return make_finding(
        code,
        "critical" if critical else "warning",
        now,
        metric="latest_stats.price_change_pct",
        value=round_pct(change),
        threshold=-limit if falling else limit,
        message_en=f"Price {verb_en} {pct}% in {mins} min, from {old} to {new} USD (threshold {limit}%)",
        message_zh=f"價格在 {mins} 分鐘內{verb_zh} {pct}%，從 {old} 美元到 {new} 美元（門檻 {limit}%）",
        evidence={
            "change_pct": round_pct(change),
            "from_price_usd": old,
            "to_price_usd": new,
            "minutes": mins,
            "threshold_pct": limit,
            "volatility_per_step_pct": round(100 * sigma, 3),
            "steps": steps,
        },
    )


def price_crash(timeline: Timeline) -> Finding | None:
    """A fall within the last 30 min larger than the window's volatility explains."""
    return _price_move(timeline, FindingCode.PRICE_CRASH)


def price_spike(timeline: Timeline) -> Finding | None:
    """A rise within the last 30 min larger than the window's volatility explains."""
    return _price_move(timeline, FindingCode.PRICE_SPIKE)


def _direction(change: float, flat_pct: float) -> Direction:
    if change >= flat_pct:
        return "up"
    return "down" if change <= -flat_pct else "flat"


def price_trend(timeline: Timeline) -> Finding | None:
    """Info: the price's direction and size over 1 h and 24 h, as far as the window reaches."""
    now = timeline.now
    changes = {h: timeline.price_change_pct(h) for h in TREND_FLAT_PCT}
    known = {h: round_pct(c) for h, c in changes.items() if c is not None}
    if not known:
        return None
    longest = max(known)
    words = {h: _direction(c, TREND_FLAT_PCT[h]) for h, c in known.items()}
    label = {3600: ("1 h", "1 小時"), 86400: ("24 h", "24 小時")}
    price = price_text(now.price_usd)
    parts_en, parts_zh = [], []
    for h in sorted(known):
        flat = words[h] == "flat"
        size_en = f"({known[h]:+}%)" if flat else f"{abs(known[h])}%"
        size_zh = f"（{known[h]:+}%）" if flat else f" {abs(known[h])}%"
        parts_en.append(f"{words[h]} {size_en} over {label[h][0]}")
        parts_zh.append(f"{label[h][1]}{_ZH_DIRECTION[words[h]]}{size_zh}")
    evidence: Evidence = {
        "price_usd": price,
        "change_1h_pct": known.get(3600),
        "change_24h_pct": known.get(86400),
        "direction_1h": words.get(3600),
        "direction_24h": words.get(86400),
    }
    return make_finding(
        FindingCode.PRICE_TREND,
        "info",
        now,
        metric=f"latest_stats.price_change_{label[longest][0].replace(' ', '')}_pct",
        value=words[longest],
        threshold=TREND_FLAT_PCT[longest],
        message_en=f"Price {price} USD: " + ", ".join(parts_en),
        message_zh=f"價格 {price} 美元：" + "，".join(parts_zh),
        evidence=evidence,
    )


def supply_anomaly(timeline: Timeline) -> Finding | None:
    """supply + burned != epoch × 10^12, or the circulating supply changed within an epoch."""
    now = timeline.now
    expected = now.stats_epoch * ISSUANCE_PER_EPOCH
    total = now.circulating_supply + now.burned_qus
    en: list[str] = []
    zh: list[str] = []
    evidence: Evidence = {"circulating_supply": now.circulating_supply, "burned_qus": now.burned_qus}
    metric, value, threshold = "", 0.0, 0.0
    if total != expected:
        diff = total - expected
        en.append(
            f"Circulating supply {now.circulating_supply} + burned {now.burned_qus} = {total} QU, but epoch "
            f"{now.stats_epoch} × 10^12 = {expected} QU (off by {diff})"
        )
        zh.append(
            f"流通量 {now.circulating_supply} 加上已銷毀 {now.burned_qus} 等於 {total} QU，"
            f"但 epoch {now.stats_epoch} × 10^12 應為 {expected} QU（相差 {diff}）"
        )
        evidence.update({"supply_plus_burned": total, "expected_total": expected, "difference": diff})
        metric, value, threshold = "latest_stats.circulatingSupply+burnedQus", total, expected
    change = _mid_epoch_supply_change(timeline)
    if change is not None:
        old, new, at = change
        delta = new - old
        en.append(
            f"Circulating supply changed within epoch {now.stats_epoch} at {at} UTC: {old} → {new} QU ({delta:+})"
        )
        zh.append(f"epoch {now.stats_epoch} 期間流通量在 {at} UTC 改變：由 {old} 變為 {new} QU（{delta:+}）")
        evidence.update(
            {"previous_supply": old, "changed_supply": new, "supply_change": delta, "changed_at": f"{at} UTC"}
        )
        if not metric:
            metric, value, threshold = "latest_stats.circulatingSupply_change", delta, 0
    if not en:
        return None
    return make_finding(
        FindingCode.SUPPLY_ANOMALY,
        "warning",
        now,
        metric=metric,
        value=value,
        threshold=threshold,
        message_en="; ".join(en),
        message_zh="；".join(zh),
        evidence=evidence,
    )


def _mid_epoch_supply_change(timeline: Timeline) -> tuple[int, int, str] | None:
    """(old, new, HH:MM) of the latest supply change inside the current stats epoch within the active period."""
    samples, now = timeline.samples, timeline.now
    epoch_first, index = timeline.stats_epoch_start, timeline.latest_supply_change
    if index is None or index <= epoch_first or now.t - samples[index].t > SUPPLY_CHANGE_ACTIVE_S:
        return None
    before, after = samples[index - 1], samples[index]
    # A new epoch's supply may reach the stats API up to a day after the change itself.
    reloaded = epoch_first > 0 and after.t - samples[epoch_first].t <= SUPPLY_RELOAD_S
    if reloaded:
        return None
    return before.circulating_supply, after.circulating_supply, clock(after.t)

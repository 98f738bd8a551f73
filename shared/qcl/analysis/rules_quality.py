"""Rules about empty ticks and tick quality (qubic-rpc.md §4.4–4.5).

Right after an epoch starts the counters cover few ticks and the first ticks after a restart are typically empty,
so quality is noisy: until the epoch holds YOUNG_EPOCH_TICKS ticks these rules report at most `info`.
"""

from __future__ import annotations

from typing import NamedTuple

from qcl.analysis.findings import Evidence, make_finding, minutes
from qcl.analysis.report import SEVERITY_RANK, Finding, FindingCode, Severity
from qcl.analysis.timeline import Sample, Timeline

YOUNG_EPOCH_TICKS = 10_000
LAST_10K_WARNING_PCT = 97.0  # last-10k quality < 97 % = acute problem (§4.5)
LAST_10K_CRITICAL_PCT = 90.0
RECENT_EMPTY_S = 600.0  # the "recent" stretch for the empty-tick share
RECENT_EMPTY_MIN_TICKS = 200  # fewer new ticks than this say little about a share
EMPTY_SHARE_WARNING = (0.10, 4.0)  # share ≥ max(10 %, 4 × the epoch's share so far)
EMPTY_SHARE_CRITICAL = (0.30, 8.0)
QUALITY_WARNING_PCT = 98.0  # 98.5–99.5 % is typical per epoch; ≥ 98 healthy, 95–98 degraded (§4.5)
QUALITY_CRITICAL_PCT = 95.0
QUALITY_DROP_WINDOW_S = 3600.0
QUALITY_DROP_WARNING_PP = 0.3  # percentage points lost within the hour
QUALITY_DROP_CRITICAL_PP = 1.0


def _young(sample: Sample) -> bool:
    return sample.ticks_in_epoch < YOUNG_EPOCH_TICKS


class _Signal(NamedTuple):
    """One way the empty-tick rule can fire; the worst signal names the finding."""

    severity: Severity
    metric: str
    value: float
    limit: float
    evidence: Evidence
    message_en: str
    message_zh: str


def _last_10k(now: Sample) -> _Signal | None:
    quality = now.quality_last_10k_pct
    # The window is 10 000 ticks once the epoch is past YOUNG_EPOCH_TICKS (shorter only right after it starts).
    ticks = now.ticks_in_last_10k if now.ticks_in_last_10k is not None else YOUNG_EPOCH_TICKS
    if quality is None or quality >= LAST_10K_WARNING_PCT:
        return None
    critical = quality < LAST_10K_CRITICAL_PCT
    limit = LAST_10K_CRITICAL_PCT if critical else LAST_10K_WARNING_PCT
    q, empty = round(quality, 2), now.empty_ticks_in_last_10k
    empty_en = f" ({empty} empty)" if empty is not None else ""
    empty_zh = f"，其中 {empty} 個是空 tick" if empty is not None else ""
    return _Signal(
        "critical" if critical else "warning",
        "latest_stats.last10000TickQuality",
        q,
        limit,
        {"quality_last_10k_pct": q, "ticks_in_last_10k": ticks, "empty_ticks_in_last_10k": empty},
        f"Quality of the last {ticks} ticks is {q}%{empty_en}, below {limit:g}%",
        f"最近 {ticks} 個 tick 的品質只有 {q}%{empty_zh}（門檻 {limit:g}%）",
    )


def _recent_share(timeline: Timeline) -> _Signal | None:
    now = timeline.now
    index = timeline.index_at_or_before(now.t - RECENT_EMPTY_S)
    if index is None:
        return None
    reference = timeline.samples[index]
    added = now.ticks_in_epoch - reference.ticks_in_epoch
    added_empty = now.empty_ticks_in_epoch - reference.empty_ticks_in_epoch
    if reference.stats_epoch != now.stats_epoch or added < RECENT_EMPTY_MIN_TICKS or added_empty < 0:
        return None
    share = added_empty / added
    baseline = reference.empty_ticks_in_epoch / reference.ticks_in_epoch if reference.ticks_in_epoch else 0.0
    warning_at = max(EMPTY_SHARE_WARNING[0], EMPTY_SHARE_WARNING[1] * baseline)
    critical_at = max(EMPTY_SHARE_CRITICAL[0], EMPTY_SHARE_CRITICAL[1] * baseline)
    if share < warning_at:
        return None
    critical = share >= critical_at
    limit_pct = round(100 * (critical_at if critical else warning_at), 1)
    share_pct, base_pct, mins = round(100 * share, 1), round(100 * baseline, 1), minutes(now.t - reference.t)
    return _Signal(
        "critical" if critical else "warning",
        "latest_stats.recent_empty_share_pct",
        share_pct,
        limit_pct,
        {
            "recent_empty_share_pct": share_pct,
            "recent_ticks": added,
            "recent_empty_ticks": added_empty,
            "epoch_empty_share_pct": base_pct,
            "stretch_min": mins,
        },
        f"{added_empty} of the {added} ticks added in the last {mins} min were empty ({share_pct}%), against "
        f"{base_pct}% for the epoch so far (threshold {limit_pct}%)",
        f"最近 {mins} 分鐘新增的 {added} 個 tick 中有 {added_empty} 個是空 tick（{share_pct}%），"
        f"本 epoch 至今約 {base_pct}%（門檻 {limit_pct}%）",
    )


def empty_ticks_high(timeline: Timeline) -> Finding | None:
    """The share of empty ticks spikes: in the last 10 000 ticks, or among the ticks added in the last 10 min."""
    now = timeline.now
    if timeline.in_transition or _young(now):
        return None
    signals = [signal for signal in (_recent_share(timeline), _last_10k(now)) if signal is not None]
    if not signals:
        return None
    worst = max(signals, key=lambda signal: SEVERITY_RANK[signal.severity])
    evidence: Evidence = {}
    for signal in signals:
        evidence.update(signal.evidence)
    return make_finding(
        FindingCode.EMPTY_TICKS_HIGH,
        worst.severity,
        now,
        metric=worst.metric,
        value=worst.value,
        threshold=worst.limit,
        message_en="; ".join(signal.message_en for signal in signals),
        message_zh="；".join(signal.message_zh for signal in signals),
        evidence=evidence,
    )


def tick_quality_drop(timeline: Timeline) -> Finding | None:
    """Epoch tick quality falls within the hour, or sits below the healthy level (info while the epoch is young)."""
    now = timeline.now
    first = timeline.index_at_or_before(now.t - QUALITY_DROP_WINDOW_S)
    best = timeline.best_quality_since(first or 0)  # among samples of now's stats epoch
    quality, drop = now.quality_pct, best.quality_pct - now.quality_pct
    checks: list[tuple[Severity, str, float]] = []  # severity, "level" or "drop", the limit crossed
    if quality < QUALITY_CRITICAL_PCT:
        checks.append(("critical", "level", QUALITY_CRITICAL_PCT))
    elif quality < QUALITY_WARNING_PCT:
        checks.append(("warning", "level", QUALITY_WARNING_PCT))
    if drop >= QUALITY_DROP_CRITICAL_PP:
        checks.append(("critical", "drop", QUALITY_DROP_CRITICAL_PP))
    elif drop >= QUALITY_DROP_WARNING_PP:
        checks.append(("warning", "drop", QUALITY_DROP_WARNING_PP))
    if not checks:
        return None
    # The worst severity wins; between equals, the drop (a change) says more than the level.
    severity, kind, limit = max(checks, key=lambda check: (SEVERITY_RANK[check[0]], check[1] == "drop"))
    q, q_best, drop_pp, mins = round(quality, 2), round(best.quality_pct, 2), round(drop, 2), minutes(now.t - best.t)
    evidence: Evidence = {
        "epoch_tick_quality_pct": q,
        "highest_in_last_hour_pct": q_best,
        "drop_pp": drop_pp,
        "ticks_in_epoch": now.ticks_in_epoch,
        "empty_ticks_in_epoch": now.empty_ticks_in_epoch,
    }
    if _young(now):
        return make_finding(
            FindingCode.TICK_QUALITY_DROP,
            "info",
            now,
            metric="latest_stats.epochTickQuality",
            value=q,
            threshold=None,
            message_en=(
                f"Epoch {now.stats_epoch} tick quality is {q}% after only {now.ticks_in_epoch} ticks; a dip right "
                f"after an epoch starts is normal"
            ),
            message_zh=(
                f"epoch {now.stats_epoch} 剛開始（僅 {now.ticks_in_epoch} 個 tick），tick 品質 {q}% 偏低，"
                f"屬於正常的短暫下滑"
            ),
            evidence=evidence,
        )
    if kind == "drop":
        en = (
            f"Epoch tick quality fell {drop_pp} percentage points in {mins} min, from {q_best}% to {q}% "
            f"(threshold {limit:g} points)"
        )
        zh = (
            f"本 epoch 的 tick 品質在 {mins} 分鐘內下降 {drop_pp} 個百分點，從 {q_best}% 降到 {q}%"
            f"（門檻 {limit:g} 個百分點）"
        )
        metric, shown = "latest_stats.epochTickQuality_drop_pp", drop_pp
    else:
        ticks, empty = now.ticks_in_epoch, now.empty_ticks_in_epoch
        en = f"Epoch tick quality is {q}% ({empty} of {ticks} ticks empty), below {limit:g}%"
        zh = f"本 epoch 的 tick 品質只有 {q}%（{ticks} 個 tick 中有 {empty} 個空 tick），低於 {limit:g}%"
        metric, shown = "latest_stats.epochTickQuality", q
    return make_finding(
        FindingCode.TICK_QUALITY_DROP,
        severity,
        now,
        metric=metric,
        value=shown,
        threshold=limit,
        message_en=en,
        message_zh=zh,
        evidence=evidence,
    )

"""Rules about the live network and the data feed: stalls, epoch transitions, tick rate, archive lag, gaps.

Thresholds adapt to the epoch's own tick time (Timeline.seconds_per_tick), because the tick time moved from
about 1.1 s (late 2025) to 0.3–0.5 s (mid 2026) (qubic-rpc.md §4.2).
"""

from __future__ import annotations

from qcl.analysis.findings import clock, make_finding, minutes
from qcl.analysis.report import Finding, FindingCode
from qcl.analysis.timeline import Timeline

STALL_CRITICAL_FACTOR = 2.0  # critical at 2 × the stall threshold ...
STALL_CRITICAL_MIN_S = 120.0  # ... and never below two minutes
RATE_WARNING_RATIO = 0.50  # recent tick rate below half the epoch's normal rate
RATE_CRITICAL_RATIO = 0.25
RATE_MIN_EPOCH_HISTORY_S = 1800.0  # the epoch's normal rate needs this much of the epoch in the window
RATE_MIN_STRETCH_S = 240.0
ARCHIVE_LAG_WARNING = 100  # ticks; go-archiver's own check used 3, archiver v2 10; > 100 sustained = behind (§4.8)
ARCHIVE_LAG_CRITICAL = 1000
GAP_MIN_S = 300.0  # a data gap is at least 5 min ...
GAP_SPACINGS = 5  # ... and 5 × the window's median spacing


def tick_stall(timeline: Timeline) -> Finding | None:
    """No new tick for far longer than the epoch's tick time — unless the weekly transition explains it."""
    if not timeline.stalled or timeline.in_transition:
        return None
    now, stall, threshold = timeline.now, round(timeline.stall_s), round(timeline.stall_threshold_s)
    critical_at = max(STALL_CRITICAL_FACTOR * timeline.stall_threshold_s, STALL_CRITICAL_MIN_S)
    critical = timeline.stall_s >= critical_at
    seconds_per_tick = round(timeline.seconds_per_tick, 2)
    return make_finding(
        FindingCode.TICK_STALL,
        "critical" if critical else "warning",
        now,
        metric="tick_info.duration_s",
        value=stall,
        threshold=round(critical_at) if critical else threshold,
        message_en=(
            f"No new tick for {stall} s (stuck at tick {now.tick}); with this epoch's typical {seconds_per_tick} s "
            f"per tick a stall starts above {threshold} s and is critical from {round(critical_at)} s"
        ),
        message_zh=(
            f"網路已 {stall} 秒沒有新的 tick（停在 tick {now.tick}）；依本 epoch 平均每個 tick {seconds_per_tick} 秒，"
            f"超過 {threshold} 秒即為停滯，{round(critical_at)} 秒以上為嚴重"
        ),
        evidence={
            "stall_s": stall,
            "duration_s": now.duration_s,
            "threshold_s": threshold,
            "critical_threshold_s": round(critical_at),
            "seconds_per_tick": seconds_per_tick,
            "tick": now.tick,
        },
    )


def epoch_transition(timeline: Timeline) -> Finding | None:
    """Info: an epoch change seen in the window (within the last hour), or the halt of the weekly transition."""
    now = timeline.now
    change = timeline.epoch_change
    if change is not None and timeline.in_transition:
        first, before = timeline.samples[change], timeline.samples[change - 1]
        halt = round(before.duration_s + (first.t - before.t))
        at = clock(first.t)
        return make_finding(
            FindingCode.EPOCH_TRANSITION,
            "info",
            now,
            metric="tick_info.epoch",
            value=now.epoch,
            threshold=None,
            message_en=(
                f"Epoch changed from {before.epoch} to {first.epoch} at {at} UTC (new initial tick "
                f"{first.initial_tick}); the network was halted about {halt} s, as expected at a transition"
            ),
            message_zh=(
                f"Epoch 已於 {at} UTC 由 {before.epoch} 換成 {first.epoch}（新的起始 tick {first.initial_tick}），"
                f"網路暫停約 {halt} 秒，屬於 epoch 轉換的正常現象"
            ),
            evidence={
                "previous_epoch": before.epoch,
                "epoch": first.epoch,
                "initial_tick": first.initial_tick,
                "changed_at": f"{at} UTC",
                "halt_s": halt,
            },
        )
    if timeline.stalled and timeline.in_transition:
        stall, threshold = round(timeline.stall_s), round(timeline.stall_threshold_s)
        return make_finding(
            FindingCode.EPOCH_TRANSITION,
            "info",
            now,
            metric="tick_info.duration_s",
            value=stall,
            threshold=threshold,
            message_en=(
                f"The network has been halted for {stall} s at tick {now.tick} of epoch {now.epoch} during the "
                f"weekly epoch transition (Wednesdays 12:00 UTC); a halt of up to an hour is expected"
            ),
            message_zh=(
                f"每週 epoch 轉換期間（週三 12:00 UTC）網路已暫停 {stall} 秒（epoch {now.epoch}，停在 tick "
                f"{now.tick}），最長約一小時的暫停屬於正常現象"
            ),
            evidence={"stall_s": stall, "threshold_s": threshold, "epoch": now.epoch, "tick": now.tick},
        )
    return None


def tick_rate_low(timeline: Timeline) -> Finding | None:
    """Ticks advance, but the last ~5 min ran far below this epoch's normal rate."""
    now, start = timeline.now, timeline.recent_rate_index
    if timeline.in_transition or timeline.stalled or start is None:
        return None
    reference, epoch_first = timeline.samples[start], timeline.samples[timeline.epoch_start]
    if now.t - epoch_first.t < RATE_MIN_EPOCH_HISTORY_S or now.t - reference.t < RATE_MIN_STRETCH_S:
        return None
    # A stretch with a step that did not advance is a stall that ended, not a slow network.
    if not timeline.ticks_advanced_since(start):
        return None
    rate = (now.tick - reference.tick) / (now.t - reference.t)
    normal = 1.0 / timeline.seconds_per_tick
    ratio = rate / normal
    if ratio >= RATE_WARNING_RATIO:
        return None
    critical = ratio < RATE_CRITICAL_RATIO
    limit = round(100 * (RATE_CRITICAL_RATIO if critical else RATE_WARNING_RATIO))
    mins, ratio_pct = minutes(now.t - reference.t), round(100 * ratio)
    rate_r, normal_r = round(rate, 2), round(normal, 2)
    return make_finding(
        FindingCode.TICK_RATE_LOW,
        "critical" if critical else "warning",
        now,
        metric="tick_info.tick_rate_ratio_pct",
        value=ratio_pct,
        threshold=limit,
        message_en=(
            f"Ticks advance at {rate_r} per second over the last {mins} min, {ratio_pct}% of this epoch's "
            f"normal {normal_r} per second (threshold {limit}%)"
        ),
        message_zh=(
            f"最近 {mins} 分鐘每秒只前進 {rate_r} 個 tick，僅為本 epoch 正常速度（每秒 {normal_r} 個）的 "
            f"{ratio_pct}%（門檻 {limit}%）"
        ),
        evidence={
            "recent_ticks_per_s": rate_r,
            "normal_ticks_per_s": normal_r,
            "ratio_pct": ratio_pct,
            "threshold_pct": limit,
            "stretch_min": mins,
            "ticks_advanced": now.tick - reference.tick,
        },
    )


def archive_lag(timeline: Timeline) -> Finding | None:
    """The archive's last processed tick is far behind the live tick (both freeze during a transition)."""
    now = timeline.now
    if now.archive_tick is None or timeline.in_transition:
        return None
    lag = now.tick - now.archive_tick
    if lag <= ARCHIVE_LAG_WARNING:
        return None
    critical = lag > ARCHIVE_LAG_CRITICAL
    limit = ARCHIVE_LAG_CRITICAL if critical else ARCHIVE_LAG_WARNING
    return make_finding(
        FindingCode.ARCHIVE_LAG,
        "critical" if critical else "warning",
        now,
        metric="archive_lag_ticks",
        value=lag,
        threshold=limit,
        message_en=(
            f"The archive is {lag} ticks behind the live tick (last processed {now.archive_tick}, live "
            f"{now.tick}); threshold {limit} ticks"
        ),
        message_zh=f"歸檔落後即時 tick {lag} 個（已處理到 {now.archive_tick}，即時 {now.tick}，門檻 {limit} 個）",
        evidence={"lag_ticks": lag, "archive_tick": now.archive_tick, "live_tick": now.tick, "threshold": limit},
    )


def data_gap(timeline: Timeline) -> Finding | None:
    """No observations for a stretch before the current one (reported at the first observation after it)."""
    spacing = timeline.median_spacing_s
    if spacing is None:
        return None
    previous, now = timeline.samples[-2], timeline.now
    gap = now.t - previous.t
    threshold = max(GAP_MIN_S, GAP_SPACINGS * spacing)
    if gap <= threshold:
        return None
    gap_s, threshold_s, mins, since = round(gap), round(threshold), minutes(gap), clock(previous.t)
    return make_finding(
        FindingCode.DATA_GAP,
        "warning",
        now,
        metric="observation_gap_s",
        value=gap_s,
        threshold=threshold_s,
        message_en=(
            f"No observations for {gap_s} s (about {mins} min, since {since} UTC) before this one; "
            f"threshold {threshold_s} s"
        ),
        message_zh=f"這筆觀測之前有 {gap_s} 秒（約 {mins} 分鐘，自 {since} UTC 起）沒有資料（門檻 {threshold_s} 秒）",
        evidence={
            "gap_s": gap_s,
            "gap_min": mins,
            "threshold_s": threshold_s,
            "median_spacing_s": round(spacing, 1),
            "since": f"{since} UTC",
        },
    )

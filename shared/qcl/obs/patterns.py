"""Log patterns: Drain (drain3) turns messages into templates, and a template that is new or bursting is flagged.

    report = mine(index.search(LogQuery(since=now - window - baseline, limit=MAX_LINES)), now=now, alerts=book_alerts)
    [p for p in report if p.bursting and p.severity == "ERROR"]   # each with its request ids and the alerts then

The lines of the last `window_s` are "recent"; the `baseline_s` before them are the baseline. A template is new
when the baseline holds lines but none of it; bursting when its recent rate is over `burst_factor` times its
baseline rate and it has at least `min_count` recent lines. An error pattern that is new or bursting carries the
alerts that were firing during its recent lines and the request ids of those lines, so a burst leads straight to
the requests to search and the alert that paged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel

from qcl.obs.alerts import AlertRecord
from qcl.obs.logindex import LogEntry
from qcl.obs.logquery import LEVELS

WINDOW_S = 300.0  # "recent": the last 5 minutes
BASELINE_S = 3600.0  # compared against the hour before them
BURST_FACTOR = 3.0
MIN_COUNT = 5  # fewer recent lines than this is noise, not a burst
MAX_LINES = 20_000  # lines mined per call: about a second of Drain on the 2-core VM
MAX_REQUEST_IDS = 20

# Masked before Drain sees a message, so ids and numbers never split one template into many.
_MASKS = (
    (r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "UUID"),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "ADDR"),  # 127.0.0.1:43681
    (r"\b\d+:\d+\b", "ADDR"),  # host:port without the host, layer ranges 0:12
    # Session ids, key ids (7e7f013a), digests: a digit and a letter, so a plain number stays a NUM.
    (r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,}\b", "HEX"),
    (r"(?<![A-Za-z])-?\d+(?:\.\d+)?(?![A-Za-z])", "NUM"),
)


class AlertLink(BaseModel):
    alertname: str
    fingerprint: str
    status: str
    starts_at: datetime


class PatternReport(BaseModel):
    template: str
    severity: str  # the highest among its lines
    services: list[str]
    count: int  # lines in window + baseline
    recent: int  # lines in the window
    baseline: int
    first_seen: datetime
    last_seen: datetime
    new: bool
    bursting: bool
    request_ids: list[str]  # of its recent lines, newest first
    alerts: list[AlertLink]  # firing while an error pattern was new or bursting
    example: str


@dataclass(frozen=True)
class MiningWindow:
    now: datetime
    window_s: float = WINDOW_S
    baseline_s: float = BASELINE_S
    burst_factor: float = BURST_FACTOR
    min_count: int = MIN_COUNT

    @property
    def recent_from(self) -> datetime:
        return self.now - timedelta(seconds=self.window_s)

    @property
    def baseline_from(self) -> datetime:
        return self.recent_from - timedelta(seconds=self.baseline_s)


# drain3 logs its configuration at INFO each time a miner starts (once per patterns request): not worth a line.
logging.getLogger("drain3").setLevel(logging.WARNING)


def _miner() -> object:
    from drain3 import TemplateMiner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.masking_instructions = [MaskingInstruction(pattern, name) for pattern, name in _MASKS]
    config.drain_sim_th = 0.5
    return TemplateMiner(config=config)


def mine(
    entries: Sequence[LogEntry], window: MiningWindow, *, alerts: Sequence[AlertRecord] = ()
) -> list[PatternReport]:
    """Templates of `entries` (any order) with their flags; bursting and new first, then by recent count."""
    miner = _miner()
    clusters: dict[int, list[LogEntry]] = {}
    for entry in sorted(entries, key=lambda e: e.time):
        if not window.baseline_from <= entry.time <= window.now:
            continue
        cluster_id = miner.add_log_message(entry.message)["cluster_id"]  # type: ignore[attr-defined]
        clusters.setdefault(cluster_id, []).append(entry)
    has_baseline = any(e.time < window.recent_from for lines in clusters.values() for e in lines)
    templates = {c.cluster_id: c.get_template() for c in miner.drain.clusters}  # type: ignore[attr-defined]
    reports = [_report(templates[cid], lines, window, has_baseline, alerts) for cid, lines in clusters.items()]
    return sorted(reports, key=lambda r: (not (r.bursting or r.new), -r.recent, -r.count))


def _report(
    template: str, lines: list[LogEntry], window: MiningWindow, has_baseline: bool, alerts: Sequence[AlertRecord]
) -> PatternReport:
    recent = [e for e in lines if e.time >= window.recent_from]
    baseline = len(lines) - len(recent)
    new = has_baseline and baseline == 0 and bool(recent)
    recent_rate, baseline_rate = len(recent) / window.window_s, baseline / window.baseline_s
    # Without any baseline (a stack minutes old) nothing is new or bursting: there is nothing to compare with.
    bursting = has_baseline and len(recent) >= window.min_count and recent_rate > window.burst_factor * baseline_rate
    severity = max((e.severity for e in lines), key=lambda s: LEVELS.index(s) if s in LEVELS else -1)
    request_ids = list(dict.fromkeys(e.request_id for e in reversed(recent) if e.request_id))
    is_error = severity in ("ERROR", "CRITICAL")
    linked = (
        _alerts_during(alerts, recent[0].time, recent[-1].time) if recent and is_error and (new or bursting) else []
    )
    return PatternReport(
        template=re.sub(r"\s+", " ", template),
        severity=severity,
        services=sorted({e.service for e in lines}),
        count=len(lines),
        recent=len(recent),
        baseline=baseline,
        first_seen=lines[0].time,
        last_seen=lines[-1].time,
        new=new,
        bursting=bursting,
        request_ids=request_ids[:MAX_REQUEST_IDS],
        alerts=linked,
        example=lines[-1].message[:500],
    )


def _alerts_during(alerts: Sequence[AlertRecord], start: datetime, end: datetime) -> list[AlertLink]:
    """Alerts firing at some point of [start, end]: started by its end and not resolved before its start (the
    history holds an alert's firing and resolved records; the resolved one says when it ended)."""
    ended: dict[tuple[str, datetime], datetime | None] = {}
    names: dict[tuple[str, datetime], str] = {}
    for alert in alerts:
        key = (alert.fingerprint, alert.starts_at)
        names[key] = alert.alertname
        if alert.status == "resolved":
            ended[key] = alert.ends_at or alert.received_at
        else:
            ended.setdefault(key, None)
    return [
        AlertLink(alertname=names[key], fingerprint=key[0], starts_at=key[1], status="resolved" if stop else "firing")
        for key, stop in ended.items()
        if key[1] <= end and (stop is None or stop >= start)
    ]

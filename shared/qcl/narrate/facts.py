"""Everything a narrative may say in figures about one analysis report: its values, times, dates and trends.

    from qcl.narrate.facts import report_facts
    facts = report_facts(report)       # what the grounding check compares a model's text with

Values come from the report only: the health score, the metrics, each finding's tick, value, threshold and
evidence, and every figure written in the findings' own messages (both languages); and from the epoch calendar
(analysis/epochs.py) at the report's time, the next epoch, its start and the time left until it. A trend is a
direction the data shows for one subject (the price went down, empty ticks went up); a direction word in a text
must agree with one of them (claims.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from qcl.analysis.epochs import epoch_start, next_epoch_start
from qcl.analysis.report import SEVERITY_RANK, AnalysisReport, Finding, FindingCode, NetworkMetrics
from qcl.narrate.mentions import Kind, extract

Direction = Literal["up", "down", "flat"]
Subject = Literal["price", "quality", "empty", "rate", "archive", "supply"]


@dataclass(frozen=True)
class Fact:
    source: str  # the metric or finding code it comes from: "price_usd", "tick_stall", "health_score"
    value: float
    kind: Kind  # a mention of a tick/epoch/percent/usd only matches a fact of the same kind
    integral: bool = False  # a count or identifier: written with decimals ("1.00 findings") it is not a copy


@dataclass(frozen=True)
class Trend:
    subject: Subject
    direction: Direction
    source: str


@dataclass(frozen=True)
class ReportFacts:
    values: tuple[Fact, ...]
    times: frozenset[str]  # "HH:MM" (UTC)
    dates: frozenset[str]  # "YYYY-MM-DD"
    trends: tuple[Trend, ...]
    status: Literal["healthy", "degraded", "critical"] = "healthy"
    severities: frozenset[str] = frozenset()  # of the report's findings

    def allows(self, level: str) -> bool:
        """Whether a text may call the network `level` (claims.py state claims)."""
        if level == "healthy":
            return self.status == "healthy"
        if level == "degraded":
            return self.status != "healthy"
        if level == "problem":
            return self.status != "healthy" or bool(self.severities & {"warning", "critical"})
        return self.status == "critical" or "critical" in self.severities

    def directions(self, subject: Subject | None) -> frozenset[Direction]:
        """What the data says about `subject`'s direction; about any subject when None."""
        return frozenset(t.direction for t in self.trends if subject is None or t.subject == subject)


_METRIC_KIND: dict[str, Kind] = {
    "epoch": "epoch",
    "tick": "tick",
    "epoch_tick_quality_pct": "percent",
    "tick_quality_last_10k_pct": "percent",
    "price_change_1h_pct": "percent",
    "price_change_24h_pct": "percent",
    "price_usd": "usd",
    "market_cap_usd": "usd",
    "empty_tick_share_pct": "percent",
    "burned_share_pct": "percent",
}
_TICK_KEYS = {"tick", "initial_tick", "archive_tick", "live_tick"}
_EPOCH_KEYS = {"epoch", "previous_epoch"}
_CLOCK = re.compile(r"^(\d{2}):(\d{2}) UTC$")
_DIRECTION_WORDS: dict[str, Direction] = {"up": "up", "down": "down", "flat": "flat"}  # price_trend's evidence
HEALTH_SCALE = 100  # "60/100": the score's scale is a figure a narrative writes
# Figures that name a metric rather than measure it: the stats API's last10000TickQuality covers the last 10,000
# ticks (qubic-rpc.md §2.1, §4.5); the analyzer's price changes are over 1 h and 24 h (analysis/engine.py).
METRIC_DEFINITIONS: dict[str, tuple[int, ...]] = {
    "tick_quality_last_10k_pct": (10_000,),
    "price_change_1h_pct": (1,),
    "price_change_24h_pct": (24,),
}


def report_facts(
    report: AnalysisReport, *, held_qu: float | None = None, spend_usd: float | None = None
) -> ReportFacts:
    """The report's facts; with `held_qu` (an amount of QU a question names), that amount and its worth in USD; with
    `spend_usd` (an amount of USD to spend), that amount and the QU it buys."""
    values: list[Fact] = [
        Fact("health_score", report.health_score, "number", integral=True),
        Fact("health_score", HEALTH_SCALE, "number", integral=True),
        Fact("findings", len(report.findings), "number", integral=True),
        *(Fact("findings", sum(f.severity == s for f in report.findings), "number", True) for s in SEVERITY_RANK),
        Fact("observed_at", report.observed_at.year, "number", integral=True),
        Fact("window_observations", report.window_observations, "number", integral=True),
    ]
    times: set[str] = set()
    dates: set[str] = set()
    _add_moment(report.observed_at, times, dates)
    if report.metrics is not None:
        values.extend(_metric_facts(report.metrics))
        if held_qu is not None:
            values.append(Fact("held_qu", held_qu, "number", integral=held_qu.is_integer()))
            values.append(Fact("held_value_usd", held_qu * report.metrics.price_usd, "usd"))
        if spend_usd is not None and report.metrics.price_usd > 0:
            values.append(Fact("spend_usd", spend_usd, "usd"))
            values.append(Fact("spend_qu", spend_usd / report.metrics.price_usd, "number"))
        if (schedule := epoch_schedule(report)) is not None:
            next_epoch, starts, countdown, age = schedule
            values.append(Fact("epoch", next_epoch, "epoch", integral=True))
            values.extend(Fact("epoch", n, "number", integral=True) for n, _ in (*countdown, *age))
            _add_moment(starts, times, dates)
            _add_moment(epoch_start(report.metrics.epoch), times, dates)  # when the current epoch began
    for finding in report.findings:
        values.extend(_finding_facts(finding))
        _add_moment(finding.observed_at, times, dates)
        for message in (finding.message_en, finding.message_zh):
            mentions = extract(message)
            values.extend(
                Fact(finding.code.value, m.value, m.kind, m.precision >= 1 and m.value.is_integer())
                for m in mentions.numbers
            )
            times.update(mentions.times)
            dates.update(d for d in mentions.dates if len(d) == 10)
        for item in finding.evidence.values():
            if isinstance(item, str) and (clock := _CLOCK.match(item)):
                times.add(f"{clock.group(1)}:{clock.group(2)}")
    return ReportFacts(
        tuple(values),
        frozenset(times),
        frozenset(dates),
        tuple(report_trends(report)),
        report.status,
        frozenset(f.severity for f in report.findings),
    )


Countdown = tuple[tuple[int, Literal["day", "hour", "minute"]], ...]


def epoch_schedule(report: AnalysisReport) -> tuple[int, datetime, Countdown, Countdown] | None:
    """The next epoch, when the calendar starts it (analysis/epochs.py), the time until then and the time since the
    current epoch began, each as an answer writes it (`span`), or None when the report has no epoch the calendar can
    place."""
    if report.metrics is None or (starts := next_epoch_start(report.observed_at, report.metrics.epoch)) is None:
        return None
    left = (starts - report.observed_at).total_seconds() // 60
    age = (report.observed_at - epoch_start(report.metrics.epoch)).total_seconds() // 60
    return report.metrics.epoch + 1, starts, span(int(left)), span(int(age))


def span(minutes: int) -> Countdown:
    """Days and hours, else whole hours from 2 h, else minutes; zero parts left out (empty for none or less)."""
    minutes = max(0, minutes)
    days, hours = divmod(minutes // 60, 24)
    if days:
        parts: Countdown = ((days, "day"), (hours, "hour"))
    elif minutes >= 120:
        parts = (((minutes + 30) // 60, "hour"),)  # "about 4 hours" for 3 h 30 min: one unit, last
    else:
        parts = ((minutes, "minute"),)
    return tuple((n, unit) for n, unit in parts if n)


def _add_moment(at: datetime, times: set[str], dates: set[str]) -> None:
    utc = at.astimezone(UTC)
    times.add(utc.strftime("%H:%M"))
    dates.add(utc.strftime("%Y-%m-%d"))


def derived_metrics(metrics: NetworkMetrics) -> dict[str, float | None]:
    """Values computed from the metrics, stated like metrics: the share of this epoch's ticks that were empty, the
    seconds one tick takes at the current rate, all QU issued and the share of it that has been burned (the stats API's
    burned amount is the epochs' issuance less the circulating supply: circulating plus burned is all issued,
    qubic-rpc.md §4.7)."""
    ticks, rate, burned = metrics.ticks_in_epoch, metrics.tick_rate_per_s, metrics.burned_qus
    issued = metrics.circulating_supply + burned if burned > 0 else None  # a node without burn figures writes 0
    return {
        "empty_tick_share_pct": 100 * metrics.empty_ticks_in_epoch / ticks if ticks > 0 else None,
        "seconds_per_tick": 1 / rate if rate else None,
        "issued_qus": issued,
        "burned_share_pct": 100 * burned / issued if issued else None,
    }


def metric_values(metrics: NetworkMetrics) -> dict[str, float | None]:
    """Every metric of the report by name, the derived ones included."""
    return {**metrics.model_dump(), **derived_metrics(metrics)}


def _metric_facts(metrics: NetworkMetrics) -> Iterable[Fact]:
    for name, value in metric_values(metrics).items():
        if value is not None:
            yield Fact(name, float(value), _METRIC_KIND.get(name, "number"), isinstance(value, int))
        for figure in METRIC_DEFINITIONS.get(name, ()):
            yield Fact(name, figure, "number", integral=True)


def _evidence_kind(key: str) -> Kind:
    if key in _TICK_KEYS:
        return "tick"
    if key in _EPOCH_KEYS:
        return "epoch"
    if key.endswith(("_pct", "_pp")):
        return "percent"
    return "usd" if "price_usd" in key else "number"


def _value_kind(finding: Finding) -> Kind:
    if finding.metric == "tick_info.epoch":
        return "epoch"
    return "percent" if finding.metric.endswith(("_pct", "_pp", "Quality")) else "number"


def _finding_facts(finding: Finding) -> Iterable[Fact]:
    source = finding.code.value
    if finding.tick is not None:
        yield Fact(source, finding.tick, "tick", integral=True)
    for number in (finding.value, finding.threshold):
        if isinstance(number, int | float):
            yield Fact(source, float(number), _value_kind(finding), isinstance(number, int))
    for key, item in finding.evidence.items():
        if isinstance(item, bool) or item is None:
            continue
        if isinstance(item, int | float):
            yield Fact(source, float(item), _evidence_kind(key), isinstance(item, int))
        elif _is_number(item):
            yield Fact(source, float(item), _evidence_kind(key))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _sign(value: float) -> Direction:
    return "up" if value > 0 else "down" if value < 0 else "flat"


def report_trends(report: AnalysisReport) -> list[Trend]:
    """The directions the report shows, per subject (see the module docstring)."""
    trends: list[Trend] = []
    if report.metrics is not None:
        for name in ("price_change_1h_pct", "price_change_24h_pct"):
            change = getattr(report.metrics, name)
            if change is not None:
                trends.append(Trend("price", _sign(change), name))
    for finding in report.findings:
        trends.extend(_finding_trends(finding))
    return trends


def _finding_trends(finding: Finding) -> list[Trend]:
    code, evidence = finding.code, finding.evidence
    fixed: dict[FindingCode, tuple[Subject, Direction]] = {
        FindingCode.PRICE_CRASH: ("price", "down"),
        FindingCode.PRICE_SPIKE: ("price", "up"),
        FindingCode.EMPTY_TICKS_HIGH: ("empty", "up"),
        FindingCode.TICK_QUALITY_DROP: ("quality", "down"),
        FindingCode.TICK_RATE_LOW: ("rate", "down"),
        FindingCode.TICK_STALL: ("rate", "down"),
        FindingCode.ARCHIVE_LAG: ("archive", "up"),
    }
    if code in fixed:
        subject, direction = fixed[code]
        return [Trend(subject, direction, code.value)]
    if code is FindingCode.PRICE_TREND:
        return [
            Trend("price", _DIRECTION_WORDS[word], code.value)
            for key in ("direction_1h", "direction_24h")
            if isinstance(word := evidence.get(key), str) and word in _DIRECTION_WORDS
        ]
    if code is FindingCode.SUPPLY_ANOMALY:
        return [
            Trend("supply", _sign(float(change)), code.value)
            for key in ("supply_change", "difference")
            if isinstance(change := evidence.get(key), int | float)
        ]
    return []

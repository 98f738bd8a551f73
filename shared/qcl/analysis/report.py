"""The analysis report: a health score 0–100 and findings, each a fixed code with the numbers behind it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class FindingCode(StrEnum):
    """The fixed vocabulary of findings."""

    TICK_STALL = "tick_stall"  # no new tick for far longer than the tick time
    TICK_RATE_LOW = "tick_rate_low"  # ticks advance, far slower than this epoch's normal rate
    EMPTY_TICKS_HIGH = "empty_ticks_high"  # share of empty ticks spikes
    TICK_QUALITY_DROP = "tick_quality_drop"  # epoch tick quality trends down
    PRICE_CRASH = "price_crash"  # a fall beyond what recent volatility explains
    PRICE_SPIKE = "price_spike"  # a rise beyond what recent volatility explains
    PRICE_TREND = "price_trend"  # info: direction and size over 1 h / 24 h
    SUPPLY_ANOMALY = "supply_anomaly"  # supply moves mid-epoch, or supply + burned != epoch × 10^12
    EPOCH_TRANSITION = "epoch_transition"  # info: the weekly epoch change (and its halt)
    ARCHIVE_LAG = "archive_lag"  # the archive is far behind the live tick
    DATA_GAP = "data_gap"  # observations missing for a stretch
    DATA_INVALID = "data_invalid"  # a malformed or impossible observation: reported, skipped


Severity = Literal["info", "warning", "critical"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: FindingCode
    severity: Severity
    observed_at: datetime
    tick: int | None  # the live tick at the observation (None when the observation could not be read)
    metric: str  # what was measured, e.g. "tick_info.duration_s"
    value: float | str | None  # the measured value (a direction word for trends)
    threshold: float | None  # the limit it was compared with (None for info findings without one)
    message_en: str
    message_zh: str  # Traditional Chinese
    evidence: dict[str, float | int | str | None] = Field(default_factory=dict)  # the numbers used


class NetworkMetrics(BaseModel):
    """The latest observation's headline numbers, as the dashboard and the narrator use them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    epoch: int
    tick: int
    tick_duration_s: int
    tick_rate_per_s: float | None  # over the recent stretch; None until two observations exist
    epoch_tick_quality_pct: float
    tick_quality_last_10k_pct: float | None
    empty_ticks_in_epoch: int
    ticks_in_epoch: int
    price_usd: float
    price_change_1h_pct: float | None
    price_change_24h_pct: float | None
    circulating_supply: int
    burned_qus: int
    market_cap_usd: int
    active_addresses: int
    archive_lag_ticks: int | None


class AnalysisReport(BaseModel):
    """The data of a `network-analysis` event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    observed_at: datetime
    health_score: int = Field(ge=0, le=100)
    status: Literal["healthy", "degraded", "critical"]
    metrics: NetworkMetrics | None  # None when the latest observation was invalid
    findings: list[Finding]
    window_observations: int  # how many observations the analysis looked at
    observation_event_id: str | None = None  # the `qubic-ticks` event this report answers

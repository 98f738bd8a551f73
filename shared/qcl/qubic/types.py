"""Qubic RPC bodies and the observation built from them, parsed strictly.

Encoding rules of the RPC (grpc-gateway / protojson, see docs/reference/qubic-rpc.md §1.1): 64-bit integers
arrive as JSON strings, 32-bit integers as numbers, floats as numbers that may be written `9.12e-7`, and tick
quality is a percentage. Unknown fields are ignored (the services add fields over time); every known field is
checked for type and range, and a body that breaks a rule is rejected with the field named.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

UINT64_MAX = 2**64 - 1
UINT32_MAX = 2**32 - 1


def _parse_int64(value: Any) -> int:
    # protojson writes 64-bit integers as decimal strings; parsers also accept plain numbers.
    if isinstance(value, bool):
        raise ValueError("expected a 64-bit integer as a decimal string, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise ValueError(f"expected a 64-bit integer as a decimal string, got {value!r}")


def _parse_int32(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a 32-bit integer as a JSON number, got {value!r}")
    return value


def _parse_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a JSON number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    return float(value)


def _utc(value: datetime) -> datetime:
    if value.utcoffset() != UTC.utcoffset(None):
        raise ValueError(f"expected a UTC time (suffix Z or +00:00), got offset {value.utcoffset()}")
    return value.astimezone(UTC)


Int64 = Annotated[int, BeforeValidator(_parse_int64), PlainSerializer(str, return_type=str, when_used="json")]
UInt64 = Annotated[Int64, Field(ge=0, le=UINT64_MAX)]
UInt32 = Annotated[int, BeforeValidator(_parse_int32), Field(ge=0, le=UINT32_MAX)]
Float32 = Annotated[float, BeforeValidator(_parse_float)]
Percent = Annotated[Float32, Field(ge=0, le=100)]
UtcTime = Annotated[AwareDatetime, AfterValidator(_utc)]


class RpcModel(BaseModel):
    """A body of the Qubic RPC: camelCase on the wire, snake_case in Python, unknown fields ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, alias_generator=None)


class LatestStats(RpcModel):
    """`data` of GET /v1/latest-stats (qubic-stats-service)."""

    timestamp: UInt64  # Unix seconds of the stats processor's last scrape (about every 60 s)
    circulating_supply: UInt64 = Field(alias="circulatingSupply")
    active_addresses: UInt32 = Field(alias="activeAddresses")
    price: Annotated[Float32, Field(ge=0)]  # USD per QU (CoinGecko)
    market_cap: UInt64 = Field(alias="marketCap")
    epoch: UInt32
    current_tick: UInt32 = Field(alias="currentTick")
    ticks_in_current_epoch: UInt32 = Field(alias="ticksInCurrentEpoch")
    empty_ticks_in_current_epoch: UInt32 = Field(alias="emptyTicksInCurrentEpoch")
    epoch_tick_quality: Percent = Field(alias="epochTickQuality")
    burned_qus: UInt64 = Field(alias="burnedQus")
    # Newer stats-service versions only: the last ≤10 000 ticks of the current epoch.
    ticks_in_last_10k: UInt32 | None = Field(default=None, alias="ticksInLast10000")
    empty_ticks_in_last_10k: UInt32 | None = Field(default=None, alias="emptyTicksInLast10000")
    tick_quality_last_10k: Percent | None = Field(default=None, alias="last10000TickQuality")

    @model_validator(mode="after")
    def _empty_ticks_within_ticks(self) -> LatestStats:
        if self.empty_ticks_in_current_epoch > self.ticks_in_current_epoch:
            raise ValueError(
                f"emptyTicksInCurrentEpoch ({self.empty_ticks_in_current_epoch}) exceeds "
                f"ticksInCurrentEpoch ({self.ticks_in_current_epoch})"
            )
        return self


class LatestStatsBody(RpcModel):
    data: LatestStats


class TickInfo(RpcModel):
    """`tickInfo` of GET /live/v1/tick-info."""

    tick: UInt32
    duration: UInt32  # whole seconds the node has spent on the current tick (capped at 65535)
    epoch: UInt32
    initial_tick: UInt32 = Field(alias="initialTick")  # first tick of the current epoch interval

    @model_validator(mode="after")
    def _node_ready(self) -> TickInfo:
        # A node without a computor list answers all zeros: there is no information in it.
        if self.tick == 0 and self.epoch == 0:
            raise ValueError("tick-info is all zeros: the answering node has no computor list yet")
        if self.initial_tick > self.tick:
            raise ValueError(f"initialTick ({self.initial_tick}) is after tick ({self.tick})")
        return self


class TickInfoBody(RpcModel):
    tick_info: TickInfo = Field(alias="tickInfo")


class LastProcessedTick(RpcModel):
    """GET /query/v1/getLastProcessedTick."""

    tick_number: UInt32 = Field(alias="tickNumber")
    epoch: UInt32
    interval_initial_tick: UInt32 = Field(alias="intervalInitialTick")
    last_processed_log_tick: UInt32 | None = Field(default=None, alias="lastProcessedLogTick")


class TickInterval(RpcModel):
    """One element of GET /query/v1/getProcessedTickIntervals (a bare JSON array, oldest first)."""

    epoch: UInt32
    first_tick: UInt32 = Field(alias="firstTick")
    last_tick: UInt32 = Field(alias="lastTick")

    @model_validator(mode="after")
    def _ordered(self) -> TickInterval:
        if self.last_tick < self.first_tick:
            raise ValueError(f"lastTick ({self.last_tick}) is before firstTick ({self.first_tick})")
        return self


class Observation(BaseModel):
    """One observation of the network: a line of a capture file, and the data of a `qubic-ticks` event.

    Capture format (JSON lines): {"observed_at": RFC3339 UTC, "latest_stats": <body of /v1/latest-stats>,
    "tick_info": <body of /live/v1/tick-info>, "last_processed_tick"?: <body>, "tick_intervals"?: <body>}.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    observed_at: UtcTime
    latest_stats: LatestStatsBody
    tick_info: TickInfoBody
    last_processed_tick: LastProcessedTick | None = None
    tick_intervals: list[TickInterval] | None = None

    @property
    def stats(self) -> LatestStats:
        return self.latest_stats.data

    @property
    def tick(self) -> TickInfo:
        return self.tick_info.tick_info

    def to_json_line(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)

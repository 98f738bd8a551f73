"""Synthetic Qubic observations: a deterministic generator of capture lines, and the bundled sample capture.

    python -m qcl.qubic.synth --out shared/qcl/qubic/data/sample_capture.synthetic.jsonl

Nothing here is real data. The generator simulates the network (ticks at a steady rate, the Wednesday 12:00 UTC
epoch transition with its halt, empty ticks, the archive a few ticks behind, the stats service scraping every
60 s, a random-walk price) and writes what the RPC would have answered, in the exact body shapes of
docs/reference/qubic-rpc.md §2.1/2.3/2.6/2.7. Episodes (a stall, slow ticks, a price crash, a bad line, ...)
are laid on top. Same arguments and seed, same lines.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from qcl.qubic.capture import parse_line
from qcl.qubic.types import LastProcessedTick, LatestStats, Observation, RpcModel, TickInfo

EPOCH_186_START = datetime(2025, 11, 5, 12, 0, tzinfo=UTC)  # epochs change Wednesdays 12:00 UTC (§4.3)
EPOCH_LENGTH_S = 7 * 86400
INITIAL_TICKS = {186: 36_440_000, 187: 37_011_000, 188: 37_555_000, 189: 38_080_570, 190: 38_640_000}  # §4.3
EPOCH_185_INTERVAL = {"epoch": 185, "firstTick": 35_871_563, "lastTick": 36_439_817}  # end tick is an estimate
SUPPLY_186 = 156_381_204_887_512  # §2.1 example; + 10^12 issued − ~0.33 T burned per epoch
SUPPLY_GROWTH_PER_EPOCH = 668_427_095_882
ACTIVE_ADDRESSES_186 = 571_904
SECONDS_PER_TICK = 1.06  # late 2025: about 570 k ticks per epoch (§4.2)
HALT_S = 1500.0  # the transition halt: minutes up to an hour (§4.3)
EMPTY_RATE = 0.003  # last-10k quality ≈ 99.7 % (§2.1)
EPOCH_EMPTY_SHARE = 0.01297  # epoch quality ≈ 98.70 % mid-epoch: incidents add to the steady rate
START_EMPTY_TICKS, START_EMPTY_RATE = 40, 0.6  # the first ticks after a restart are typically empty (§4.4)
ARCHIVE_CATCHUP_TPS = 20.0  # ticks per second the archive processes when catching up
SCRAPE_PERIOD_S, SCRAPE_OFFSET_S = 60, 7  # the stats processor scrapes about once a minute
PRICE_START_USD = 9.12e-7
PRICE_VOLATILITY_PER_MIN = 0.0012  # ≈ 4.5 % a day, as a log-return standard deviation

EpisodeKind = Literal[
    "stall",  # no new tick in [start, end)
    "slow_ticks",  # tick rate × size in [start, end)
    "empty_ticks",  # ticks archived in [start, end) are empty with probability size
    "archive_freeze",  # the archive processes nothing in [start, end), then catches up
    "supply_glitch",  # stats report supply + size (burned unchanged) in [start, end)
    "price_move",  # the price moves by a factor (1 + size) spread over [start, end)
    "gap",  # no capture lines in [start, end)
    "truncated_line",  # the first line at or after start is cut short
    "tick_backwards",  # the first line at or after start reports tick − size
    "duplicate_line",  # the first line at or after start is written twice
]


@dataclass(frozen=True)
class Episode:
    kind: EpisodeKind
    start: datetime
    end: datetime | None = None  # None for one-line episodes
    size: float = 0.0

    def covers(self, t: float) -> bool:
        return self.start.timestamp() <= t < (self.end or self.start).timestamp()


def _at(hour: int, minute: int) -> datetime:
    return datetime(2025, 11, 12, hour, minute, tzinfo=UTC)


SAMPLE_FILE_NAME = "sample_capture.synthetic.jsonl"
SAMPLE_START = _at(8, 0)  # Wednesday: epoch 186 → 187 at 12:00 UTC
SAMPLE_HOURS = 9.0
SAMPLE_EPISODES: tuple[Episode, ...] = (
    Episode("truncated_line", _at(8, 30)),
    Episode("stall", _at(8, 50), _at(9, 0)),
    Episode("slow_ticks", _at(9, 30), _at(9, 50), 0.3),
    Episode("empty_ticks", _at(10, 10), _at(10, 20), 0.35),
    Episode("archive_freeze", _at(10, 40), _at(11, 0)),
    Episode("supply_glitch", _at(11, 15), _at(11, 17), -3_200_000_000),
    # 12:00–12:25 the transition halt and 12:25 epoch 187 come from the calendar, not from an episode.
    Episode("tick_backwards", _at(13, 10), None, 1500),
    Episode("price_move", _at(13, 40), _at(13, 45), -0.12),
    Episode("gap", _at(14, 20), _at(14, 40)),
    Episode("price_move", _at(14, 50), _at(14, 55), 0.15),
    Episode("empty_ticks", _at(15, 30), _at(16, 0), 0.06),
    Episode("duplicate_line", _at(16, 30)),
)
SCENARIOS = {"sample": SAMPLE_EPISODES, "calm": ()}


def epoch_start_t(epoch: int) -> float:
    return EPOCH_186_START.timestamp() + (epoch - 186) * EPOCH_LENGTH_S


def initial_tick(epoch: int) -> int:
    return INITIAL_TICKS.get(epoch, INITIAL_TICKS[186] + (epoch - 186) * 571_000)


def supply(epoch: int) -> int:
    return SUPPLY_186 + (epoch - 186) * SUPPLY_GROWTH_PER_EPOCH


class _Network:
    """The simulated network, archive and stats service, advanced observation by observation."""

    def __init__(
        self, start: float, rng: random.Random, seconds_per_tick: float, halt_s: float, episodes: Sequence[Episode]
    ) -> None:
        self.rng, self.seconds_per_tick, self.halt_s, self.episodes = rng, seconds_per_tick, halt_s, episodes
        epoch = 186 + math.floor((start - EPOCH_186_START.timestamp()) / EPOCH_LENGTH_S)
        if start < epoch_start_t(epoch) + halt_s:
            epoch -= 1  # inside the transition halt: the previous epoch is still the live one
        self.epoch, self.initial_tick = epoch, initial_tick(epoch)
        running = min(start, epoch_start_t(epoch + 1)) - (epoch_start_t(epoch) + halt_s)
        self.tick = self.initial_tick + int(running / seconds_per_tick)
        self.last_change = min(start, epoch_start_t(epoch + 1))
        self.t = start
        self.archive_epoch, self.archive_initial, self.archive_t = epoch, self.initial_tick, start
        self.archive_tick = max(self.initial_tick, self.tick - 5)
        self.previous_end_tick = self.tick
        ticks = self.archive_tick - self.initial_tick + 1
        starting = min(ticks, START_EMPTY_TICKS)
        self.empty = round(starting * START_EMPTY_RATE + (ticks - starting) * EPOCH_EMPTY_SHARE)
        self.last_10k: deque[bool] = deque((rng.random() < EMPTY_RATE for _ in range(min(ticks, 10_000))), 10_000)
        self.intervals: list[dict[str, int]] = [dict(EPOCH_185_INTERVAL)] if epoch == 186 else []
        self.intervals.append({"epoch": epoch, "firstTick": self.initial_tick, "lastTick": self.archive_tick})
        self.log_price, self.last_scrape = math.log(PRICE_START_USD), -math.inf
        self.stats: dict[str, Any] = {}

    # --- live ticks ------------------------------------------------------------------------------------

    def _halts(self) -> list[tuple[float, float]]:
        transition = epoch_start_t(self.epoch + 1)
        halts = [(transition, transition + self.halt_s)]
        halts += [(e.start.timestamp(), (e.end or e.start).timestamp()) for e in self.episodes if e.kind == "stall"]
        return halts

    def _run_ticks(self, a: float, b: float) -> None:
        halts = self._halts()
        active = (b - a) - sum(max(0.0, min(b, h1) - max(a, h0)) for h0, h1 in halts)
        factor = math.prod(e.size for e in self.episodes if e.kind == "slow_ticks" and e.covers(b))
        rate = factor / self.seconds_per_tick
        expected = active * rate
        count = max(0, round(self.rng.gauss(expected, 0.3 * math.sqrt(expected)))) if expected > 0 else 0
        if count == 0:
            return
        self.tick += count
        last_active = next((h0 for h0, h1 in halts if h0 <= b < h1), b)
        self.last_change = max(a, last_active - self.rng.uniform(0, min(1 / rate, active)))

    def advance(self, t: float) -> None:
        transition = epoch_start_t(self.epoch + 1)
        restart = transition + self.halt_s
        if self.t < restart <= t:  # the new epoch begins: a coordinated restart at its initial tick
            self._run_ticks(self.t, restart)
            self.epoch, self.previous_end_tick = self.epoch + 1, self.tick
            self.initial_tick = max(initial_tick(self.epoch), (self.tick // 1000 + 2) * 1000)
            self.tick, self.last_change, self.t = self.initial_tick, restart, restart
        self._run_ticks(self.t, t)
        self.t = t
        self._advance_archive(t)
        self._scrape(t)

    # --- archive ---------------------------------------------------------------------------------------

    def _advance_archive(self, t: float) -> None:
        elapsed, self.archive_t = t - self.archive_t, t
        if any(e.kind == "archive_freeze" and e.covers(t) for e in self.episodes):
            return
        if self.archive_epoch < self.epoch:
            if self.tick - self.initial_tick < 3:
                return  # the new epoch has barely started; the archive is done with the old one
            self.intervals[-1]["lastTick"] = self.previous_end_tick
            self.archive_epoch, self.archive_initial = self.epoch, self.initial_tick
            self.archive_tick, self.empty = self.initial_tick - 1, 0
            self.last_10k.clear()
            self.intervals = [self.intervals[-1], {"epoch": self.epoch, "firstTick": self.initial_tick, "lastTick": 0}]
        target = min(self.tick - self.rng.randint(1, 8), self.archive_tick + int(ARCHIVE_CATCHUP_TPS * elapsed))
        rate = next((e.size for e in self.episodes if e.kind == "empty_ticks" and e.covers(t)), EMPTY_RATE)
        for number in range(self.archive_tick + 1, target + 1):
            starting = number - self.archive_initial < START_EMPTY_TICKS
            empty = self.rng.random() < (START_EMPTY_RATE if starting else rate)
            self.empty += empty
            self.last_10k.append(empty)
        self.archive_tick = max(self.archive_tick, target)
        self.intervals[-1]["lastTick"] = self.archive_tick

    # --- stats service ---------------------------------------------------------------------------------

    def _scrape(self, t: float) -> None:
        scrape = math.floor((t - SCRAPE_OFFSET_S) / SCRAPE_PERIOD_S) * SCRAPE_PERIOD_S + SCRAPE_OFFSET_S
        if scrape <= self.last_scrape:
            return
        minutes = 1.0 if self.last_scrape == -math.inf else (scrape - self.last_scrape) / 60
        self.last_scrape = scrape
        self.log_price += self.rng.gauss(0.0, PRICE_VOLATILITY_PER_MIN * math.sqrt(minutes))
        price = float(f"{math.exp(self.log_price) * self._price_factor(scrape):.4g}")
        epoch = self.archive_epoch
        circulating = supply(epoch) + int(
            sum(e.size for e in self.episodes if e.kind == "supply_glitch" and e.covers(t))
        )
        ticks = max(self.archive_tick - self.archive_initial + 1, 1)
        empty_10k = sum(self.last_10k)
        self.stats = {
            "timestamp": str(scrape),
            "circulatingSupply": str(circulating),
            "activeAddresses": ACTIVE_ADDRESSES_186 + (epoch - 186) * 1_214,
            "price": price,
            "marketCap": str(int(price * circulating)),
            "epoch": epoch,
            "currentTick": self.tick,
            "ticksInCurrentEpoch": ticks,
            "emptyTicksInCurrentEpoch": self.empty,
            "epochTickQuality": _float32((ticks - self.empty) / ticks * 100),
            "burnedQus": str(epoch * 10**12 - supply(epoch)),
            "ticksInLast10000": len(self.last_10k),
            "emptyTicksInLast10000": empty_10k,
            "last10000TickQuality": _float32((len(self.last_10k) - empty_10k) / max(len(self.last_10k), 1) * 100),
        }

    def _price_factor(self, t: float) -> float:
        factor = 1.0
        for e in self.episodes:
            if e.kind == "price_move" and e.end is not None and t >= e.start.timestamp():
                done = min(1.0, (t - e.start.timestamp()) / (e.end - e.start).total_seconds())
                factor *= math.exp(math.log1p(e.size) * done)
        return factor

    def body(self, observed_at: float) -> dict[str, Any]:
        """One capture line's JSON: the bodies of latest-stats, tick-info, getLastProcessedTick and intervals."""
        first = self.intervals[-1]["firstTick"]
        duration = min(65535, int(observed_at - self.last_change))  # capped at 65535 by the node (§2.3)
        when = datetime.fromtimestamp(observed_at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return {
            "observed_at": when,
            "latest_stats": {"data": dict(self.stats)},
            "tick_info": {
                "tickInfo": {
                    "tick": self.tick,
                    "duration": duration,
                    "epoch": self.epoch,
                    "initialTick": self.initial_tick,
                }
            },
            "last_processed_tick": {
                "tickNumber": self.archive_tick,
                "epoch": self.archive_epoch,
                "intervalInitialTick": first,
                "lastProcessedLogTick": max(first, self.archive_tick - self.rng.randint(0, 6)),
            },
            "tick_intervals": [dict(interval) for interval in self.intervals],
        }


def _float32(value: float) -> float:
    """A float32 as protojson prints it: the shortest form, about 7 significant digits."""
    return float(f"{value:.7g}")


def _json_line(body: dict[str, Any]) -> str:
    # protojson writes small floats as 9.12e-7, without Python's zero-padded exponent.
    return re.sub(r"e-0(\d)", r"e-\1", json.dumps(body, separators=(",", ":")))


def generate_lines(
    *,
    start: datetime,
    hours: float,
    interval_s: int = 30,
    seed: int = 7,
    episodes: Sequence[Episode] = (),
    seconds_per_tick: float = SECONDS_PER_TICK,
    halt_s: float = HALT_S,
) -> list[str]:
    """Capture lines every `interval_s` (plus up to a second of jitter) from `start` for `hours`."""
    rng = random.Random(seed)  # noqa: S311 - seeded synthetic data, reproducible on purpose
    t0 = start.timestamp()
    network = _Network(t0, rng, seconds_per_tick, halt_s, episodes)
    pending = [e for e in episodes if e.kind in ("truncated_line", "tick_backwards", "duplicate_line")]
    lines: list[str] = []
    for step in range(int(hours * 3600 / interval_s)):
        t = round(t0 + step * interval_s + rng.uniform(0.05, 0.95), 3)
        network.advance(t)
        if any(e.kind == "gap" and e.covers(t) for e in episodes):
            continue
        body = network.body(t)
        kinds = {e.kind: e for e in pending if e.start.timestamp() <= t}
        pending = [e for e in pending if e.start.timestamp() > t]
        if "tick_backwards" in kinds:
            info = body["tick_info"]["tickInfo"]
            info["tick"] = max(info["initialTick"], info["tick"] - int(kinds["tick_backwards"].size))
        line = _json_line(body)
        if "truncated_line" in kinds:
            line = line[: len(line) * 3 // 5]
        lines.append(line)
        if "duplicate_line" in kinds:
            lines.append(line)
    return lines


def generate_capture(
    *, start: datetime, hours: float, interval_s: int = 30, seed: int = 7, scenario: str = "sample"
) -> list[str]:
    """Lines of a named scenario: "sample" (SAMPLE_EPISODES, meant for SAMPLE_START) or "calm" (no episodes)."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known scenarios: {', '.join(SCENARIOS)}")
    return generate_lines(start=start, hours=hours, interval_s=interval_s, seed=seed, episodes=SCENARIOS[scenario])


def generate_observations(
    *,
    start: datetime,
    hours: float,
    interval_s: int = 30,
    seed: int = 7,
    episodes: Sequence[Episode] = (),
    seconds_per_tick: float = SECONDS_PER_TICK,
    halt_s: float = HALT_S,
) -> list[Observation]:
    """The valid observations of generate_lines (for tests: calm data when `episodes` is empty)."""
    lines = generate_lines(
        start=start,
        hours=hours,
        interval_s=interval_s,
        seed=seed,
        episodes=episodes,
        seconds_per_tick=seconds_per_tick,
        halt_s=halt_s,
    )
    return [item for item in map(parse_line, lines) if isinstance(item, Observation)]


def with_tick(observation: Observation, **changes: Any) -> Observation:
    """A copy with tick-info fields changed, by Python name (tick, duration, epoch, initial_tick); validated."""
    return _with(observation, "tick_info", TickInfo, changes)


def with_stats(observation: Observation, **changes: Any) -> Observation:
    """A copy with latest-stats fields changed, by Python name (price, circulating_supply, ...); validated."""
    return _with(observation, "latest_stats", LatestStats, changes)


def with_time(observation: Observation, observed_at: datetime) -> Observation:
    return observation.model_copy(update={"observed_at": observed_at})


def with_archive(observation: Observation, **changes: Any) -> Observation:
    """A copy with getLastProcessedTick fields changed, by Python name (tick_number, epoch, ...); validated."""
    return _with(observation, "last_processed_tick", LastProcessedTick, changes)


def without_archive(observation: Observation) -> Observation:
    return observation.model_copy(update={"last_processed_tick": None})


def _with(observation: Observation, part: str, model: type[RpcModel], changes: dict[str, Any]) -> Observation:
    body = observation.model_dump(by_alias=True)
    target = {"tick_info": "tickInfo", "latest_stats": "data"}.get(part)
    fields = body[part][target] if target else body[part]
    for name, value in changes.items():
        alias = model.model_fields[name].alias  # KeyError names a field that does not exist
        fields[alias or name] = value
    return Observation.model_validate(body)


def sample_capture_path() -> Path:
    """The bundled synthetic sample capture (package data)."""
    return Path(str(files("qcl.qubic").joinpath("data", SAMPLE_FILE_NAME)))


def sample_lines() -> list[str]:
    """What the bundled sample must contain: the "sample" scenario from SAMPLE_START for SAMPLE_HOURS."""
    return generate_capture(start=SAMPLE_START, hours=SAMPLE_HOURS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qcl.qubic.synth", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=sample_capture_path(), help="file to write (default: the bundled sample)"
    )
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="sample")
    parser.add_argument("--start", type=datetime.fromisoformat, default=SAMPLE_START, help="ISO time with offset")
    parser.add_argument("--hours", type=float, default=SAMPLE_HOURS)
    parser.add_argument("--interval-s", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    lines = generate_capture(
        start=args.start, hours=args.hours, interval_s=args.interval_s, seed=args.seed, scenario=args.scenario
    )
    args.out.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    print(f"wrote {len(lines)} lines to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

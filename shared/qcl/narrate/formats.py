"""How numbers are written in narratives: one formatter per kind of value, used by templates and prompts alike.

    from qcl.narrate.formats import metric_text
    metric_text("epoch_tick_quality_pct", 98.7049)   # "98.70%"

The grounding check accepts a written number when it equals a report value rounded to the digits written
(grounding.py). Every formatter here rounds a report value and nothing else, so what a template writes always
passes that check; tests/unit/test_grounding.py holds both sides to it over the bundled sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

from qcl.analysis.findings import price_text

Language = Literal["zh-TW", "en"]
LANGUAGES: tuple[Language, ...] = ("zh-TW", "en")  # Traditional Chinese first: the product's first language


def identifier(value: float) -> str:
    """Ticks and epochs: written plainly, as explorers show them ("tick 37011000")."""
    return str(int(value))


def count(value: float) -> str:
    """Counts and amounts: thousands separated by commas, in both languages ("1,234,567")."""
    return f"{int(value):,}"


def decimal(digits: int) -> Callable[[float], str]:
    return lambda value: f"{round(value, digits) + 0.0:.{digits}f}"


def percent(digits: int, *, signed: bool = False) -> Callable[[float], str]:
    sign = "+" if signed else ""
    return lambda value: f"{round(value, digits) + 0.0:{sign}.{digits}f}%"


def price(value: float) -> str:
    """A price the way the stats API and the findings write it: 3 significant digits, "9.12e-7"."""
    return price_text(value)


def price_plain(value: float) -> str:
    """A price without exponent, to the same 3 significant digits: 9.427e-7 -> "0.000000943"."""
    if value == 0:
        return "0"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{digits}f}"


def usd_amount(value: float) -> str:
    """A sum in USD: cents with separators from one dollar ("1,234.57"), else 3 significant digits ("0.943")."""
    return f"{value:,.2f}" if value >= 1 else price_plain(value)


def evidence_number(value: float) -> str:
    """A number as the analysis rounded it into a finding's evidence: integers with separators, floats as they are."""
    if isinstance(value, int) or (float(value).is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    return f"{value}"


# One formatter per NetworkMetrics field: templates and prompts write a metric only through this table.
METRIC_FORMAT: dict[str, Callable[[float], str]] = {
    "epoch": identifier,
    "tick": identifier,
    "tick_duration_s": count,
    "tick_rate_per_s": decimal(2),
    "epoch_tick_quality_pct": percent(2),
    "tick_quality_last_10k_pct": percent(2),
    "empty_ticks_in_epoch": count,
    "empty_tick_share_pct": percent(2),
    "burned_share_pct": percent(2),
    "issued_qus": count,
    "seconds_per_tick": decimal(2),
    "ticks_in_epoch": count,
    "price_usd": price,
    "price_change_1h_pct": percent(1, signed=True),
    "price_change_24h_pct": percent(1, signed=True),
    "circulating_supply": count,
    "burned_qus": count,
    "market_cap_usd": count,
    "active_addresses": count,
    "archive_lag_ticks": count,
}


def metric_text(field: str, value: float) -> str:
    return METRIC_FORMAT[field](value)


_ZH_LARGE = ((10**12, "兆"), (10**8, "億"), (10**4, "萬"))  # Taiwan's units: 萬 10^4, 億 10^8, 兆 10^12
_EN_LARGE = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"))


def approx_large(value: int, language: Language) -> str | None:
    """A large amount in words with two decimals ("156.38 trillion", "156.38 兆"), or None below a million/萬."""
    units = _ZH_LARGE if language == "zh-TW" else _EN_LARGE
    for size, word in units:
        if abs(value) >= size:
            amount = f"{round(value / size, 2):.2f}"
            return f"{amount} {word}"
    return None

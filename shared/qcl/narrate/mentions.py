"""What a text claims in figures: every number, percentage, price, tick, epoch, time and date written in it.

    from qcl.narrate.mentions import extract
    extract("Price fell 5.8% to 8.7e-7 USD at 13:42 UTC (tick 37013545)")
    # numbers: 5.8 (percent), 8.7e-7 (usd), 37013545 (tick); times: 13:42

Read in English and Traditional Chinese: separators ("37,011,000"), decimals, signs ("+16.6%", "−3.2%"),
scientific notation ("9.12e-7", "9.12 × 10^-7", "10^12"), full-width digits ("９８．７％"), scale words
("156.4 trillion", "1,563 億", "3.2 萬"), Chinese numerals ("三十五", "百分之十二", "兩千"), ISO and Chinese dates,
HH:MM times. Each number carries its precision, the unit of its last written digit ("98.7" → 0.1, "37 million"
→ 10^6), which is the rounding the grounding check allows.

Not read as numbers, on purpose: list markers at a line's start ("1. "), digits glued to letters ("SmolLM2",
"R1"), a lone 一 (the article "a/one": 一個、一些、一直), weekdays (週三), ordinals written 第一/第二, and idioms
that contain numerals (十分 "very", 千萬 "by all means", 萬一 "in case", 百分比 "percentage"). Number words in
English ("twelve") are not read; a model that writes them is not checked on them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

Kind = Literal["number", "percent", "usd", "tick", "epoch"]


@dataclass(frozen=True)
class NumberMention:
    text: str  # as written (after normalisation)
    value: float
    precision: float  # the unit of the last written digit; 0 for exact forms such as 10^12
    kind: Kind  # "tick"/"epoch": written right after the word; "percent"/"usd": written with the unit
    signed: bool  # an explicit + or − was written
    start: int = 0  # where it is written in normalize(text)
    end: int = 0


@dataclass(frozen=True)
class Mentions:
    numbers: tuple[NumberMention, ...]
    times: tuple[str, ...]  # "HH:MM"
    dates: tuple[str, ...]  # "YYYY-MM-DD", or "MM-DD" when written without a year


_MONTHS = {
    month: number
    for number, month in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
_SCALE = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "m": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
    "千": 1e3,
    "萬": 1e4,
    "百萬": 1e6,
    "千萬": 1e7,
    "億": 1e8,
    "百億": 1e10,
    "千億": 1e11,
    "兆": 1e12,
}
_ZH_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "兩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_ZH_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_ZH_LARGE_UNITS = {"萬": 10**4, "億": 10**8, "兆": 10**12}

_LIST_MARKER = re.compile(r"^([ \t]*)(\d{1,2})([.)、])(?=\s)", re.M)
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?Z?)?(?!\d)")
_ZH_DATE = re.compile(r"(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月\s*(\d{1,2})\s*[日號]")
_EN_DATE_MD = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?\b", re.I
)
_EN_DATE_DM = re.compile(
    r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?(?:,?\s+(\d{4}))?\b", re.I
)
_TIME = re.compile(r"(?<![\d.:])(\d{1,2}):(\d{2})(?::\d{2})?(?![\d:])")
_SCI = re.compile(
    r"(?<![A-Za-z0-9_.])([-+]?)(\d+(?:\.\d+)?)(?:[eE]([-+]?\d+)|\s*[×xX*]\s*10\s*\^\s*([-+]?\d+))(?![\d.])"
)
_POWER_OF_TEN = re.compile(r"(?<![A-Za-z0-9_.×xX*])10\s*\^\s*([-+]?\d+)")
_NUMBER = re.compile(
    r"(?<![A-Za-z0-9_.])([-+]?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?"
    r"(?:\s*(thousand|million|billion|trillion|bn|[kKMB](?![A-Za-z])|百萬|千萬|百億|千億|千|萬|億|兆))?"
    r"(?!\d)"
)
_ZH_NUMERAL = re.compile(r"[零〇一二兩三四五六七八九十百千萬億兆]+")
_ZH_WHOLE_IDIOMS = frozenset({"千萬", "萬一", "萬萬", "一兩", "兩三", "三四", "四五", "五六", "六七", "七八", "八九"})
# (numeral, what follows it, unless followed by this): 十分 "very" (not 十分鐘), 百分比 / 百分之, 零星 "sporadic".
_ZH_FOLLOWED_IDIOMS = (("十", "分", "分鐘"), ("百", "分", None), ("零", "星", None))
_PERCENT_AFTER = re.compile(r"^\s*(?:%|percent\b|per cent\b|percentage points?\b|pp\b|個百分點|百分點)", re.I)
_USD_AFTER = re.compile(r"^\s*(?:usd\b|us\$|美元|dollars?\b)", re.I)
_USD_BEFORE = re.compile(r"(?:\$|us\$|usd)\s*$", re.I)
_PERCENT_BEFORE = re.compile(r"百分之\s*$")
_REF_BEFORE = re.compile(r"\b(tick|epoch)s?\s*(?:#|no\.|number)?\s*$|(紀元)\s*$", re.I)


def normalize(text: str) -> str:
    """Full-width forms to ASCII (NFKC) and the typographic minus to '-', keeping every other character."""
    text = unicodedata.normalize("NFKC", text)
    return text.replace("\u2212", "-").replace("\u2010", "-")


def extract(text: str) -> Mentions:
    """Every figure written in `text` (see the module docstring for what counts)."""
    scan = _Scan(normalize(text))
    scan.mask_pattern(_LIST_MARKER)
    scan.dates_and_times()
    scan.scientific()
    scan.arabic()
    scan.chinese()
    return Mentions(tuple(scan.numbers), tuple(scan.times), tuple(scan.dates))


class _Scan:
    """The text with the spans already read blanked out, so that no character is read twice."""

    def __init__(self, text: str) -> None:
        self.original = text
        self.text = text
        self.numbers: list[NumberMention] = []
        self.times: list[str] = []
        self.dates: list[str] = []

    def mask(self, start: int, end: int) -> None:
        self.text = self.text[:start] + " " * (end - start) + self.text[end:]

    def mask_pattern(self, pattern: re.Pattern[str]) -> None:
        for match in list(pattern.finditer(self.text)):
            self.mask(match.start(), match.end())

    def dates_and_times(self) -> None:
        for match in list(_ISO_DATE.finditer(self.text)):
            year, month, day, hour, minute = match.groups()
            self.dates.append(f"{year}-{month}-{day}")
            if hour is not None:
                self.times.append(f"{int(hour):02d}:{minute}")
            self.mask(match.start(), match.end())
        for match in list(_ZH_DATE.finditer(self.text)):
            year, month, day = match.groups()
            self._date(year, int(month), int(day))
            self.mask(match.start(), match.end())
        for pattern, month_first in ((_EN_DATE_MD, True), (_EN_DATE_DM, False)):
            for match in list(pattern.finditer(self.text)):
                first, second, year = match.groups()
                month, day = (first, second) if month_first else (second, first)
                self._date(year, _MONTHS[month[:3].lower()], int(day))
                self.mask(match.start(), match.end())
        for match in list(_TIME.finditer(self.text)):
            hour, minute = int(match.group(1)), int(match.group(2))
            if hour < 24 and minute < 60:
                self.times.append(f"{hour:02d}:{minute:02d}")
                self.mask(match.start(), match.end())

    def _date(self, year: str | None, month: int, day: int) -> None:
        self.dates.append(f"{year}-{month:02d}-{day:02d}" if year else f"{month:02d}-{day:02d}")

    def scientific(self) -> None:
        for match in list(_SCI.finditer(self.text)):
            sign, mantissa, exp_e, exp_pow = match.groups()
            exponent = int(exp_e if exp_e is not None else exp_pow)
            decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
            value = float(mantissa) * 10.0**exponent * (-1 if sign == "-" else 1)
            precision = 10.0 ** (exponent - decimals)
            self._number(match.start(), match.end(), value, precision, signed=bool(sign))
        for match in list(_POWER_OF_TEN.finditer(self.text)):
            self._number(match.start(), match.end(), 10.0 ** int(match.group(1)), 0.0, signed=False)

    def arabic(self) -> None:
        for match in list(_NUMBER.finditer(self.text)):
            sign, whole, fraction, scale_word = match.groups()
            digits = whole.replace(",", "") + (fraction or "")
            scale = _SCALE[scale_word.lower() if scale_word.isascii() else scale_word] if scale_word else 1.0
            decimals = len(fraction) - 1 if fraction else 0
            value = float(digits) * scale * (-1 if sign == "-" else 1)
            integer_ref = fraction is None and scale_word is None
            self._number(match.start(), match.end(), value, 10.0**-decimals * scale, bool(sign), integer_ref)

    def chinese(self) -> None:
        for match in list(_ZH_NUMERAL.finditer(self.text)):
            run, start, end = match.group(), match.start(), match.end()
            before = self.text[max(0, start - 2) : start]
            if set(run) <= {"一"} or run in _ZH_WHOLE_IDIOMS or (len(run) == 1 and run in _ZH_LARGE_UNITS):
                continue  # the article (一個、一些), idioms and ranges (千萬、兩三), 徵兆
            if before.endswith(("週", "星期", "禮拜", "第")):
                continue  # weekdays and ordinals
            if _idiom_follows(run, self.text[end : end + 2]):
                continue
            value, precision = _parse_chinese(run)
            self._number(start, end, value, precision, signed=False)

    def _number(
        self, start: int, end: int, value: float, precision: float, signed: bool, integer_ref: bool = False
    ) -> None:
        before, after = self.original[max(0, start - 24) : start], self.original[end : end + 24]
        kind: Kind = "number"
        unit = _PERCENT_AFTER.match(after) or _USD_AFTER.match(after)
        if (unit and unit.re is _PERCENT_AFTER) or _PERCENT_BEFORE.search(before):
            kind = "percent"
        elif unit or _USD_BEFORE.search(before):
            kind = "usd"
        elif integer_ref and (ref := _REF_BEFORE.search(before)):
            kind = "tick" if (ref.group(1) or "").lower() == "tick" else "epoch"
        text = (self.original[start:end] + (unit.group() if unit else "")).strip()  # "5.8%", "8.7e-7 USD"
        self.numbers.append(NumberMention(text, value, precision, kind, signed, start, end))
        self.mask(start, end)


def _idiom_follows(run: str, following: str) -> bool:
    return any(
        run == numeral and following.startswith(start) and not (unless and following.startswith(unless))
        for numeral, start, unless in _ZH_FOLLOWED_IDIOMS
    )


def _parse_chinese(run: str) -> tuple[float, float]:
    """A Chinese numeral ("三萬五千", "一百八十六", "一八六", "十二") → (value, precision of its last unit)."""
    if all(char in _ZH_DIGITS for char in run):
        return float("".join(str(_ZH_DIGITS[char]) for char in run)), 1.0  # digit by digit: 一八六 = 186
    total, section, digit = 0, 0, None
    last_unit = 1
    for char in run:  # the pattern admits only digits, small units (十百千) and large units (萬億兆)
        if char in _ZH_DIGITS:
            digit = _ZH_DIGITS[char]
        elif char in _ZH_SMALL_UNITS:
            section += (1 if digit is None else digit) * _ZH_SMALL_UNITS[char]
            digit = None
        else:
            unit = _ZH_LARGE_UNITS[char]
            total += (section + (digit or 0)) * unit
            section, digit = 0, None
            last_unit = unit
    ended_on_large = run[-1] in _ZH_LARGE_UNITS
    total += section + (digit or 0)
    return float(total), float(last_unit if ended_on_large else 1)

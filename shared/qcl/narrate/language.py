"""Is a text written in the language asked for, and does it read like a person wrote it?

    from qcl.narrate.language import language_issue, fluency_issue, question_language, to_traditional
    to_traditional("网络状态正常")               # "網路狀態正常" (OpenCC s2twp: Taiwan characters and phrases)
    language_issue("网络状态正常", "zh-TW")      # "language: Simplified Chinese characters 态, 状, 网, 络 …"
    fluency_issue("價格跌跌跌跌跌", "zh-TW")      # "fluency: '跌' repeated 5 times in a row"
    question_language("What is the tick rate?")   # "en"; "tick 品質如何？" is "zh-TW"; "epoch?" is None

Language rule: the network's own words (tick, epoch, Qubic, USD, QU, UTC), which narratives in either language
write in Latin letters, are not counted. English text must have no Han characters at all; in a zh-TW text Han
characters must be at least MIN_HAN_SHARE of Han characters + Latin words (a Han character is about a word; a
finding's quoted English reason may stay English), and no character may be one that only Simplified Chinese
writes: a character OpenCC's s2tw conversion changes, except the few that Taiwan writes too (TAIWAN_VARIANTS).
Small models asked for Traditional Chinese often answer in Simplified or in English; either fails the check.

Fluency rule (a small model's Chinese degenerates: "跌跌跌跌…", "已結条", "我個現象是"): no character or word
repeated back to back, no replacement or control characters, no unbalanced brackets; and a reply is cut back to its
last finished sentence (ends_sentence).
"""

from __future__ import annotations

import re
from functools import cache

import opencc

from qcl.narrate.formats import Language

MIN_HAN_SHARE = 0.5
# Characters s2tw rewrites that Taiwan's own texts use as they are (台灣, 裡/里程, 才, 麵/面, 只, 系統, 皇后, 著/着).
TAIWAN_VARIANTS = frozenset("台里才面干只系后准着周志范表丑出斗谷划伙松云冲游于占")
_NETWORK_WORDS = re.compile(r"\b(?:ticks?|epochs?|qubic|usd|qu|utc)\b", re.I)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
_BROKEN = re.compile(r"[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f]")
_STUTTER = re.compile(r"([\u3400-\u9fff])\1{2,}|(\b\w+\b)(?:\s+\2\b){2,}")  # 跌跌跌 / the the the
_ENDS_SENTENCE = re.compile(r"[.!?。！？」』）)\"'”]\s*$")
_PAIRS = (("(", ")"), ("（", "）"), ("「", "」"), ("『", "』"), ("[", "]"))


@cache
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def to_traditional(text: str) -> str:
    """`text` in Taiwan Traditional characters and phrasing (OpenCC s2twp); Traditional text stays as it is, the
    characters Taiwan writes as they are included (s2twp would turn 台幣 into 臺幣)."""
    converted = str(_converter("s2twp").convert(text))
    if len(converted) != len(text):  # a phrase of another length (rare): the conversion as it is
        return converted
    return "".join(old if old in TAIWAN_VARIANTS else new for old, new in zip(text, converted, strict=True))


def simplified_characters(text: str) -> list[str]:
    """The characters of `text` that only Simplified Chinese writes, each once, in order of appearance."""
    convert = _converter("s2tw").convert
    found = [c for c in dict.fromkeys(_HAN.findall(text)) if c not in TAIWAN_VARIANTS and convert(c) != c]
    return found


def _han_and_latin(text: str) -> tuple[int, int]:
    """Han characters and Latin words of `text`, the network's own words not counted."""
    letters = _NETWORK_WORDS.sub(" ", text)
    return len(_HAN.findall(letters)), len(_LATIN_WORD.findall(letters))


def question_language(text: str) -> Language | None:
    """The language a person wrote `text` in: zh-TW when its Han characters are at least its Latin words (a Han
    character is about a word), else en; None when only digits, signs or the network's own words say nothing."""
    han, latin = _han_and_latin(text)
    if han == latin == 0:
        return None
    return "zh-TW" if han >= latin else "en"


def language_issue(text: str, language: Language) -> str | None:
    """Why `text` is not in `language`, or None when it is."""
    han, latin = _han_and_latin(text)
    if language == "en":
        return None if han == 0 else f"language: {han} Han character(s) in a text asked for in English"
    simplified = simplified_characters(text)
    if simplified:
        return f"language: Simplified Chinese characters {', '.join(sorted(simplified)[:8])} (zh-TW asked)"
    if han == 0 or han / (han + latin) < MIN_HAN_SHARE:
        return f"language: {han} Han characters and {latin} Latin words; a zh-TW text must be mostly Chinese"
    return None


def fluency_issue(text: str, language: Language) -> str | None:
    """Why `text` does not read as finished, well-formed prose, or None."""
    if (bad := _BROKEN.search(text)) is not None:
        return f"fluency: broken character {bad.group()!r}"
    if (stutter := _STUTTER.search(text)) is not None:
        unit = stutter.group(1) or stutter.group(2)
        times = len(stutter.group(0).split()) if stutter.group(2) else len(stutter.group(0))
        return f"fluency: {unit!r} repeated {times} times in a row"
    for opening, closing in _PAIRS:
        if text.count(opening) != text.count(closing):
            return f"fluency: unbalanced {opening}{closing}"
    return None


def ends_sentence(text: str) -> bool:
    """Whether `text` ends with a sentence's end (a model's reply cut mid-sentence does not)."""
    return bool(_ENDS_SENTENCE.search(text.strip()))

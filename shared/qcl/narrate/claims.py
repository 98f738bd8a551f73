"""Claims in a text beyond its figures: directions ("the price fell", "空 tick 變多", each with the subject it is
about, if one is named) and the network's state ("healthy", "a serious problem", "嚴重").

    from qcl.narrate.claims import direction_claims
    direction_claims("The price fell 5.8% while empty ticks rose.")
    # [DirectionClaim(word='fell', direction='down', subjects=('price',)), ... ('empty',)]

A claim's subject is what its clause names (clauses end at . , ; 。 ， ； and line breaks, not at the point or
comma inside a number); a clause that names none borrows the subject of the clause before it in the same sentence
("The price fell 5.8%, then rose 6.2%"). Idioms that only look like directions are skipped ("up to an hour",
"fell behind"). Negation ("did not fall") is not understood: such a claim is checked as if it were affirmed, which
can only reject a correct text, never pass a wrong one.

A state claim has a level: healthy ("healthy", "運作正常"), degraded ("degraded", "欠佳"), problem ("problem",
"anomaly", "異常", "警示") or critical ("critical", "severe", "嚴重", "危急"). A problem or critical word after a
negation in its clause ("no problems", "沒有任何異常") claims nothing; "健康分數" (health score) is not a claim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from qcl.narrate.facts import Direction, Subject
from qcl.narrate.mentions import normalize

_EN_WORDS: dict[Direction, tuple[str, ...]] = {
    "up": (
        "up", "rise", "rises", "rose", "risen", "rising", "increase", "increased", "increases", "increasing",
        "grew", "grow", "grows", "growing", "higher", "climb", "climbed", "climbing", "jump", "jumped", "surge",
        "surged", "spike", "spiked", "gain", "gained", "gains", "soar", "soared", "rally", "rallied", "upward",
    ),
    "down": (
        "down", "fall", "falls", "fell", "fallen", "falling", "drop", "dropped", "drops", "dropping", "decline",
        "declined", "declines", "declining", "decrease", "decreased", "decreases", "decreasing", "lower", "sank",
        "sink", "slid", "slide", "plunge", "plunged", "crash", "crashed", "dip", "dipped", "shrank", "shrink",
        "downward", "slowed", "slower",
    ),
    "flat": ("flat", "unchanged", "sideways"),
}  # fmt: skip
_ZH_WORDS: dict[Direction, tuple[str, ...]] = {
    "up": (
        "上漲",
        "上升",
        "增加",
        "攀升",
        "走高",
        "大漲",
        "飆升",
        "成長",
        "增長",
        "變多",
        "升高",
        "走揚",
        "反彈",
        "漲",
    ),
    "down": (
        "下跌",
        "下降",
        "減少",
        "下滑",
        "走低",
        "暴跌",
        "重挫",
        "變少",
        "降低",
        "崩跌",
        "回落",
        "變慢",
        "跌",
        "降",
    ),
    "flat": ("持平", "不變", "橫盤"),
}
_EN_SKIP = re.compile(r"\bup to\b|\bset up\b|\b(?:fell|falls?|falling|fallen) behind\b|\bslow(?:ed|s)? down\b", re.I)
_ZH_SKIP = ("漲跌", "升級", "降級", "下降到零")  # "change" (both ways) and upgrades are not directions

_SUBJECTS: dict[Subject, tuple[str, ...]] = {
    "price": ("price", "usd", "market cap", "價格", "幣價", "價錢", "美元", "市值", "行情"),
    "quality": ("quality", "品質"),
    "empty": ("empty", "空 tick", "空tick", "空的 tick", "空白"),
    "rate": ("tick rate", "speed", "per second", "pace", "速度", "每秒", "出塊"),
    "archive": ("archive", "archiver", "歸檔"),
    "supply": ("supply", "burn", "流通", "供應", "銷毀", "燒毀"),
}
_CLAUSE_END = re.compile(r"[.,:](?!\d)|[;!?\n。，；：！？]")
_SENTENCE_END = re.compile(r"\.(?!\d)|[;!?\n。；！？]")


Level = Literal["healthy", "degraded", "problem", "critical"]
_STATE_WORDS: tuple[tuple[Level, re.Pattern[str]], ...] = (
    (
        "healthy",
        re.compile(
            r"\bhealthy\b|\bno (?:problems?|issues?)\b|\bruns? smoothly\b"
            r"|健康(?!分數|水準|狀況|度)|一切正常|運作正常|沒有問題",
            re.I,
        ),
    ),
    ("degraded", re.compile(r"\bdegraded\b|\bimpaired\b|欠佳|降級", re.I)),
    (
        "problem",
        re.compile(
            r"\b(?:problems?|issues?|trouble|anomal(?:y|ies)|warnings?|alerts?|serious|failures?|failing|outages?)\b"
            r"|問題|異常|故障|警示|警告",
            re.I,
        ),
    ),
    ("critical", re.compile(r"\b(?:critical(?:ly)?|severe(?:ly)?|emergency)\b|危急|嚴重|緊急", re.I)),
)
_NEGATION = re.compile(r"\b(?:no|not|without|never|none|nothing)\b|n't\b|沒有|沒|無|未|並非", re.I)


@dataclass(frozen=True)
class StateClaim:
    word: str
    level: Level


def state_claims(text: str) -> list[StateClaim]:
    claims: list[StateClaim] = []
    for clause in _CLAUSE_END.split(normalize(text)):
        for level, pattern in _STATE_WORDS:
            for match in pattern.finditer(clause):
                if level != "healthy" and _NEGATION.search(clause[: match.start()]):
                    continue
                claims.append(StateClaim(match.group(), level))
    return claims


@dataclass(frozen=True)
class DirectionClaim:
    word: str
    direction: Direction
    subjects: tuple[Subject, ...]  # empty when neither its clause nor the one before names a subject


def direction_claims(text: str) -> list[DirectionClaim]:
    claims: list[DirectionClaim] = []
    for sentence in _SENTENCE_END.split(normalize(text)):
        previous: tuple[Subject, ...] = ()
        for clause in _CLAUSE_END.split(sentence):
            subjects = _subjects(clause) or previous
            for word, direction in _directions(clause):
                claims.append(DirectionClaim(word, direction, subjects))
            previous = subjects
    return claims


def _subjects(clause: str) -> tuple[Subject, ...]:
    lowered = clause.lower()
    return tuple(subject for subject, words in _SUBJECTS.items() if any(word in lowered for word in words))


def _directions(clause: str) -> list[tuple[str, Direction]]:
    found: list[tuple[str, Direction]] = []
    english = _EN_SKIP.sub(" ", clause)
    for direction, words in _EN_WORDS.items():
        pattern = r"\b(" + "|".join(words) + r")\b"
        found.extend((match.group(1), direction) for match in re.finditer(pattern, english, re.I))
    chinese = clause
    for idiom in _ZH_SKIP:
        chinese = chinese.replace(idiom, " ")
    for direction, words in _ZH_WORDS.items():
        for word in sorted(words, key=len, reverse=True):  # 上漲 before 漲, so one word counts once
            while word in chinese:
                found.append((word, direction))
                chinese = chinese.replace(word, " ", 1)
    return found

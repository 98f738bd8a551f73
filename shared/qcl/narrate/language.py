"""Is a text written in the language asked for? English, or Traditional Chinese (not Simplified).

    from qcl.narrate.language import language_issue
    language_issue("网络状态正常", "zh-TW")   # "language: Simplified Chinese characters 网, 络, 状, 态 (zh-TW asked)"

Rule: the network's own words (tick, epoch, Qubic, USD, QU, UTC), which narratives in either language write in
Latin letters, are not counted. English text must have no Han characters at all; in a zh-TW text Han characters
must be at least MIN_HAN_SHARE of Han characters + Latin words (a Han character is about a word; a finding's
quoted English reason may stay English), and it must hold none of SIMPLIFIED_ONLY, common characters that only
Simplified Chinese writes (each differs from its Traditional form, 这/這, 网/網, 价/價, …). Small models asked for
Traditional Chinese often answer in Simplified or in English; either fails the check.
"""

from __future__ import annotations

import re

from qcl.narrate.formats import Language

MIN_HAN_SHARE = 0.5
SIMPLIFIED_ONLY = frozenset(
    "这们个说网络价数据为时区块质变动会发现与对还进过实经问题应该开关产币从没长间态状况报较减涨稳纪历达约总额亿万"
    "样让请认识谁计设错误险风处级页显图统续维护单节点链转换账钱钟阶异运营务业场规则标检测录当优际东车门马来华国"
    "体头觉学书见观证亏损跃线预释结构层选择决议论"
)
_NETWORK_WORDS = re.compile(r"\b(?:ticks?|epochs?|qubic|usd|qu|utc)\b", re.I)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def language_issue(text: str, language: Language) -> str | None:
    """Why `text` is not in `language`, or None when it is."""
    letters = _NETWORK_WORDS.sub(" ", text)
    han = len(_HAN.findall(letters))
    latin = len(_LATIN_WORD.findall(letters))
    if language == "en":
        return None if han == 0 else f"language: {han} Han character(s) in a text asked for in English"
    simplified = sorted({char for char in text if char in SIMPLIFIED_ONLY})
    if simplified:
        return f"language: Simplified Chinese characters {', '.join(simplified[:8])} (zh-TW asked)"
    if han == 0 or han / (han + latin) < MIN_HAN_SHARE:
        return f"language: {han} Han characters and {latin} Latin words; a zh-TW text must be mostly Chinese"
    return None

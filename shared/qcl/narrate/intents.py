"""What a question is about: one table of intents, each with its keywords (English and Chinese), the finding codes
and metric groups that answer it, and example phrasings for the sentence-embedding match.

    from qcl.narrate.intents import keyword_intents
    [i.name for i in keyword_intents("為什麼現在空 tick 變多？")]    # ["empty_ticks"]

Keywords of both languages apply to every question (a zh-TW user may write "epoch" or "price"). English keywords
match whole words, Chinese ones as substrings. `overview` answers generic questions ("is the network ok?") and
gives way when a specific intent matches too. A question no keyword matches may still match an intent by sentence
embedding (embeddings.py), English questions only: the embedding model does not read Chinese (its vocabulary turns
most Han characters into one unknown token, so any two Chinese questions look alike).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Intent:
    name: str
    topic: dict[str, str]  # language -> how a sentence names the topic ("the price", "價格")
    keywords: tuple[str, ...]
    codes: frozenset[str] | None  # finding codes that answer it; None = every finding
    groups: tuple[str, ...]  # metric sentence groups of templates.py (and "coverage")
    examples: tuple[str, ...]  # English phrasings for the embedding match (the embedding model reads English)


INTENTS: tuple[Intent, ...] = (
    Intent(
        "overview",
        {"en": "the network's overall health", "zh-TW": "網路整體健康狀況"},
        ("health", "healthy", "status", "overall", "summary", "network", "qubic", "ok", "okay", "working", "problem",
         "problems", "issue", "issues", "anomaly", "anomalies", "alert", "alerts", "tick", "ticks", "block", "blocks",
         "chain", "健康", "狀態", "狀況", "整體", "摘要", "總結", "網路", "正常", "問題", "異常", "警報", "區塊"),
        None,
        ("network", "quality", "price"),
        ("How is the network doing right now?", "Is everything running normally?", "Give me a summary of the chain",
         "Are there any problems at the moment?"),
    ),
    Intent(
        "price",
        {"en": "the price", "zh-TW": "價格"},
        ("price", "prices", "usd", "dollar", "dollars", "market", "trend", "crash", "spike", "pump", "dump", "cost",
         "worth", "valuation", "market cap", "marketcap", "價格", "價錢", "幣價", "行情", "走勢", "趨勢", "漲",
         "跌", "市值", "美元", "崩盤"),
        frozenset({"price_trend", "price_crash", "price_spike"}),
        ("price",),
        ("What is the price trend today?", "How much is QUBIC worth?", "Did the coin go up or down?",
         "Is the token falling?"),
    ),
    Intent(
        "empty_ticks",
        {"en": "empty ticks", "zh-TW": "空 tick"},
        ("empty", "空 tick", "空tick", "空白 tick", "空的 tick"),
        frozenset({"empty_ticks_high", "tick_quality_drop"}),
        ("quality",),
        ("Why are there more empty ticks now?", "How many ticks were empty?"),
    ),
    Intent(
        "quality",
        {"en": "tick quality", "zh-TW": "tick 品質"},
        ("quality", "品質", "質量"),
        frozenset({"tick_quality_drop", "empty_ticks_high"}),
        ("quality",),
        ("What is the tick quality of this epoch?", "Is the quality dropping?"),
    ),
    Intent(
        "speed",
        {"en": "tick speed and stalls", "zh-TW": "tick 速度與停滯"},
        ("stall", "stalled", "stuck", "halt", "halted", "slow", "slower", "speed", "fast", "rate", "pace", "frozen",
         "freeze", "tps", "停滯", "卡住", "停住", "暫停", "速度", "變慢", "很慢", "太慢", "出塊"),
        frozenset({"tick_stall", "tick_rate_low", "epoch_transition"}),
        ("network",),
        ("Is the network stuck?", "Why are ticks so slow?", "How fast are ticks produced?"),
    ),
    Intent(
        "epoch",
        {"en": "the epoch", "zh-TW": "epoch"},
        ("epoch", "epochs", "transition", "weekly", "wednesday", "紀元", "轉換", "每週", "週三"),
        frozenset({"epoch_transition"}),
        ("network",),
        ("Which epoch are we in?", "When does the next epoch start?"),
    ),
    Intent(
        "supply",
        {"en": "the supply", "zh-TW": "供應量"},
        ("supply", "circulating", "burn", "burned", "burnt", "issuance", "emission", "inflation", "供應", "流通",
         "銷毀", "燒毀", "發行", "通膨"),
        frozenset({"supply_anomaly"}),
        ("supply",),
        ("How many QU are in circulation?", "How much has been burned?"),
    ),
    Intent(
        "archive",
        {"en": "the archive", "zh-TW": "歸檔"},
        ("archive", "archiver", "archived", "indexer", "lag", "lagging", "behind", "sync", "synced", "歸檔", "封存",
         "落後", "同步"),
        frozenset({"archive_lag"}),
        ("archive",),
        ("Is the archive keeping up with the network?", "How far behind is the indexer?"),
    ),
    Intent(
        "data",
        {"en": "the data feed", "zh-TW": "資料來源"},
        ("gap", "gaps", "missing", "invalid", "rejected", "observation", "observations", "feed", "缺漏", "缺失", "無效",
         "觀測", "中斷"),
        frozenset({"data_gap", "data_invalid"}),
        ("coverage",),
        ("Is any data missing?", "Were observations rejected?"),
    ),
    Intent(
        "activity",
        {"en": "network activity", "zh-TW": "網路活躍度"},
        ("active", "addresses", "address", "users", "wallets", "activity", "活躍", "地址", "用戶", "錢包"),
        frozenset(),
        ("activity",),
        ("How many active addresses are there?", "How many people use the network?"),
    ),
)  # fmt: skip
INTENTS_BY_NAME = {intent.name: intent for intent in INTENTS}
GENERIC = frozenset({"overview"})  # gives way to a specific intent


def _pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    english = [re.escape(k) for k in keywords if k.isascii()]
    chinese = [re.escape(k) for k in keywords if not k.isascii()]
    parts = ([r"\b(?:" + "|".join(english) + r")\b"] if english else []) + chinese
    return re.compile("|".join(parts), re.I)


_PATTERNS = {intent.name: _pattern(intent.keywords) for intent in INTENTS}


def keyword_intents(question: str) -> list[Intent]:
    """The intents whose keywords the question contains, most hits first; `overview` only when alone."""
    hits = {name: len(pattern.findall(question)) for name, pattern in _PATTERNS.items()}
    found = sorted((intent for intent in INTENTS if hits[intent.name]), key=lambda i: -hits[i.name])
    specific = [intent for intent in found if intent.name not in GENERIC]
    return specific or found

"""Questions: checked fields, and what a question asks for, every part of it.

    from qcl.narrate.questions import QuestionMatcher, validate_question
    question = validate_question("網路健康嗎？價格變化多少？")   # QuestionError for empty / oversized / binary text
    match = QuestionMatcher().match(question)                    # None: not about the network's state
    match.labels                                                 # ("health", "price_change")

How a question is read (rules first, then embeddings):
1. Simplified characters become Traditional (OpenCC s2twp), full-width forms ASCII, letters lower case.
2. It is cut into parts at sentence ends and conjunctions ("？", "還有", "and", …): a compound question gets every
   part answered.
3. In each part the topics' words (intents.py) are found longest first, so "空 tick 佔比" is the empty-tick share,
   not empty ticks; a misspelt English word within a small edit distance of one still counts ("markt cap").
   A definition ("what is an epoch?", "什麼是 tick 品質") is told, followed by the current value where the term is a
   quantity of the report. A generic topic
   (health) gives way to a specific one in the same part; the price change absorbs the price; a forecast or advice
   request absorbs the price topics of its part (the decline states the price). A part with no topic that asks for
   a value ("目前是多少？") refers to the previous part's topic.
4. An English question no word matches is compared with the topics' example phrasings by sentence embedding
   (embeddings.py) and matches when the closest is at least MIN_SIMILARITY.
Anything else, or a question about another coin, is off-topic and gets REFUSAL, never a guess. A question's wording
never changes what is done: "ignore previous instructions…" is read like any other text, and `injection` marks it
so that no model is asked to phrase its answer.
"""

from __future__ import annotations

import difflib
import re
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from typing import Literal

from qcl.narrate.embeddings import MIN_SIMILARITY, IntentIndex, SentenceEncoder
from qcl.narrate.errors import QuestionError, UnsupportedLanguageError
from qcl.narrate.formats import LANGUAGES, Language
from qcl.narrate.intents import DECLINED, GENERIC, TERMS, TOPICS, TOPICS_BY_NAME, Topic
from qcl.narrate.language import to_traditional
from qcl.narrate.mentions import extract
from qcl.narrate.mentions import normalize as normalize_mentions

MAX_QUESTION_CHARS = 500  # the limit of AIRequest.question (events.py)
KEYWORD_SCORE = 0.9  # a keyword hit can still misread a question: not full certainty
FUZZY_SCORE = 0.8  # a misspelt keyword
FUZZY_CUTOFF = 0.8  # difflib ratio: "prise"/"price" 0.8, "helth"/"health" 0.91, "rate"/"rise" 0.5

REFUSAL = {
    "en": "I can only answer questions about the Qubic network's state (ticks, epochs, tick quality, price, supply).",
    "zh-TW": "我只能回答關於 Qubic 網路狀態的問題（tick、epoch、tick 品質、價格、供應量等）。",
}
# A greeting or thanks alone ("hi", "謝謝！") gets a short welcome with what can be asked, not the refusal.
_CAN_ASK = {
    "en": "I answer questions about the Qubic network from its live data: its health, ticks, epochs, tick quality, "
    'price, supply and burns. Try "Is the network healthy?" or "What is the price?"',
    "zh-TW": "我可以根據即時資料回答 Qubic 網路的問題：網路健康狀況、tick、epoch、tick 品質、價格、流通量與銷毀量。"
    "可以試著問「網路健康嗎？」或「現在價格多少？」",
}
SMALL_TALK = {
    "greeting": {"en": "Hello! " + _CAN_ASK["en"], "zh-TW": "你好！" + _CAN_ASK["zh-TW"]},
    "thanks": {"en": "You're welcome! " + _CAN_ASK["en"], "zh-TW": "不客氣！" + _CAN_ASK["zh-TW"]},
}
_THANKS = r"thanks?(?: you)?|thx|cheers|謝謝|感謝|多謝|謝啦"
_GREETING = r"hi|hello|hey|yo|hiya|good (?:morning|afternoon|evening)|你好|您好|哈囉|嗨|早安|午安|晚安"
_SMALL_TALK_END = r"(?:[\s,.!~，。！～]*(?:there|qubic|a lot|so much|啊|呀|喔|哦|啦|你|您))*[\s,.!?~，。！？～]*$"


def small_talk(question: str) -> Literal["greeting", "thanks"] | None:
    """Whether the question is a greeting or thanks and nothing else (SMALL_TALK answers it)."""
    text = normalize_question(question)
    if re.match(rf"(?:{_THANKS}){_SMALL_TALK_END}", text):
        return "thanks"
    return "greeting" if re.match(rf"(?:{_GREETING}){_SMALL_TALK_END}", text) else None


NO_REPORT = {
    "en": "No analysis of the network is available yet; please ask again in a minute.",
    "zh-TW": "目前還沒有網路的分析資料，請稍後再問。",
}
_HAN = re.compile(r"[\u3400-\u9fff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_PARTS = re.compile(
    r"[?？!！。；;\n]+|，?(?:還有|以及|另外|順便問|順便|此外|而且|並且)|\s(?:and also|and|also|plus)\s|,\s"
)
_VALUE_ASK = re.compile(r"多少|幾|how (?:much|many|high|fast|far)|what(?:'s| is) it|數字|數值|現在呢|目前呢")
_OTHER_COINS = re.compile(
    r"\b(?:bitcoin|btc|ethereum|eth|ether|solana|sol|doge|dogecoin|xrp|bnb|cardano|ada|usdt|tether)\b"
    r"|比特幣|以太坊|以太幣|狗狗幣|泰達幣"
)
_OURS = re.compile(r"\b(?:qubic|qus?)\b")
# The project's history and people, which no observation holds: "Who created Qubic?", "When was it launched?".
_HISTORY = re.compile(
    r"\bwho (?:created|founded|made|built|invented|started|owns|runs|leads)\b|\bfounders?\b|\bceo\b|\bteam behind\b"
    r"|\bwhen was (?:qubic|it|the network|the coin|qu) (?:launched|created|founded|started|released|born)\b"
    r"|誰(?:創立|創辦|建立|開發|發明|做)的?|創辦人|創始人|創立者|什麼時候(?:推出|上線|創立)|何時(?:推出|上線|創立)"
)
# A request for the whole picture: the health and the main figures (OVERVIEW), not the health alone.
_OVERVIEW = re.compile(
    r"\bsummar(?:y|ize|ise)\b|\boverview\b|\btell me everything\b|\b(?:everything|all) you know\b"
    r"|\btell me about (?:the network|qubic)\b|摘要|總結|概況|概覽|所有資訊|全部資訊|所有資料|全部資料|介紹一下|介紹"
)
OVERVIEW = ("health", "epoch", "pace", "quality", "price", "supply")
# What a question asks that the data does not hold, each told in a sentence (answers.NOTES) where the question is
# about one of the note's topics: money other than USD ("in TWD", 多少台幣), the day's or all-time high or low, an
# hour's or a day's count of what the data counts for the epoch or in all ("empty ticks in the last hour", 今天燒了
# 多少, a burn rate), a maximum or fully diluted supply, an earlier day's price or figure ("yesterday", 上週), an
# earlier epoch's figures (上一個 epoch) and a ranking among coins (排名).
_PRICES = frozenset({"price", "price_change", "market_cap"})
_SPAN = re.compile(
    r"\b(?:last|past|previous|this|an|one|per|each|every) (?:hour|day|24 ?h(?:ours)?|week)\b|\b(?:today|yesterday"
    r"|hourly|daily|tonight)\b|一小時|一個小時|1 ?小時|24 ?小時|今天|今日|昨天|每小時|每天|一天|本週|這週|這禮拜"
)
_PAST = re.compile(  # an earlier day's figure: "yesterday", "last week", 上週
    r"\b(?:yesterday|(?:last|this|past) (?:week|month|year)|(?:a|one|two|\d+) (?:days?|weeks?|months?|years?) ago"
    r"|(?:past|last) (?:7|seven|30|thirty) days)\b|昨天|前天|上週|上周|上禮拜|上個月|去年|幾天前|一週前|一個月前"
    r"|這週|本週|這禮拜|這個月|本月|今年|七天|7 ?天|30 ?天"
)
_NOTES: dict[str, tuple[re.Pattern[str], frozenset[str]]] = {
    "usd_only": (
        re.compile(
            r"\b(?:twd|ntd|eur|euros?|gbp|jpy|yen|cny|rmb|yuan|hkd|krw)\b"
            r"|台幣|新台幣|臺幣|元台幣|歐元|英鎊|日圓|日幣|日元|人民幣|港幣|韓元|韓圜"
        ),
        _PRICES,
    ),
    "no_extremes": (
        re.compile(
            r"\b(?:highest|lowest|peak|all[- ]time (?:high|low)|ath|(?:daily|day's|24h|24 h) (?:high|low))\b"
            r"|\baverage\b|最高價|最低價|最高點|最低點|歷史新高|歷史高點|高點|低點|平均價|均價"
        ),
        _PRICES,
    ),
    "epoch_counts": (_SPAN, frozenset({"empty_ticks", "empty_share", "ticks_in_epoch"})),
    "burned_in_all": (
        re.compile(rf"{_SPAN.pattern}|\b(?:per|each|every) epoch\b|每\s*個?\s*epoch|\brate\b|\bspeed\b|速度|速率"),
        frozenset({"burned"}),
    ),
    "no_max_supply": (
        re.compile(r"\bmax(?:imum)? supply\b|\bsupply cap\b|\bfully diluted\b|\bfdv\b|最大供應|供應上限|上限"),
        frozenset({"supply", "issued", "market_cap"}),
    ),
    "no_past_prices": (_PAST, _PRICES),
    "no_past_figures": (_PAST, frozenset({"quality", "pace", "active"})),
    "no_rank": (re.compile(r"\brank(?:ing|ed)?\b|排名|第幾名|排第幾"), frozenset({"market_cap", "price"})),
    "current_epoch_only": (
        re.compile(r"\b(?:previous|prior|last|past|earlier) epochs?\b|(?:上一?個|前一?個|之前的|過去的)\s*epoch"),
        frozenset({"quality", "empty_share", "empty_ticks", "ticks_in_epoch", "pace", "active"}),
    ),
}
_INJECTION = re.compile(
    r"ignore (?:all |the )?(?:previous|prior|above)|disregard|system prompt|you are now|new instructions|"
    r"pretend|忽略|無視|之前的指示|所有指示|假裝|扮演|系統提示"
)
_NETWORK_CONTEXT = re.compile(
    r"\b(?:qubic|qus?|network|coin|token|chain|crypto|price|market|ticks?|epochs?|supply)\b|網路|幣|鏈|加密|價|漲|跌|市值"
)
_DEFINITION_EN = (
    r"\bwhat(?:'s| is| are)\s+(?:a|an)\s+({term})s?\b",
    r"\bwhat\s+(?:is|are)\s+({term})s?\s*$",
    r"\bwhat\s+does\s+(?:an?\s+|the\s+)?({term})s?\s+mean",
    r"\b(?:meaning|definition)\s+of\s+(?:an?\s+|the\s+)?({term})s?\b",
    r"\b(?:define|explain(?: what)?)\s+(?:an?\s+|the\s+)?({term})s?\b",
    r"\bhow\s+(?:is|are)\s+(?:an?\s+|the\s+)?({term})s?\s+(?:calculated|computed|measured|worked out|determined)",
)
_DEFINITION_ZH = (
    r"什麼是\s*(?:一個\s*)?({term})",
    r"({term})\s*(?:是什麼意思|的意思|的定義|是指什麼|代表什麼|是什麼東西|是啥|(?:是)?怎麼算|(?:是)?如何計算|怎麼計算)",
    r"^\s*(?:請問|請教|想問|我想問|我想知道|問一下)?\s*({term})\s*是什麼\s*$",
)


def validate_language(language: object) -> Language:
    """The language, or UnsupportedLanguageError naming the field ("zh-tw" is accepted as "zh-TW")."""
    if isinstance(language, str):
        for known in LANGUAGES:
            if language.strip().lower() == known.lower():
                return known
    raise UnsupportedLanguageError(f"must be one of {', '.join(LANGUAGES)} (got {language!r})")


def validate_question(question: object) -> str:
    """The question stripped of surrounding space, or QuestionError naming the field."""
    if not isinstance(question, str):
        raise QuestionError(f"must be text (got {type(question).__name__})")
    text = question.strip()
    if not text:
        raise QuestionError("must not be empty")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(f"must be at most {MAX_QUESTION_CHARS} characters (got {len(text)})")
    if (bad := _CONTROL.search(text)) is not None:
        raise QuestionError(f"must be plain text (found the control or replacement character {bad.group()!r})")
    return text


@dataclass(frozen=True)
class IntentMatch:
    """What a question asks for: its topics in the order asked, the terms it wants defined."""

    topics: tuple[Topic, ...]
    definitions: tuple[str, ...]  # TERMS keys
    score: float  # KEYWORD_SCORE for words, FUZZY_SCORE for a misspelt one, the cosine for an embedding match
    via: Literal["keywords", "fuzzy", "embedding"]
    injection: bool = False  # the question tries to instruct: no model phrases its answer
    held_qu: float | None = None  # an amount of QU whose worth is asked ("1 million QU", "100 萬顆 QU"): held_amount
    spend_usd: float | None = None  # an amount of USD whose QU are asked ("How many QU for 100 USD?"): spend_amount
    notes: tuple[str, ...] = ()  # what the question asks of its topics that the data does not hold (_NOTES)

    @property
    def labels(self) -> tuple[str, ...]:
        """Topic names and "definition:<term>", as the evaluation set labels questions."""
        return tuple(t.name for t in self.topics) + tuple(f"definition:{term}" for term in self.definitions)

    @property
    def declined(self) -> bool:
        """A forecast, advice or figures the data does not hold: told in fixed words, never phrased by a model."""
        return any(topic.name in DECLINED or topic.kind == "unavailable" for topic in self.topics)


class QuestionMatcher:
    """Rules, then embeddings for English questions; the encoder loads on first need, once."""

    def __init__(self, encoder: Callable[[], SentenceEncoder | None] | None = SentenceEncoder.bundled) -> None:
        self._make_encoder = encoder
        self._index: IntentIndex | None = None
        self._loaded = False
        self._lock = threading.Lock()

    def match(self, question: str) -> IntentMatch | None:
        text = normalize_question(question)
        injection = bool(_INJECTION.search(text))
        if (_OTHER_COINS.search(text) and not _OURS.search(text)) or _HISTORY.search(text):
            return None
        found = read_rules(text)
        spend = spend_amount(question)
        if found is None and spend is not None:  # "1 萬美元能買幾顆 QU？" names no topic but asks for the price's use
            found = ((TOPICS_BY_NAME["price"],), (), False)
        if found is not None:
            topics, definitions, fuzzy = found
            if any(t.kind == "forecast" for t in topics) and not _NETWORK_CONTEXT.search(text) and len(topics) == 1:
                return None  # "will it rain tomorrow?": a forecast of nothing on the network
            score, via = (FUZZY_SCORE, "fuzzy") if fuzzy else (KEYWORD_SCORE, "keywords")
            matched = IntentMatch(topics, definitions, score, via, injection)  # type: ignore[arg-type]
        else:
            if _HAN.search(text) or (index := self._intent_index()) is None:
                return None
            topic, similarity = index.best(question)
            if similarity < MIN_SIMILARITY:
                return None
            matched = IntentMatch((topic,), (), round(similarity, 3), "embedding", injection)
        if [t.name for t in matched.topics] == ["health"] and _OVERVIEW.search(text):
            matched = replace(matched, topics=tuple(TOPICS_BY_NAME[name] for name in OVERVIEW))
        if spend is not None:  # "100 美元可以買多少 QU？" asks for a conversion at the price, not for advice
            topics = tuple(t for t in matched.topics if t.kind != "advice")
            matched = replace(matched, topics=(TOPICS_BY_NAME["price"], *(t for t in topics if t.name != "price")))
        return replace(
            matched,
            held_qu=held_amount(question) if any(t.name == "price" for t in matched.topics) else None,
            spend_usd=spend,
            notes=tuple(
                name
                for name, (pattern, topics) in _NOTES.items()
                if pattern.search(text) and any(t.name in topics for t in matched.topics)
            ),
        )

    def _intent_index(self) -> IntentIndex | None:
        with self._lock:
            if not self._loaded:
                encoder = self._make_encoder() if self._make_encoder else None
                self._index = IntentIndex(encoder) if encoder is not None else None
                self._loaded = True
            return self._index


# After a number: the coin it counts ("1 million QU", "5,000,000 QUBIC", "100 萬顆 QU", "1000 枚").
_QU_AFTER = re.compile(r"\s*(?:(?:顆|枚|個)\s*)?(?:qus?|qubics?)(?![a-z])|\s*(?:顆|枚)")


def held_amount(question: str) -> float | None:
    """The amount of QU a question names, for the worth of a holding ("How much is 1 million QU worth?"), or None
    (one QU's worth is the price itself)."""
    text = normalize_mentions(question.lower())
    for number in extract(question.lower()).numbers:
        if number.kind == "number" and number.value > 1 and _QU_AFTER.match(text, number.end):
            return number.value
    return None


# A question that asks for a number of QU: "how many QU", "多少 QU", "幾顆".
_QU_COUNT = re.compile(r"\bhow (?:many|much) (?:qus?|qubics?)\b|(?:多少|幾)\s*(?:顆|枚|個)?\s*(?:qus?|qubics?|顆|枚)")


def spend_amount(question: str) -> float | None:
    """The amount of USD a question asks to convert into QU ("How many QU do I get for 100 USD?", "100 美元可以買多少
    QU？"), or None."""
    text = question.lower()
    if not _QU_COUNT.search(normalize_mentions(text)):
        return None
    return next((n.value for n in extract(text).numbers if n.kind == "usd" and n.value > 0), None)


def normalize_question(question: str) -> str:
    """Traditional characters, ASCII forms, lower case, single spaces."""
    text = unicodedata.normalize("NFKC", to_traditional(question)).lower()
    return re.sub(r"\s+", " ", text.replace("’", "'")).strip()


def read_rules(text: str) -> tuple[tuple[Topic, ...], tuple[str, ...], bool] | None:
    """(topics, defined terms, whether a misspelt word was needed) by the rules, or None when nothing matched."""
    topics: list[Topic] = []
    definitions: list[str] = []
    fuzzy = False
    previous: tuple[Topic, ...] = ()
    for part in (p.strip() for p in _PARTS.split(text)):
        if not part:
            continue
        terms, rest = _definitions(part)
        found, misspelt = _topics(rest)
        fuzzy |= misspelt and not terms
        if not found and not terms and _VALUE_ASK.search(part) and previous:
            found = list(previous)  # "目前是多少？" after "什麼是 tick 品質？"
        definitions.extend(t for t in terms if t not in definitions)
        # "what is tick quality?" wants the meaning and, as the question says "is", the figure too
        found = found + [TOPICS_BY_NAME[_TERM_TOPIC[t]] for t in terms if t in _TERM_TOPIC]
        topics.extend(t for t in found if t not in topics)
        previous = tuple(found) or tuple(TOPICS_BY_NAME[_TERM_TOPIC[t]] for t in terms if t in _TERM_TOPIC)
    if "price_change" in {t.name for t in topics}:
        topics = [t for t in topics if t.name != "price"]
    if not topics and not definitions:
        return None
    return tuple(topics), tuple(definitions), fuzzy


_TERM_TOPIC = {
    "tick_quality": "quality",
    "empty_tick": "empty_ticks",
    "burn": "burned",
    "market_cap": "market_cap",
    "epoch": "epoch",
    "tick": "tick",
    "health_score": "health",
    "archive": "archive",
}


def _definitions(part: str) -> tuple[list[str], str]:
    """The terms `part` asks to define, and the part without those phrases."""
    found: list[str] = []
    for pattern in _definition_patterns():
        for match in list(pattern.finditer(part)):
            term = _term_of(match.group(1))
            if term is not None and term not in found:
                found.append(term)
                part = part[: match.start()] + " " * (match.end() - match.start()) + part[match.end() :]
    return found, part


def _term_of(words: str) -> str | None:
    words = words.strip()
    return next((term for term, names in TERMS.items() if words in names), None)


@cache
def _definition_patterns() -> tuple[re.Pattern[str], ...]:
    names = sorted({name for names in TERMS.values() for name in names}, key=len, reverse=True)
    alternatives = "|".join(re.escape(n).replace(r"\ ", r"\s*") for n in names)
    return tuple(re.compile(p.format(term=alternatives)) for p in (*_DEFINITION_EN, *_DEFINITION_ZH))


def _topics(part: str) -> tuple[list[Topic], bool]:
    """The topics named in `part`, longest words first, and whether a misspelt word was needed."""
    asked, scope = part, _SCOPE.search(part)
    part = _SCOPE.sub(" ", part)  # "this epoch" says which ticks, it does not ask for the epoch...
    hits: list[tuple[int, Topic]] = []
    for _, topic, pattern in _cue_patterns():
        for match in list(pattern.finditer(part)):
            hits.append((match.start(), topic))
            part = part[: match.start()] + "\0" * (match.end() - match.start()) + part[match.end() :]
    misspelt = False
    words_or_pairs = re.finditer(r"(?=(\b[a-z]{3,}(?: [a-z]{3,})?))", part)
    for match in () if hits else words_or_pairs:  # misspellings are looked for only where no word was found
        for words in dict.fromkeys((match.group(1), match.group(1).split(" ")[0])):
            close = [
                c for c in difflib.get_close_matches(words, _fuzzy_cues(), cutoff=FUZZY_CUTOFF) if c[0] == words[0]
            ]
            if close:
                hits.append((match.start(), _fuzzy_cue_topic()[close[0]]))
                misspelt = True
                break
    if scope is not None and (not hits or _AGE.search(part)):  # ...unless nothing else is asked ("這個 epoch 什麼時候
        hits.append((scope.start(), TOPICS_BY_NAME["epoch"]))  # 結束？") or it asks the epoch's age ("how long has…")
    ordered = list(dict.fromkeys(topic for _, topic in sorted(hits, key=lambda hit: hit[0])))
    names = {t.name for t in ordered}
    if names & DECLINED:  # "will the network stall tomorrow?" asks for a forecast, not today's pace
        ordered = [t for t in ordered if t.kind in ("forecast", "advice", "findings")]
    if "empty_ticks" in names and _SHARE.search(part):
        ordered = [TOPICS_BY_NAME["empty_share"] if t.name == "empty_ticks" else t for t in ordered]
    specific = [t for t in ordered if t.name not in GENERIC]
    if specific:
        ordered = specific
    metrics = [t for t in ordered if t.kind == "metric" and t.name not in _PRICE_WORDS]
    if metrics and "price" not in names:  # "when does the epoch change?": the change is the epoch's
        ordered = [t for t in ordered if t.name != "price_change"]
    if "price" not in names and "price_change" in names and _SCORE.search(asked):  # "why did the score drop?"
        ordered = [TOPICS_BY_NAME["health"] if t.name == "price_change" else t for t in ordered]
    if any(t.kind == "metric" and t.name != "ticks_in_epoch" for t in ordered):  # "歸檔落後幾個 tick？" counts lag
        ordered = [t for t in ordered if t.name != "ticks_in_epoch"]
    if "issued" in names:  # "circulating vs total supply?": the answer on all QU issued tells the circulating part
        ordered = [t for t in ordered if t.name != "supply"]
    return list(dict.fromkeys(ordered)), misspelt


_SCOPE = re.compile(
    r"\b(?:in |of )?this epoch(?:'s)?\b|\b(?:per|each|every|an|one) epoch\b|本\s*epoch|這個\s*epoch|本期"
    r"|(?:每|一)\s*個?\s*epoch"
)
_SCORE = re.compile(r"\bscore\b|分數")
_AGE = re.compile(r"\bhow (?:long|old)\b|\bbeen (?:running|going|on)\b|\b(?:start|began|begun)|多久|多長時間|開始了?幾")
_SHARE = re.compile(r"\b(?:share|percentage|percent|ratio|proportion|fraction|rate)\b|%|佔比|占比|比例|比率|百分比")
_PRICE_WORDS = frozenset({"price", "price_change", "market_cap"})


@cache
def _cue_patterns() -> tuple[tuple[str, Topic, re.Pattern[str]], ...]:
    pairs = sorted(((cue, topic) for topic in TOPICS for cue in topic.cues), key=lambda pair: -len(pair[0]))
    return tuple((cue, topic, cue_pattern(cue)) for cue, topic in pairs)


def cue_pattern(cue: str) -> re.Pattern[str]:
    """English words as whole words (an optional plural s), Chinese ones anywhere; spaces optional in Chinese."""
    body = re.escape(cue).replace(r"\ ", r"\s*" if not cue.isascii() else r"\s+")
    if cue.isascii() and cue[0].isalnum():
        return re.compile(rf"(?<![a-z0-9]){body}(?:s|es|ed|d|ing)?(?![a-z0-9])")
    return re.compile(body)


@cache
def _fuzzy_cue_topic() -> dict[str, Topic]:
    """English words of the network's quantities a misspelling may stand for (not the phrasings of declines)."""
    return {
        cue: topic
        for topic in TOPICS
        if topic.kind in ("metric", "health", "findings")
        for cue in topic.cues
        if cue.isascii() and len(cue) >= 5 and cue.count(" ") <= 1
    }


def _fuzzy_cues() -> list[str]:
    return list(_fuzzy_cue_topic())

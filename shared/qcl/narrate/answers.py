"""Composed answers: every part of a question answered from the report, the asked figure first, exact by construction.

    from qcl.narrate.answers import compose_answer
    compose_answer(report, QuestionMatcher().match("網路健康嗎？價格變化多少？"), "zh-TW").text
    # "網路目前健康，健康分數 100/100，沒有發現任何異常。價格 1 小時上漲 1.1%，24 小時變化尚無資料，目前價格為 …"

One sentence per topic asked (intents.py), in the order asked; then the problems of those topics (warning or
critical findings, worst first) in the words of findings_text.py. Figures are report values written by formats.py,
each next to the word of its quantity (binding.py checks that of every text). Forecasts and investment advice are
declined in the user's language, with what the data does show; definitions are fixed texts with no figures.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

from qcl.analysis.epochs import epoch_start
from qcl.analysis.report import SEVERITY_RANK, AnalysisReport, Finding, NetworkMetrics
from qcl.narrate.facts import Countdown, derived_metrics, epoch_schedule
from qcl.narrate.findings_text import finding_sentence
from qcl.narrate.formats import Language, approx_large, metric_text, price_plain, usd_amount
from qcl.narrate.intents import Topic
from qcl.narrate.questions import IntentMatch
from qcl.narrate.templates import STATUS_WORD, Rendered

Sentence = tuple[str, tuple[str, ...]]  # the text (no final stop) and the report values / codes it states
PROBLEM = ("warning", "critical")
MAX_PROBLEMS = 3  # findings told after the figures: more would bury the answer

NO_METRICS = {
    "en": "The latest observation could not be read, so no current figures are available",
    "zh-TW": "最新一筆觀測資料無法讀取，暫時沒有最新數據",
}
DEFINITIONS: dict[str, tuple[str, str]] = {
    "tick": (
        "A tick is one step of the Qubic network: the computors agree on a new tick every few seconds, and each "
        "tick can carry transactions",
        "tick 是 Qubic 網路的一個步進單位：計算節點（computor）每隔幾秒就對一個新的 tick 達成共識，"
        "每個 tick 都可以打包交易",
    ),
    "epoch": (
        "An epoch is Qubic's weekly cycle: a new epoch starts every Wednesday at noon UTC, and the network pauses "
        "briefly while it changes over",
        "epoch 是 Qubic 每週一次的週期：每週三中午（UTC）開始新的 epoch，切換時網路會短暫暫停",
    ),
    "tick_quality": (
        "Tick quality is the share of ticks that are not empty: the higher, the more ticks the network filled",
        "tick 品質是非空 tick 所佔的比例，越高代表網路產出的有效 tick 越多",
    ),
    "empty_tick": (
        "An empty tick is a tick the computors closed without agreeing on its content, so it carries no transactions",
        "空 tick 是計算節點未能就內容達成共識而結束的 tick，裡面不含任何交易",
    ),
    "burn": (
        "Burning removes QU from circulation for good: fees and smart-contract costs are burned, which lowers the "
        "circulating supply",
        "銷毀（burn）是把 QU 永久移出流通：手續費和智慧合約的費用會被銷毀，流通量因此減少",
    ),
    "qu": (
        "QU (QUBIC) is the coin of the Qubic network; it pays for transactions and smart contracts",
        "QU（QUBIC）是 Qubic 網路的代幣，用來支付交易和智慧合約的費用",
    ),
    "computor": (
        "Computors are the nodes that run the Qubic network and agree on each tick; they are chosen every epoch",
        "計算節點（computor）是運行 Qubic 網路、對每個 tick 達成共識的節點，每個 epoch 重新選出",
    ),
    "quorum": (
        "The quorum is the share of computors that must agree for a tick to be final: a two-thirds majority",
        "法定人數（quorum）是一個 tick 要確定時必須同意的計算節點數量，需要絕大多數的計算節點同意",
    ),
    "health_score": (
        "The health score sums up our analysis of the network, out of a hundred: stalls, slow ticks, empty ticks, "
        "price shocks and data problems each take points off",
        "健康分數是我們對網路分析的總評，分數越高越健康：停滯、tick 變慢、空 tick、價格劇烈波動和資料問題都會扣分",
    ),
    "market_cap": (
        "The market cap is the price of one QU times the circulating supply",
        "市值是單一 QU 的價格乘以流通量",
    ),
    "archive": (
        "The archive is the service that stores every tick for explorers and wallets; when it falls behind, "
        "recent ticks are not yet searchable",
        "歸檔服務保存每一個 tick，供區塊瀏覽器和錢包查詢；歸檔落後時，最新的 tick 暫時還查不到",
    ),
    "arbitrator": (
        "The arbitrator is the entity that settles disputes among computors and publishes each epoch's computor list",
        "仲裁者（arbitrator）負責處理計算節點之間的爭議，並公布每個 epoch 的計算節點名單",
    ),
}
DECLINE = {
    "forecast": {
        "en": "I can't predict where the price or the network goes next: nothing in the data supports a forecast",
        "zh-TW": "無法預測價格或網路接下來的走向：現有資料無法支撐任何預測",
    },
    "advice": {
        "en": "I can't give investment advice; I can only tell you what the network data shows",
        "zh-TW": "我無法提供投資建議，只能告訴你網路資料顯示的狀況",
    },
}
KNOWN = {"en": "What is known now: {}", "zh-TW": "目前已知的是：{}"}
NOTES = {  # questions.IntentMatch.notes: what a question asks of its topics that the data does not hold
    "usd_only": {
        "en": "The data has prices in USD only, with no exchange rate to other currencies",
        "zh-TW": "資料只有美元報價，沒有換算成新台幣或其他貨幣的匯率",
    },
    "no_extremes": {
        "en": "The data holds the latest price and its 1 h and 24 h changes, not an average or the day's or all-time "
        "high or low",
        "zh-TW": "資料只有最新價格與 1 小時、24 小時的漲跌，沒有平均價，也沒有當日或歷史的最高價、最低價",
    },
    "epoch_counts": {
        "en": "The data counts ticks and empty ticks for the whole epoch so far, not by hour or by day",
        "zh-TW": "資料中的 tick 與空 tick 是整個 epoch 至今的累計，沒有按小時或按天的統計",
    },
    "burned_in_all": {
        "en": "The data holds the total burned so far, not the amount burned in an hour, a day or an epoch",
        "zh-TW": "資料只有累計的銷毀量，沒有每小時、每天或每個 epoch 的銷毀量",
    },
    "no_past_prices": {
        "en": "The data holds the latest price and its 1 h and 24 h changes, not the prices of earlier days or a "
        "week's change",
        "zh-TW": "資料只有最新價格與 1 小時、24 小時的漲跌，沒有更早幾天的價格或一週的漲跌",
    },
    "no_past_figures": {
        "en": "The data holds the current figures, not those of earlier days",
        "zh-TW": "資料只有目前的數字，沒有前幾天的統計",
    },
    "no_rank": {
        "en": "The data holds no ranking against other coins",
        "zh-TW": "資料沒有與其他幣種比較的排名",
    },
    "current_epoch_only": {
        "en": "The data holds the current epoch's figures, not those of earlier epochs",
        "zh-TW": "資料只有目前這個 epoch 的數字，沒有先前 epoch 的統計",
    },
    "no_max_supply": {
        "en": "The data holds the circulating supply, not a maximum or fully diluted supply",
        "zh-TW": "資料只有流通量，沒有最大供應量或完全稀釋後的供應量",
    },
}
UNAVAILABLE = {
    "en": "The data I have does not include transactions, trading volume or computor counts; it covers ticks, "
    "epochs, tick quality, the price and the supply",
    "zh-TW": "我手上的資料不包含交易、成交量或節點數量，只涵蓋 tick、epoch、tick 品質、價格與供應量",
}


def compose_answer(report: AnalysisReport, match: IntentMatch, language: Language) -> Rendered:
    """Every topic and definition of `match`, answered from `report` (see the module docstring)."""
    sentences: list[Sentence] = [(DEFINITIONS[term][_index(language)], ()) for term in match.definitions]
    told: set[str] = set()
    for topic in match.topics:
        if topic.name == "epoch" and "epoch" in match.definitions and report.metrics is not None:
            sentences.append(epoch_answer(report, language, schedule=False))  # the definition told it
            continue
        stated = {source for _, sources in sentences for source in sources}
        new = _topic_sentences(report, topic, language, told)
        if topic.kind == "metric" and all(set(sources) <= stated for _, sources in new):
            continue  # "which epoch and which tick?": the epoch's sentence told the tick already
        sentences.extend(new)
        if topic.name == "price" and match.held_qu is not None and report.metrics is not None:
            sentences.append(holding_answer(report.metrics, match.held_qu, language))
        if topic.name == "price" and match.spend_usd is not None and report.metrics is not None:
            sentences.append(spending_answer(report.metrics, match.spend_usd, language))
    sentences.extend((NOTES[note][language], ()) for note in match.notes)
    codes = set().union(*(t.codes for t in match.topics)) if match.topics else set()
    if any(t.kind == "health" for t in match.topics):  # a score below 100 is explained by what lowered it
        codes |= {f.code.value for f in report.findings}
    problems = [f for f in _worst_first(report.findings) if f.severity in PROBLEM and f.code.value in codes]
    sentences.extend(_finding(f, report, language) for f in problems[:MAX_PROBLEMS] if f.code.value not in told)
    return Rendered(
        language,
        tuple(text for text, _ in sentences),
        tuple(dict.fromkeys(source for _, sources in sentences for source in sources)),
    )


# The figure each topic is asked for: a phrasing of the answer must state it (one source of each set).
_ASKED: dict[str, tuple[str, ...]] = {
    "health": ("health_score",),
    "price": ("price_usd",),
    "price_change": ("price_change_1h_pct", "price_change_24h_pct"),
    "market_cap": ("market_cap_usd",),
    "supply": ("circulating_supply",),
    "issued": ("issued_qus", "circulating_supply"),
    "burned": ("burned_qus",),
    "empty_share": ("empty_tick_share_pct",),
    "empty_ticks": ("empty_ticks_in_epoch",),
    "quality": ("epoch_tick_quality_pct", "tick_quality_last_10k_pct"),
    "pace": ("tick_rate_per_s", "tick_duration_s"),
    "epoch": ("epoch",),
    "tick": ("tick",),
    "ticks_in_epoch": ("ticks_in_epoch",),
    "active": ("active_addresses",),
    "archive": ("archive_lag_ticks",),
    "data": ("window_observations",),
}


def asked_sources(report: AnalysisReport, match: IntentMatch) -> tuple[frozenset[str], ...]:
    """For each topic asked, the sources one of which any text answering it must state (the asked figure)."""
    required: list[frozenset[str]] = []
    for topic in match.topics:
        if topic.name == "findings":
            problems = frozenset(f.code.value for f in report.findings if f.severity in PROBLEM)
            required.append(problems or frozenset({"health_score"}))
        elif topic.name in _ASKED and report.metrics is not None:
            values = {**report.metrics.model_dump(), **derived_metrics(report.metrics)}
            present = frozenset(s for s in _ASKED[topic.name] if values.get(s) is not None or s == "health_score")
            if topic.name == "price_change" and not present:
                present = frozenset({"price_usd"})
            if present:
                required.append(present)
    return tuple(required)


def _index(language: Language) -> int:
    return 0 if language == "en" else 1


def _worst_first(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: -SEVERITY_RANK[f.severity])  # stable: report order within a rank


def _finding(finding: Finding, report: AnalysisReport, language: Language) -> Sentence:
    epoch = report.metrics.epoch if report.metrics else None
    return finding_sentence(finding, language, epoch=epoch), (finding.code.value,)


def _topic_sentences(report: AnalysisReport, topic: Topic, language: Language, told: set[str]) -> list[Sentence]:
    if topic.kind == "health":
        return [health(report, language)]
    if topic.kind == "findings":
        found = _findings(report, language)
        told.update(code for _, sources in found for code in sources)
        return found
    if topic.kind in ("forecast", "advice"):
        return _decline(report, topic.kind, language)
    if topic.kind == "unavailable":
        return [(UNAVAILABLE[language], ()), health(report, language)]
    if topic.name == "data":
        return _data(report, language, told)
    if topic.name == "updated":
        return [updated_answer(report, language)]
    if report.metrics is None:
        return [(NO_METRICS[language], ())]
    if topic.name == "pace":
        return [pace_answer(report, language)]
    if topic.name == "epoch":
        return [epoch_answer(report, language)]
    return [METRIC_ANSWERS[topic.name](report.metrics, language)]


def updated_answer(report: AnalysisReport, language: Language) -> Sentence:
    """When the newest observation the answer comes from was made (the report's time, UTC)."""
    at = report.observed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    tick = "" if report.metrics is None else f"{'，' if language == 'zh-TW' else ', '}tick {report.metrics.tick}"
    if language == "en":
        return f"These answers come from the newest observation, made at {at} UTC{tick}", ("observed_at",)
    return f"答案根據最新一筆觀測資料，觀測時間為 {at} UTC{tick}", ("observed_at",)


def health(report: AnalysisReport, language: Language) -> Sentence:
    score, status = f"{report.health_score}/100", STATUS_WORD[language][report.status]
    problems = [f for f in report.findings if f.severity in PROBLEM]
    counts = {s: sum(f.severity == s for f in problems) for s in PROBLEM}
    if language == "en":
        state = {"healthy": "is healthy", "degraded": "is degraded", "critical": "is in a critical state"}
        if not problems:
            found = "and nothing is wrong"
        else:
            parts = ", ".join(f"{counts[s]} {s}" for s in ("critical", "warning") if counts[s])
            found = f"with {len(problems)} problem{'s' if len(problems) > 1 else ''} found ({parts})"
        return f"The network {state[report.status]}: health score {score}, {found}", ("health_score",)
    if not problems:
        return f"網路目前{status}，健康分數 {score}，沒有發現任何異常", ("health_score",)
    zh = {"critical": "嚴重", "warning": "警示"}
    parts = "、".join(f"{zh[s]} {counts[s]} 項" for s in ("critical", "warning") if counts[s])
    return f"網路目前{status}，健康分數 {score}，發現 {len(problems)} 項異常（{parts}）", ("health_score",)


def _findings(report: AnalysisReport, language: Language) -> list[Sentence]:
    problems = [f for f in _worst_first(report.findings) if f.severity in PROBLEM]
    if not problems:
        score = f"{report.health_score}/100"
        text = (
            f"Nothing is wrong right now: the latest analysis found no problems (health score {score})"
            if language == "en"
            else f"目前沒有異常：最新的分析沒有發現任何問題（健康分數 {score}）"
        )
        return [(text, ("health_score",))]
    n = len(problems)
    if language == "en":
        lead = f"The analysis found {n} problem{'s' if n > 1 else ''}; the most serious first"
    else:
        lead = f"分析發現 {n} 項異常，依重要性排列如下"
    return [(lead, ("findings",)), *(_finding(f, report, language) for f in problems[:MAX_PROBLEMS])]


def _data(report: AnalysisReport, language: Language, told: set[str]) -> list[Sentence]:
    n = f"{report.window_observations:,}"
    problems = [f for f in report.findings if f.code.value in ("data_gap", "data_invalid")]
    told.update(f.code.value for f in problems)
    if language == "en":
        rest = "" if problems else ", with no gaps and no rejected observations"
        lead = f"The analysis covers {n} observations{rest}"
    else:
        rest = "" if problems else "，沒有缺漏，也沒有被拒收的資料"
        lead = f"這次分析涵蓋 {n} 筆觀測資料{rest}"
    return [(lead, ("window_observations",)), *(_finding(f, report, language) for f in problems[:MAX_PROBLEMS])]


def _decline(report: AnalysisReport, kind: str, language: Language) -> list[Sentence]:
    decline = (DECLINE[kind][language], ())
    if report.metrics is None:
        return [decline]
    price, sources = price_answer(report.metrics, language)
    known = KNOWN[language].format(price[0].lower() + price[1:] if language == "en" else price)
    return [decline, (known, sources), health(report, language)]


# --- one sentence per metric topic ----------------------------------------------------------------------------------


def _change_words(m: NetworkMetrics, language: Language) -> str:
    parts = []
    for field, en, zh in (("price_change_1h_pct", "1 h", "1 小時"), ("price_change_24h_pct", "24 h", "24 小時")):
        value = getattr(m, field)
        if value is None:
            parts.append(f"no {en} change yet" if language == "en" else f"{zh}變化尚無資料")
            continue
        size = metric_text(field, abs(value)).lstrip("+")
        if language == "en":
            word = "up" if value > 0 else "down" if value < 0 else "unchanged"
            parts.append(f"{word} {size} over {en}" if value else f"unchanged over {en}")
        else:
            word = "上漲" if value > 0 else "下跌" if value < 0 else "持平"
            parts.append(f"{zh}{word} {size}" if value else f"{zh}持平")
    return ", ".join(parts) if language == "en" else "，".join(parts)


def price_answer(m: NetworkMetrics, language: Language) -> Sentence:
    price, plain = metric_text("price_usd", m.price_usd), price_plain(m.price_usd)
    sources = ("price_usd", "price_change_1h_pct", "price_change_24h_pct")
    if language == "en":
        return f"The price of QUBIC is {price} USD, or {plain} USD per QU ({_change_words(m, language)})", sources
    return f"QUBIC 目前價格為 {price} 美元，也就是每枚 {plain} 美元（{_change_words(m, language)}）", sources


def holding_answer(m: NetworkMetrics, held_qu: float, language: Language) -> Sentence:
    """What an amount of QU the question names is worth at the price: "1,000,000 QU are worth about 0.943 USD"."""
    amount = _amount(held_qu)
    worth = usd_amount(held_qu * m.price_usd)
    if language == "en":
        return f"At that price, {amount} QU are worth about {worth} USD", ("price_usd",)
    return f"以這個價格計算，{amount} QU 約值 {worth} 美元", ("price_usd",)


def _amount(value: float) -> str:
    """An amount as a question named it: "1,000,000", "2.5"."""
    return f"{value:,.0f}" if value.is_integer() else f"{value:,}"


def spending_answer(m: NetworkMetrics, spend_usd: float, language: Language) -> Sentence:
    """How many QU an amount of USD buys at the price: "100 USD buy about 106,078,286 QU"."""
    amount = _amount(spend_usd)
    if m.price_usd <= 0:
        text = "With no price, the QU it buys are unknown" if language == "en" else "沒有價格，無法換算可買到的 QU"
        return text, ("price_usd",)
    qu = spend_usd / m.price_usd
    bought, about = f"{qu:,.0f}", _about(round(qu), language)
    if language == "en":
        return f"At that price, {amount} USD buy about {bought} QU{about}", ("price_usd",)
    return f"以這個價格計算，{amount} 美元約可買到 {bought} QU{about}", ("price_usd",)


def price_change_answer(m: NetworkMetrics, language: Language) -> Sentence:
    price = metric_text("price_usd", m.price_usd)
    sources = ("price_change_1h_pct", "price_change_24h_pct", "price_usd")
    if m.price_change_1h_pct is None and m.price_change_24h_pct is None:
        if language == "en":
            return f"No price change is known yet (it needs an hour of prices); the price is {price} USD", sources
        return f"還沒有價格變化的資料（需要累積一小時的價格）；目前價格為 {price} 美元", sources
    if language == "en":
        return f"The price is {_change_words(m, language)}, and now stands at {price} USD", sources
    return f"價格 {_change_words(m, language)}，目前價格為 {price} 美元", sources


def _about(value: int, language: Language, unit: str = "") -> str:
    """ " (about 148.05 million USD)" / "（約 1.48 億美元）": an amount in words after its figure; "" when small."""
    if language == "en":
        words = approx_large(value, language)
        return f" (about {words}{' ' + unit if unit else ''})" if words else ""
    return f"（約 {_zh_words(value)}{unit}）" if value >= 10**4 else ""


def market_cap_answer(m: NetworkMetrics, language: Language) -> Sentence:
    cap = metric_text("market_cap_usd", m.market_cap_usd)
    if language == "en":
        return f"The market cap is {cap} USD{_about(m.market_cap_usd, language, 'USD')}", ("market_cap_usd",)
    return f"市值為 {cap} 美元{_about(m.market_cap_usd, language, '美元')}", ("market_cap_usd",)


def supply_answer(m: NetworkMetrics, language: Language) -> Sentence:
    supply, about = metric_text("circulating_supply", m.circulating_supply), _about(m.circulating_supply, language)
    if language == "en":
        return f"The circulating supply is {supply} QU{about}", ("circulating_supply",)
    return f"流通量為 {supply} QU{about}", ("circulating_supply",)


def issued_answer(m: NetworkMetrics, language: Language) -> Sentence:
    """All QU issued, and how much of it circulates; the circulating supply alone where the data has no burn figure."""
    issued = derived_metrics(m)["issued_qus"]
    if issued is None:
        return supply_answer(m, language)
    total, about = metric_text("issued_qus", issued), _about(int(issued), language)
    supply, of_it = metric_text("circulating_supply", m.circulating_supply), _about(m.circulating_supply, language)
    sources = ("issued_qus", "circulating_supply")
    if language == "en":
        return (
            f"In all, {total} QU{about} have been issued; {supply} QU{of_it} are in circulation, the rest burned",
            sources,
        )
    return f"總共已發行 {total} QU{about}，其中流通量為 {supply} QU{of_it}，其餘已被銷毀", sources


def burned_answer(m: NetworkMetrics, language: Language) -> Sentence:
    """The total burned and its share of all QU issued (circulating plus burned): "… 16.02 % of all QU issued"."""
    burned, about = metric_text("burned_qus", m.burned_qus), _about(m.burned_qus, language)
    share = derived_metrics(m)["burned_share_pct"]
    sources = ("burned_qus", "burned_share_pct")
    if language == "en":
        of_all = "" if share is None else f", {metric_text('burned_share_pct', share)} of all QU issued"
        return f"{burned} QU{about} have been burned so far{of_all}", sources
    of_all = "" if share is None else f"，佔所有已發行 QU 的 {metric_text('burned_share_pct', share)}"
    return f"目前已銷毀 {burned} QU{about}{of_all}", sources


def _zh_words(value: int) -> str:
    """An amount in Taiwan's large units ("1.48 億"), or with separators below 萬."""
    words = approx_large(value, "zh-TW")
    return words if words else f"{value:,}"


def _empty(m: NetworkMetrics, language: Language, *, share_first: bool) -> Sentence:
    share = derived_metrics(m)["empty_tick_share_pct"]
    empty, ticks = (
        metric_text("empty_ticks_in_epoch", m.empty_ticks_in_epoch),
        metric_text("ticks_in_epoch", m.ticks_in_epoch),
    )
    sources = ("empty_tick_share_pct", "empty_ticks_in_epoch", "ticks_in_epoch")
    if share is None:
        text = "This epoch has no ticks yet" if language == "en" else "本 epoch 還沒有任何 tick"
        return text, ("ticks_in_epoch",)
    pct = metric_text("empty_tick_share_pct", share)
    if language == "en":
        if share_first:
            return f"Empty ticks are {pct} of this epoch: {empty} empty out of {ticks} ticks", sources
        return f"{empty} of this epoch's {ticks} ticks were empty, a share of {pct}", sources
    if share_first:
        return f"本 epoch 的空 tick 佔比為 {pct}：總共 {ticks} 個 tick，其中空 tick 有 {empty} 個", sources
    return f"本 epoch 的空 tick 有 {empty} 個，佔總共 {ticks} 個 tick 的 {pct}", sources


def quality_answer(m: NetworkMetrics, language: Language) -> Sentence:
    quality = metric_text("epoch_tick_quality_pct", m.epoch_tick_quality_pct)
    last = m.tick_quality_last_10k_pct
    sources = ("epoch_tick_quality_pct", "tick_quality_last_10k_pct")
    if language == "en":
        recent = (
            ""
            if last is None
            else f"; over the last 10,000 ticks it is {metric_text('tick_quality_last_10k_pct', last)}"
        )
        return f"Tick quality this epoch is {quality}{recent}", sources
    recent = "" if last is None else f"，最近 10,000 個 tick 的品質為 {metric_text('tick_quality_last_10k_pct', last)}"
    return f"本 epoch 的 tick 品質為 {quality}{recent}", sources


def pace_answer(report: AnalysisReport, language: Language) -> Sentence:
    m = report.metrics
    assert m is not None
    text, sources = _pace(m, language)
    if any(f.code.value in ("tick_stall", "tick_rate_low") for f in report.findings):
        return text, sources
    calm = "; no stall was detected" if language == "en" else "，沒有偵測到停滯"
    return text + calm, sources


def _pace(m: NetworkMetrics, language: Language) -> Sentence:
    duration = metric_text("tick_duration_s", m.tick_duration_s)
    sources: tuple[str, ...] = ("tick_rate_per_s", "tick_duration_s")
    if m.tick_rate_per_s is None:
        if language == "en":
            return f"The current tick has run for {duration} s; the tick rate needs one more observation", sources
        return f"目前這個 tick 已持續 {duration} 秒；tick 速度還需要再一筆觀測才能計算", sources
    rate = metric_text("tick_rate_per_s", m.tick_rate_per_s)
    each = derived_metrics(m)["seconds_per_tick"]
    sources = (*sources, "seconds_per_tick")
    if language == "en":
        rate += " per second" if each is None else f" per second (about {metric_text('seconds_per_tick', each)} s each)"
        if m.tick_duration_s < 1:  # "has run for 0 s" reads as a stopped clock
            return f"Ticks advance at {rate}, and the current tick has only just begun", sources
        return f"Ticks advance at {rate}, and the current tick has run for {duration} s", sources
    rate += " 個" if each is None else f" 個（平均約 {metric_text('seconds_per_tick', each)} 秒一個）"
    if m.tick_duration_s < 1:
        return f"tick 目前每秒前進 {rate}，目前這個 tick 才剛開始", sources
    return f"tick 目前每秒前進 {rate}，目前這個 tick 已持續 {duration} 秒", sources


_UNITS = {
    "en": {"day": "day", "hour": "hour", "minute": "minute"},
    "zh-TW": {"day": "天", "hour": "小時", "minute": "分鐘"},
}


def epoch_answer(report: AnalysisReport, language: Language, *, schedule: bool = True) -> Sentence:
    """The epoch and tick, and, where the calendar places the epoch, when it began and how long ago; with `schedule`,
    when the next epoch starts and how long until then."""
    assert report.metrics is not None
    epoch, tick = metric_text("epoch", report.metrics.epoch), metric_text("tick", report.metrics.tick)
    planned = epoch_schedule(report)
    began = ""  # "when did this epoch start?", "how long has it been running?"
    if planned is not None:
        start = epoch_start(report.metrics.epoch).strftime("%Y-%m-%d %H:%M UTC")
        ago = _duration(planned[3], language)
        if language == "en":
            began = f" (since {start}, about {ago} ago)" if ago else f" (since {start})"
        else:
            began = f"（自 {start} 開始，約 {ago}前）" if ago else f"（自 {start} 開始）"
    now = (
        f"The network is in epoch {epoch}{began}, at tick {tick}"
        if language == "en"
        else f"目前是 epoch {epoch}{began}，最新的 tick 是 {tick}"
    )
    if not schedule:
        return now, ("epoch", "tick")
    if planned is None:  # an epoch the calendar cannot place: the rule only
        when = (
            "; a new epoch starts every Wednesday at noon UTC"
            if language == "en"
            else "；每週三中午（UTC）會進入新的 epoch"
        )
        return now + when, ("epoch", "tick")
    following, starts, countdown, _ = planned
    start = starts.strftime("%Y-%m-%d %H:%M UTC")
    left = _duration(countdown, language)
    if language == "en":
        when = (
            f"; epochs change every Wednesday at noon UTC, about {left} until epoch {following} starts ({start})"
            if countdown
            else f"; epoch {following} was due at {start} (every Wednesday at noon UTC) and has not begun yet"
        )
    else:
        when = (
            f"；每週三中午（UTC）會進入新的 epoch，下一個 epoch {following} 約 {left}後開始（{start}）"
            if countdown
            else f"；epoch {following} 原定於 {start} 開始（每週三中午），目前還沒有開始"
        )
    return now + when, ("epoch", "tick")


def _duration(parts: Countdown, language: Language) -> str:
    """'6 days 19 hours' / '6 天 19 小時'."""
    units = _UNITS[language]
    if language == "en":
        return " ".join(f"{n} {units[unit]}{'s' if n > 1 else ''}" for n, unit in parts)
    return " ".join(f"{n} {units[unit]}" for n, unit in parts)


def tick_answer(m: NetworkMetrics, language: Language) -> Sentence:
    epoch, tick = metric_text("epoch", m.epoch), metric_text("tick", m.tick)
    if language == "en":
        return f"The latest tick is tick {tick}, in epoch {epoch}", ("tick", "epoch")
    return f"最新的 tick 是 tick {tick}（epoch {epoch}）", ("tick", "epoch")


def ticks_in_epoch_answer(m: NetworkMetrics, language: Language) -> Sentence:
    epoch, ticks = metric_text("epoch", m.epoch), metric_text("ticks_in_epoch", m.ticks_in_epoch)
    if language == "en":
        return f"Epoch {epoch} has had {ticks} ticks so far", ("ticks_in_epoch", "epoch")
    return f"epoch {epoch} 到目前為止共有 {ticks} 個 tick", ("ticks_in_epoch", "epoch")


def active_answer(m: NetworkMetrics, language: Language) -> Sentence:
    active = metric_text("active_addresses", m.active_addresses)
    if language == "en":
        return f"There are {active} active addresses", ("active_addresses",)
    return f"活躍地址數為 {active}", ("active_addresses",)


def archive_answer(m: NetworkMetrics, language: Language) -> Sentence:
    if m.archive_lag_ticks is None:
        return ("No archive position was observed", ()) if language == "en" else ("沒有觀測到歸檔進度", ())
    lag = metric_text("archive_lag_ticks", m.archive_lag_ticks)
    if language == "en":
        return f"The archive is {lag} ticks behind the live network", ("archive_lag_ticks",)
    return f"歸檔進度落後即時網路 {lag} 個 tick", ("archive_lag_ticks",)


METRIC_ANSWERS: dict[str, Callable[[NetworkMetrics, Language], Sentence]] = {
    "price": price_answer,
    "price_change": price_change_answer,
    "market_cap": market_cap_answer,
    "supply": supply_answer,
    "issued": issued_answer,
    "burned": burned_answer,
    "empty_share": lambda m, language: _empty(m, language, share_first=True),
    "empty_ticks": lambda m, language: _empty(m, language, share_first=False),
    "quality": quality_answer,
    "tick": tick_answer,
    "ticks_in_epoch": ticks_in_epoch_answer,
    "active": active_answer,
    "archive": archive_answer,
}

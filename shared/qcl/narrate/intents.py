"""What a question can ask for: one table of topics, each with the words that name it (English and Traditional
Chinese), the report values and finding codes that answer it, and English example phrasings.

    from qcl.narrate.intents import TOPICS_BY_NAME
    TOPICS_BY_NAME["market_cap"].sources      # ("market_cap_usd",)

The same words serve twice: questions.py finds a question's topics by them, and binding.py checks that each number
of a text is written next to a word of the quantity it belongs to ("the market cap is 148,050,688 USD"). Topic
kinds:
- `metric`: one quantity of the report (price, market cap, burned supply, empty-tick share, …): its figure first;
- `health`: the overall state (status, health score, how many findings);
- `findings`: what is wrong, most serious first ("anything wrong?");
- `definition`: what a term means (no figures of ours: none is needed);
- `forecast` / `advice`: declined, with what the data does show.
English words match whole words (an optional plural "s"), Chinese ones as substrings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TopicKind = Literal["health", "findings", "metric", "definition", "forecast", "advice", "unavailable"]


@dataclass(frozen=True, eq=False)  # one object per topic: compared and hashed by identity
class Topic:
    name: str
    kind: TopicKind
    label: dict[str, str]  # language -> how an answer names it ("the market cap", "市值")
    cues: tuple[str, ...]  # words naming it in a question (both languages)
    sources: tuple[str, ...] = ()  # report values (NetworkMetrics fields, derived values) its answer states
    codes: frozenset[str] = frozenset()  # finding codes that belong to it
    examples: tuple[str, ...] = ()  # English phrasings for the embedding match
    # Words that tie a number to it in an answer (binding.py); the cues and these, minus question-only phrasings.
    binds: tuple[str, ...] = field(default=())


TOPICS: tuple[Topic, ...] = (
    Topic(
        "health", "health", {"en": "the network's health", "zh-TW": "網路健康狀況"},
        ("health", "healthy", "health score", "status", "overall", "summary", "summarize", "summarise", "ok", "okay",
         "fine", "normal", "running", "working", "how is the network", "how's the network", "how is qubic",
         "state of the network", "network state", "doing", "健康", "健康分數", "狀態", "狀況", "整體", "摘要", "總結",
         "正常", "運作", "怎麼樣", "好嗎", "還好", "順不順", "順利", "順暢", "情況", "怎樣", "穩定", "最新",
         "tell me about the network", "tell me about qubic", "overview", "what's new", "update", "latest", "stable",
         "介紹一下 qubic", "介紹 qubic", "介紹一下網路", "介紹網路", "alright", "all right", "report", "報告",
         "安全嗎", "安不安全", "news", "how are things", "近況", "everything", "all you know", "所有資訊", "全部資訊",
         "所有資料", "全部資料"),
        ("health_score",),
        examples=("How is the network doing right now?", "Is everything running normally?",
                  "Give me a summary of the chain", "What's the current state of Qubic?"),
        binds=("health", "healthy", "score", "/100", "健康", "分數"),
    ),
    Topic(
        "findings", "findings", {"en": "problems", "zh-TW": "異常"},
        ("wrong", "problem", "issue", "anomaly", "anomalies", "alert", "finding", "warning", "serious", "worst",
         "concern", "worry", "worried", "happening", "happened", "incident", "outage", "異常", "問題", "警報",
         "警示", "警告",
         "事故", "不對",
         "不對勁", "出事", "嚴重", "毛病",
         "狀況嗎", "怎麼了", "發生什麼"),
        ("findings",),
        examples=("Is anything wrong?", "Are there any problems at the moment?", "What is the most serious issue?",
                  "Explain the worst finding"),
        binds=("finding", "problem", "critical", "warning", "note", "issue", "異常", "狀況", "嚴重", "警示", "資訊",
               "項"),
    ),
    Topic(
        "price", "metric", {"en": "the price", "zh-TW": "價格"},
        ("price", "usd price", "cost", "worth", "how much is qubic", "how much is a qu", "how much is qu",
         "how much is one qu", "quote", "going for", "trading at", "trade at", "exchange rate", "usd rate",
         "/usd", "價格", "價錢", "幣價", "報價", "多少錢", "值多少錢", "值多少美元", "單價", "美金", "幾塊",
         "台幣", "新台幣", "twd", "現價", "價位", "行情", "最高價", "最低價", "高點", "低點", "all-time high",
         "all time high", "ath", "歷史新高", "最高點", "最低點"),
        # held_qu / held_value_usd: an amount of QU a question names and its worth at the price; spend_usd /
        # spend_qu: an amount of USD and the QU it buys (facts.py)
        ("price_usd", "held_qu", "held_value_usd", "spend_usd", "spend_qu"),
        frozenset({"price_crash", "price_spike", "price_trend"}),
        examples=("How much is QUBIC worth?", "What does one QU cost in dollars?", "What's the token's price?"),
        binds=("price", "trades", "worth", "per qu", "buy", "價格", "價", "報價", "每枚", "約值", "買到"),
    ),
    Topic(
        "price_change", "metric", {"en": "the price change", "zh-TW": "價格變化"},
        ("change", "changed", "move", "moved", "trend", "up or down", "rise", "rose", "risen", "fall", "fell",
         "fallen", "drop", "dropped", "dropping", "going down", "going up", "rising", "gain", "gained", "lose",
         "lost", "crash", "spike", "pump", "dump", "up today", "down today", "last hour", "past hour",
         "last 24 hours", "past 24 hours", "price do", "24h",
         "24 h", "1h", "1 h", "hourly", "daily", "volatile", "volatility", "yesterday", "compared", "波動",
         "昨天", "漲跌", "變化", "變動", "有動", "動了", "走勢", "趨勢", "漲",
         "跌", "升", "降", "崩",
         "暴漲", "暴跌"),
        ("price_change_1h_pct", "price_change_24h_pct"), frozenset({"price_crash", "price_spike", "price_trend"}),
        examples=("What is the price trend today?", "Did the coin go up or down?", "Is the token falling?",
                  "How much did the price move in the last day?"),
        binds=("change", "rose", "fell", "up", "down", "hour", "漲", "跌", "小時", "變化"),
    ),
    Topic(
        "market_cap", "metric", {"en": "the market cap", "zh-TW": "市值"},
        ("market cap", "marketcap", "market capitalization", "market capitalisation", "market value", "valuation",
         "mcap", "市值", "總市值", "市場價值"),
        ("market_cap_usd",),
        examples=("What is the market cap?", "How much is the whole network valued at?"),
        binds=("market cap", "market capitalization", "valuation", "市值"),
    ),
    Topic(
        "supply", "metric", {"en": "the circulating supply", "zh-TW": "流通量"},
        ("supply", "circulating", "circulation", "供應", "流通"),
        ("circulating_supply",), frozenset({"supply_anomaly"}),
        examples=("How many QU are in circulation?", "What is the circulating supply?"),
        binds=("supply", "circulating", "circulation", "供應", "流通"),
    ),
    Topic(  # everything issued: the circulating supply plus the burned (facts.derived_metrics)
        "issued", "metric", {"en": "the QU issued", "zh-TW": "發行總量"},
        ("total supply", "issued", "issuance", "emission", "emitted", "minted", "in existence", "exist", "發行", "總量",
         "總供應", "鑄造"),
        ("issued_qus", "circulating_supply"), frozenset({"supply_anomaly"}),
        examples=("What is the total supply?", "How many QU have been issued in all?"),
        binds=("issued", "in all", "發行", "已發行"),
    ),
    Topic(
        "burned", "metric", {"en": "the burned supply", "zh-TW": "銷毀量"},
        ("burn", "burned", "burnt", "burning", "destroyed", "burn rate", "burn speed", "銷毀", "燒毀", "燃燒", "焚毀",
         "燒掉", "燒了", "銷毀速度", "燒毀速度", "銷毀速率", "燒毀速率"),
        ("burned_qus", "burned_share_pct"), frozenset({"supply_anomaly"}),
        examples=("How much has been burned?", "How many coins were destroyed?"),
        binds=("burn", "burned", "burnt", "issued", "銷毀", "燒毀", "已發行"),
    ),
    Topic(
        "empty_share", "metric", {"en": "the empty-tick share", "zh-TW": "空 tick 佔比"},
        ("empty tick share", "share of empty", "empty share", "percentage of empty", "empty tick rate",
         "empty tick ratio", "proportion of empty", "fraction of empty", "% empty", "percent empty",
         "空 tick 佔比", "空tick佔比", "空 tick 比例", "空tick比例", "空 tick 比率", "空 tick 的比例",
         "空 tick 的佔比",
         "空 tick 占比", "空tick占比", "空塊比例", "空 tick 百分比"),
        ("empty_tick_share_pct", "empty_ticks_in_epoch", "ticks_in_epoch"),
        frozenset({"empty_ticks_high", "tick_quality_drop"}),
        examples=("What share of ticks were empty?", "What percentage of ticks are empty?"),
        binds=("empty", "share", "空", "佔", "占"),
    ),
    Topic(
        "empty_ticks", "metric", {"en": "empty ticks", "zh-TW": "空 tick"},
        ("empty", "empty tick", "空 tick", "空tick", "空白 tick", "空的 tick", "空塊", "空區塊"),
        ("empty_ticks_in_epoch", "ticks_in_epoch", "empty_tick_share_pct"),
        frozenset({"empty_ticks_high", "tick_quality_drop"}),
        examples=("Why are there more empty ticks now?", "How many ticks were empty?"),
        binds=("empty", "空"),
    ),
    Topic(
        "quality", "metric", {"en": "tick quality", "zh-TW": "tick 品質"},
        ("quality", "tick quality", "品質", "質量", "tick 品質"),
        ("epoch_tick_quality_pct", "tick_quality_last_10k_pct"), frozenset({"tick_quality_drop", "empty_ticks_high"}),
        examples=("What is the tick quality of this epoch?", "Is the quality dropping?"),
        binds=("quality", "品質", "last", "最近"),
    ),
    Topic(
        "pace", "metric", {"en": "tick speed", "zh-TW": "tick 速度"},
        ("speed", "fast", "slow", "slower", "rate", "pace", "per second", "tps", "stall", "stalled", "stuck",
         "halt", "halted", "frozen", "freeze", "pause", "paused", "producing", "速度", "多快", "很慢", "變慢", "太慢",
         "每秒", "停滯", "卡住", "停住", "暫停", "停頓", "出塊", "快嗎", "慢嗎", "being produced", "still produced",
         "tick production", "停擺", "當機", "停止出塊", "不出塊", "沒有出塊", "不動了", "多久出", "多久一個",
         "多久產生", "how often is a tick", "how often is a new tick", "how often are ticks", "how often do ticks",
         "how long does a tick", "how long is a tick", "延遲", "latency", "seconds per tick", "second per tick",
         "tick time", "block time", "tick interval", "each tick take", "幾秒", "秒一個", "每個 tick 多久"),
        ("tick_rate_per_s", "tick_duration_s", "seconds_per_tick"), frozenset({"tick_stall", "tick_rate_low"}),
        examples=("Is the network stuck?", "Why are ticks so slow?", "How fast are ticks produced?",
                  "Are blocks still being produced?"),
        binds=("per second", "second", "advance", "run", "stall", "stuck", "每秒", "秒", "持續", "停"),
    ),
    Topic(
        "epoch", "metric", {"en": "the epoch", "zh-TW": "epoch"},
        ("epoch", "which epoch", "current epoch", "紀元", "第幾個 epoch"),
        ("epoch",), frozenset({"epoch_transition"}),
        examples=("Which epoch are we in?", "When does the next epoch start?"),
        # the time left until the next epoch ("6 days 19 hours until epoch 188", "19 小時後開始"): read before the
        # price change's "hour" / "小時"
        # and the time since it began ("about 2 days 1 hour ago", "約 5 小時前")
        binds=("epoch", "紀元", *(f"{unit} {when}" for unit in ("day", "days", "hour", "hours", "minute", "minutes")
               for when in ("until epoch", "ago")), "天後開始", "小時後開始", "分鐘後開始", "小時前", "天前", "分鐘前"),
    ),
    Topic(
        "tick", "metric", {"en": "the current tick", "zh-TW": "目前的 tick"},
        ("current tick", "latest tick", "tick number", "tick height", "block height", "which tick", "what tick",
         "height", "目前 tick", "目前的 tick", "最新 tick", "最新的 tick", "現在的 tick", "現在 tick",
         "tick 到", "tick 高度", "區塊高度",
         "高度", "第幾個 tick", "哪個 tick", "哪一個 tick"),
        ("tick",),
        examples=("What is the latest tick?", "What block height are we at?"),
        binds=("tick",),
    ),
    Topic(
        "ticks_in_epoch", "metric", {"en": "ticks this epoch", "zh-TW": "本 epoch 的 tick 數"},
        ("how many ticks", "number of ticks", "ticks this epoch", "ticks in this epoch", "tick count",
         "多少個 tick", "多少 tick", "幾個 tick", "tick 數", "tick數"),
        ("ticks_in_epoch",),
        examples=("How many ticks has this epoch had?",),
        binds=("tick", "epoch"),
    ),
    Topic(
        "active", "metric", {"en": "active addresses", "zh-TW": "活躍地址"},
        ("active", "addresses", "address", "users", "wallets", "holders", "activity", "活躍", "地址", "用戶", "錢包",
         "使用者", "持有人"),
        ("active_addresses",),
        examples=("How many active addresses are there?", "How many people use the network?"),
        binds=("active", "address", "addresses", "活躍", "地址"),
    ),
    Topic(
        "archive", "metric", {"en": "the archive", "zh-TW": "歸檔"},
        ("archive", "archiver", "archived", "indexer", "lag", "lagging", "behind", "sync", "synced", "歸檔", "封存",
         "落後", "同步"),
        ("archive_lag_ticks",), frozenset({"archive_lag"}),
        examples=("Is the archive keeping up with the network?", "How far behind is the indexer?"),
        binds=("archive", "behind", "lag", "歸檔", "落後"),
    ),
    Topic(
        "data", "metric", {"en": "the data feed", "zh-TW": "資料來源"},
        ("gap", "missing", "invalid", "rejected", "observation", "feed", "coverage", "data quality", "缺漏", "缺失",
         "無效", "觀測", "中斷", "資料缺", "缺資料", "資料有沒有缺", "資料來源", "沒有資料", "資料中斷"),
        ("window_observations",), frozenset({"data_gap", "data_invalid"}),
        examples=("Is any data missing?", "Were observations rejected?"),
        binds=("observation", "data", "gap", "觀測", "資料", "缺漏", "筆"),
    ),
    Topic(
        "updated", "metric", {"en": "the data's time", "zh-TW": "資料時間"},
        ("updated", "last update", "how old", "how fresh", "how recent", "data from", "data time", "timestamp",
         "observation time", "latest observation", "last observation", "newest observation", "observed at",
         "更新", "資料時間", "資料的時間", "數據時間", "什麼時候的資料", "哪時候的資料", "多久以前", "多新", "最新觀測",
         "最後觀測", "觀測時間"),
        ("observed_at",),
        examples=("When was the data last updated?", "How fresh is this data?"),
        binds=("updated", "observation", "更新", "觀測"),
    ),
    Topic(
        "forecast", "forecast", {"en": "a forecast", "zh-TW": "預測"},
        ("tomorrow", "next week", "next month", "next year", "forecast", "predict", "prediction", "in the future",
         "future price", "price target", "will the price", "will it", "will qubic", "going to", "gonna", "expect",
         "明天", "明日", "下週", "下周", "下個月", "明年", "未來", "預測", "預估", "會漲", "會跌", "會不會", "將會",
         "之後會", "接下來會", "反彈", "回升", "看漲", "看跌", "漲到", "跌到"),
        examples=("Will the price rise tomorrow?", "Predict the price next week", "Where will QUBIC be in a month?"),
    ),
    Topic(
        "advice", "advice", {"en": "investment advice", "zh-TW": "投資建議"},
        ("should i buy", "should i sell", "should i hold", "should i invest", "invest", "investment", "buy now",
         "time to buy", "time to sell", "buy", "sell",
         "worth buying", "good buy", "financial advice", "all in", "該買", "要買", "買入", "賣出", "投資", "值得買",
         "該不該買", "該不該賣", "可以買", "建議買", "進場", "出場", "抄底", "買點", "賣點", "入場", "現在買", "買嗎",
         "買好嗎", "買進", "該賣", "要賣", "賣嗎", "買 qubic", "買qubic", "買 qu", "買qu"),
        examples=("Should I buy QUBIC now?", "Is it a good investment?"),
    ),
    Topic(
        "unavailable", "unavailable",
        {"en": "transactions, volume or computor counts", "zh-TW": "交易、成交量或節點數"},
        ("transaction", "transfer", "volume", "trading volume", "hashrate", "hash rate", "how many computors",
         "how many nodes", "fees", "交易量", "交易數", "筆交易", "成交量", "轉帳", "手續費", "算力",
         "幾個節點", "多少節點", "number of computors", "computor count", "how many validators", "多少 computor",
         "多少個 computor", "幾個 computor", "computor 數量", "computor 有幾", "computor 有多少", "多少計算節點",
         "多少個節點", "節點數量", "節點有幾"),
        examples=("How many transactions were there today?", "What is the trading volume?"),
    ),
)  # fmt: skip

TOPICS_BY_NAME = {topic.name: topic for topic in TOPICS}
GENERIC = frozenset({"health"})  # gives way to a specific topic asked in the same part of a question
DECLINED = frozenset({"forecast", "advice"})  # absorb the price topics of their part: the decline tells the price

# Terms a definition can be asked of: name -> words naming it (both languages).
TERMS: dict[str, tuple[str, ...]] = {
    "tick": ("tick", "ticks"),
    "epoch": ("epoch", "epochs", "紀元"),
    "tick_quality": ("tick quality", "quality", "tick 品質", "品質"),
    "empty_tick": ("empty tick", "empty ticks", "空 tick", "空tick"),
    "burn": ("burn", "burning", "burned", "銷毀", "燒毀"),
    "qu": ("qu", "qus", "qubic", "qubic coin"),
    "computor": ("computor", "computors", "計算節點"),
    "quorum": ("quorum", "法定人數"),
    "health_score": ("health score", "健康分數"),
    "market_cap": ("market cap", "market capitalization", "市值"),
    "archive": ("archive", "archiver", "歸檔"),
    "arbitrator": ("arbitrator", "仲裁者"),
}

"""`qcl narrate` and `qcl ask` with templates only (runs with the model: tests/integration/test_narrate_model.py)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from qcl.cli import app
from qcl.qubic.synth import sample_capture_path

runner = CliRunner()
SAMPLE = str(sample_capture_path())


def test_narrate_json_is_the_insight_of_the_final_report() -> None:
    result = runner.invoke(app, ["narrate", "--input", SAMPLE, "--lang", "en", "--json", "--no-model"])
    assert result.exit_code == 0, result.output
    insight = json.loads(result.stdout)
    assert insight["kind"] == "narrative" and insight["language"] == "en"
    assert insight["text"].startswith("As of 2025-11-12 16:59 UTC the Qubic network's health score is 100/100")
    assert set(insight) >= {
        "text",
        "language",
        "model",
        "grounded",
        "fallback_used",
        "confidence",
        "sources",
        "latency_ms",
    }
    assert insight["fallback_reason"].startswith("templates_only: ")


def test_narrate_defaults_to_traditional_chinese_and_prints_the_text() -> None:
    result = runner.invoke(app, ["narrate", "-i", SAMPLE, "--no-model"])
    assert result.exit_code == 0
    assert result.stdout.startswith("截至 2025-11-12 16:59 UTC，Qubic 網路的健康分數為 100/100（健康）")


def test_ask_answers_from_the_bundled_sample_by_default() -> None:
    result = runner.invoke(app, ["ask", "what is the price trend today?", "--lang", "en", "--json", "--no-model"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["kind"] == "answer" and "price_change_1h_pct" in answer["sources"]
    assert answer["text"].startswith("The price is up 1.1% over 1 h")


def test_ask_answers_in_the_language_the_question_is_written_in_unless_told() -> None:
    english = runner.invoke(app, ["ask", "What is the current epoch?", "--json", "--no-model"])
    chinese = runner.invoke(app, ["ask", "現在是第幾個 epoch？", "--json", "--no-model"])
    told = runner.invoke(app, ["ask", "What is the current epoch?", "--lang", "zh-TW", "--json", "--no-model"])
    assert [json.loads(r.stdout)["language"] for r in (english, chinese, told)] == ["en", "zh-TW", "zh-TW"]
    assert json.loads(english.stdout)["text"].startswith("The network is in epoch 187")


def test_ask_refuses_an_off_topic_question_politely() -> None:
    result = runner.invoke(app, ["ask", "誰贏了世界盃？", "--no-model"])
    assert result.exit_code == 0
    assert result.stdout.startswith("我只能回答關於 Qubic 網路狀態的問題")


def test_an_empty_question_exits_2_naming_the_field() -> None:
    result = runner.invoke(app, ["ask", "  ", "--no-model"])
    assert result.exit_code == 2
    assert "error: question: must not be empty" in result.output


def test_an_oversized_question_exits_2_stating_the_limit() -> None:
    result = runner.invoke(app, ["ask", "x" * 501, "--no-model"])
    assert result.exit_code == 2 and "at most 500 characters (got 501)" in result.output


def test_an_unsupported_language_exits_2_naming_the_field() -> None:
    result = runner.invoke(app, ["narrate", "-i", SAMPLE, "--lang", "fr", "--no-model"])
    assert result.exit_code == 2
    assert "error: language: must be one of zh-TW, en (got 'fr')" in result.output


def test_ask_with_a_missing_capture_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ask", "price?", "--input", str(tmp_path / "none.jsonl"), "--no-model"])
    assert result.exit_code == 2 and "no such file" in result.output


def test_bench_narrate_with_an_unsupported_language_exits_2() -> None:
    result = runner.invoke(app, ["bench", "narrate", "--lang", "en,fr"])
    assert result.exit_code == 2 and "language: must be one of zh-TW, en (got 'fr')" in result.output


def test_eval_questions_reports_accuracy_latency_and_unbound_numbers(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    rows = [
        {"question": "市值多少？", "language": "zh-TW", "labels": ["market_cap"], "kind": "answer"},
        {"question": "Will the price rise tomorrow?", "language": "en", "labels": ["forecast"], "kind": "decline"},
        {"question": "What is the price?", "language": "en", "labels": ["market_cap"], "kind": "answer"},  # wrong
    ]
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows))
    result = runner.invoke(app, ["eval", "questions", "--input", str(path), "--no-embeddings", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["questions"] == 3 and figures["intent_accuracy"] == round(2 / 3, 4)
    assert figures["decline_accuracy"] == 1.0 and figures["answer_accuracy"] < 1.0
    assert figures["unbound_numbers"] == 0 and figures["composed_latency_ms"]["p95"] is not None
    assert figures["wrong"][0]["question"] == "What is the price?"


def test_eval_questions_with_a_broken_set_exits_2_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text("not json\n")
    result = runner.invoke(app, ["eval", "questions", "--input", str(path)])
    assert result.exit_code == 2 and "questions line 1" in result.output

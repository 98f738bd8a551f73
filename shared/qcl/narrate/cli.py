"""`qcl narrate`, `qcl ask` and `qcl eval questions`; the model and torch are imported inside the commands only.

qcl narrate --input capture.jsonl --lang zh-TW|en [--json] [--no-model]
qcl ask "為什麼現在空 tick 變多？" [--input capture.jsonl] [--lang zh-TW|en] [--json] [--no-model]
qcl eval questions [--input set.jsonl] [--model N] [--no-embeddings] [--json]

Exit status: 0 with a text (a model's or a template's: the JSON says which and why), 2 for a bad argument
("error: question: must not be empty").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from qcl.clitools import fail, settings_or_exit

if TYPE_CHECKING:
    from qcl.events import AIInsight

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
LangOpt = Annotated[str, typer.Option("--lang", help="zh-TW | en")]
NoModelOpt = Annotated[bool, typer.Option("--no-model", help="templates only: no model is loaded")]
WindowOpt = Annotated[int | None, typer.Option("--window-s", help="rolling window  [QCL_WINDOW_S]")]


def _show(insight: AIInsight, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(insight.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    typer.echo(insight.text)
    how = "grounded" if insight.grounded else f"template ({insight.fallback_reason or 'fixed reply'})"
    typer.echo(f"-- {insight.model}, {how}, confidence {insight.confidence}, {insight.latency_ms:.0f} ms", err=True)


def _final_report(path: Path, window_s: int) -> Any:
    from qcl.analysis import analyze_capture
    from qcl.qubic.capture import read_capture

    return analyze_capture(read_capture(path), window_s=window_s).report


def narrate(
    input: Annotated[
        Path, typer.Option("--input", "-i", help="capture file (JSON lines)", exists=True, dir_okay=False)
    ],
    lang: LangOpt = "zh-TW",
    as_json: JsonOpt = False,
    no_model: NoModelOpt = False,
    window_s: WindowOpt = None,
) -> None:
    """Analyse a capture and narrate its final report: the model's text if it passes the grounding check."""
    from qcl.narrate.errors import NarrationInputError
    from qcl.narrate.questions import validate_language
    from qcl.narrate.service import open_narrator

    try:
        language = validate_language(lang)
    except NarrationInputError as exc:
        raise fail(str(exc), 2) from None
    settings = settings_or_exit(window_s=window_s)
    report = _final_report(input, settings.window_s)
    _show(open_narrator(settings, use_model=not no_model).narrate(report, language), as_json)


def ask(
    question: Annotated[str, typer.Argument(help="a question about the network, zh-TW or en")],
    input: Annotated[
        Path | None,
        typer.Option("--input", "-i", help="capture to answer from (default: the bundled sample)", dir_okay=False),
    ] = None,
    lang: Annotated[
        str | None, typer.Option("--lang", help="zh-TW | en  [default: the question's language, else zh-TW]")
    ] = None,
    as_json: JsonOpt = False,
    no_model: NoModelOpt = False,
    window_s: WindowOpt = None,
) -> None:
    """Answer a question from a capture's final report, or say politely that it is not about the network."""
    from qcl.narrate.errors import NarrationInputError
    from qcl.narrate.language import question_language
    from qcl.narrate.questions import validate_language, validate_question
    from qcl.narrate.service import open_narrator
    from qcl.qubic.synth import sample_capture_path

    try:
        text = validate_question(question)
        language = validate_language(lang or question_language(text) or "zh-TW")
    except NarrationInputError as exc:
        raise fail(str(exc), 2) from None
    capture = input or sample_capture_path()
    if not capture.is_file():
        raise fail(f"--input: no such file: {capture}", 2)
    settings = settings_or_exit(window_s=window_s)
    report = _final_report(capture, settings.window_s)
    _show(open_narrator(settings, use_model=not no_model).answer(text, language, report), as_json)


def eval_questions(
    input: Annotated[
        Path | None,
        typer.Option("--input", "-i", help="evaluation set (JSON lines; default: the bundled one)", dir_okay=False),
    ] = None,
    model: Annotated[
        int, typer.Option("--model", min=0, help="also ask the model to phrase N answers per language")
    ] = 0,
    no_embeddings: Annotated[bool, typer.Option("--no-embeddings", help="rules only, no sentence embeddings")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Intent, answer and decline accuracy of the answers to a labelled question set, latency, unbound numbers."""
    from qcl.narrate.evaluation import eval_reports, evaluate, load_questions
    from qcl.narrate.questions import QuestionMatcher
    from qcl.narrate.service import Narrator, open_narrator

    try:
        questions = load_questions(input)
    except (OSError, ValueError) as exc:
        raise fail(f"--input: {exc}", 2) from None
    settings = settings_or_exit()
    if model:
        narrator = open_narrator(settings, use_model=True)
        if no_embeddings:
            narrator.matcher = QuestionMatcher(encoder=None)
    else:
        narrator = Narrator(None, matcher=QuestionMatcher(encoder=None) if no_embeddings else None)
    try:
        result = evaluate(
            narrator,
            questions,
            eval_reports(),
            model_sample=model,
            progress=lambda done, total: typer.echo(f"\r{done}/{total}", nl=False, err=True),
        )
    finally:
        narrator.close()
    typer.echo("", err=True)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    for key, value in result.items():
        if key not in ("wrong", "per_intent"):
            typer.echo(f"{key:<20} {value}")
    for item in result["wrong"]:
        typer.echo(f"wrong: {item['question']!r} (report {item['report']}): {'; '.join(item['problems'])}")


def register(app: typer.Typer) -> None:
    app.command("narrate")(narrate)
    app.command("ask")(ask)
    eval_app = typer.Typer(no_args_is_help=True, help="Evaluations of the AI layer's answers (--json for machines).")
    eval_app.command("questions")(eval_questions)
    app.add_typer(eval_app, name="eval")

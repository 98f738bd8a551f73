"""`qcl models` and `qcl bench model`; torch and transformers are imported inside the commands only.

qcl models [--json]
qcl bench model [--model ID] [--tokens 64] [--runs 3] [--json]
"""

from __future__ import annotations

from typing import Annotated

import typer

from qcl.clitools import print_json, settings_or_exit

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def models(as_json: JsonOpt = False) -> None:
    """The model registry: id, architecture, source, revision, quantization, context, licence, availability."""
    from qcl.model.registry import registry_table

    table = registry_table(settings_or_exit())
    if as_json:
        print_json(table)
        return
    for row in table:
        mark = "*" if row["default"] else " "
        state = "available" if row["available"] else "UNAVAILABLE"
        typer.echo(
            f"{mark} {row['id']:<30} {row['architecture']:<6} {row['quantization']:<13} ctx {row['context_length']:<6} "
            f"{row['licence']:<10} {state}: {row['reason']}"
        )


def bench_model(
    model: Annotated[str | None, typer.Option("--model", help="registry id  [QCL_MODEL]")] = None,
    tokens: Annotated[int, typer.Option("--tokens", min=1, max=1024, help="new tokens per timed run")] = 64,
    runs: Annotated[int, typer.Option("--runs", min=1, max=20, help="timed runs (median)")] = 3,
    as_json: JsonOpt = False,
) -> None:
    """Load time (cold, cached), tokens/s fp32 vs int8 vs transformers generate(), sizes, int8 agreement."""
    from qcl.bench.model import run_model_bench
    from qcl.model.errors import ModelUnavailableError

    settings = settings_or_exit()
    try:
        result = run_model_bench(settings, model_id=model or settings.model, new_tokens=tokens, runs=runs)
    except ModelUnavailableError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        print_json(result)
        return
    for key, value in result.items():
        typer.echo(f"{key:<28} {value}")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.command("models")(models)
    bench_app.command("model")(bench_model)

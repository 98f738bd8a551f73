"""`qcl models` (its benchmark is in bench/commands.py); torch and transformers are imported in the command only.

qcl models [--json]
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


def register(app: typer.Typer) -> None:
    app.command("models")(models)

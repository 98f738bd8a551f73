"""What every `qcl` command shares: settings that stop the command naming the bad variable, JSON output, failing,
and batches read from a file or stdin with a result per line.

Command modules (cli.py and each package's commands) import these instead of writing their own.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from qcl.config import Settings, load_settings
from qcl.errors import ConfigError


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `error: message` to stderr; raise the returned Exit to stop with `code` (2 = usage or settings)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def settings_or_exit(**flags: Any) -> Settings:
    """Settings from QCL_* variables with CLI flags over them (None = not given); exit 2 naming what is invalid."""
    try:
        return load_settings(**flags)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


class Refused(Exception):
    """One item of a batch that could not be carried out, with the reason; the batch goes on with the next."""


def read_batch(source: Path) -> list[tuple[int, str]]:
    """The lines of a file, or of stdin for `-`, numbered from 1 as an editor numbers them; blank lines and `#`
    comments are skipped (their numbers too, so an error names the line a person sees)."""
    try:
        text = sys.stdin.read() if str(source) == "-" else source.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot read {source}: {exc.strerror}", 2) from None
    numbered = [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1)]
    return [(number, line) for number, line in numbered if line and not line.startswith("#")]


def batch_items(values: list[str] | None, file: Path | None, what: str) -> tuple[list[tuple[int, str]], str]:
    """A batch from the command line's arguments or from --file, numbered, with the unit its numbers count."""
    if bool(values) == (file is not None):
        raise fail(f"give {what} or --file, not both or neither", 2)
    if file is not None:
        return read_batch(file), "line"
    return list(enumerate(values or [], start=1)), "argument"


def run_batch(
    items: list[tuple[int, str]],
    act: Callable[[str], Any],
    describe: Callable[[Any], str],
    *,
    as_json: bool,
    unit: str = "line",
) -> None:
    """Act on every line whatever the others do; print one result per line; exit 1 naming the failed lines.

    `act` raises Refused with the reason for a line it cannot carry out; anything else stops the batch. `unit`
    names what the numbers count ("line" of a file, "argument" of the command line)."""
    if not items:
        raise fail("the batch is empty (no line other than blanks and # comments)", 2)
    results: list[dict[str, Any]] = []
    for number, line in items:
        try:
            results.append({unit: number, "ok": True, "result": act(line)})
        except Refused as exc:
            results.append({unit: number, "ok": False, "error": str(exc)})
        if not as_json:
            done = results[-1]
            typer.echo(f"{unit} {number}: " + (describe(done["result"]) if done["ok"] else f"error: {done['error']}"))
    if as_json:
        print_json(results)
    failed = [str(r[unit]) for r in results if not r["ok"]]
    if failed:
        raise fail(f"{len(failed)} of {len(results)} failed: {unit} {', '.join(failed)}")

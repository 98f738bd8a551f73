"""What every `qcl` command shares: settings that stop the command naming the bad variable, JSON output, failing.

Command modules (cli.py and each package's commands) import these instead of writing their own.
"""

from __future__ import annotations

import json
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

"""Every `qcl` command a script may read has --json: the typer app walked leaf by leaf."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from qcl.cli import app

# Long-running processes that print status lines to stderr until stopped and no result, and `ingest`, whose
# output is already one JSON document per observation (there is no other form to choose).
WITHOUT_JSON = {
    "up",
    "ingest",
    "jobs work",
    "jobs autoscale",
    "federation serve",
    "shard serve",
    "shard pool up",
    "oracle up",
    "oracle node",
}


def leaves(command: Any, path: tuple[str, ...] = ()) -> dict[str, Any]:
    if hasattr(command, "commands"):
        found: dict[str, Any] = {}
        for name, sub in command.commands.items():
            found.update(leaves(sub, (*path, name)))
        return found
    return {" ".join(path): command}


def test_every_command_but_the_servers_has_a_json_option() -> None:
    commands = leaves(typer.main.get_command(app))
    missing = {name for name, command in commands.items() if not any("--json" in p.opts for p in command.params)}
    assert missing == WITHOUT_JSON


def test_commands_that_printed_only_text_print_json_when_asked(tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(app, ["oracle", "init", "--nodes", "4", "--dir", str(tmp_path / "committee"), "--json"])
    assert made.exit_code == 0, made.output
    committee = json.loads(made.stdout)
    assert (committee["n"], committee["f"]) == (4, 1) and Path(committee["file"]).is_file()
    folder = str(tmp_path / "committee")
    exported = json.loads(
        runner.invoke(app, ["oracle", "export-key", "--dir", folder, "--index", "2", "--json"]).stdout
    )
    plain = runner.invoke(app, ["oracle", "export-key", "--dir", folder, "--index", "2"]).stdout.strip()
    assert exported == {"index": 2, "key": plain} and plain

    source = Path(__file__).resolve().parents[2] / "workflows" / "question_batch.yaml"
    translated = json.loads(runner.invoke(app, ["workflows", "translate", str(source), "--json"]).stdout)
    assert translated["file"] == str(source) and "call: http.post" in translated["translated"]

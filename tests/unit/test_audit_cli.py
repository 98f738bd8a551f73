"""`qcl audit verify|list` on the embedded trail that `qcl keys` appends to (<state_dir>/audit.jsonl).

.venv/bin/pytest tests/unit/test_audit_cli.py
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qcl.cli import app
from qcl.obs.logging import configure_audit_trail

runner = CliRunner()


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("QCL_STATE_DIR", str(tmp_path))
    yield tmp_path
    configure_audit_trail(None)  # `qcl keys` chained this process's audit lines into the trail


def test_verify_passes_on_the_trail_the_key_commands_wrote(state: Path) -> None:
    for role in ("viewer", "operator"):
        assert runner.invoke(app, ["keys", "create", "--role", role, "--name", f"cli {role}"]).exit_code == 0
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 0 and result.stdout.startswith("ok: 2 entries")
    listed = json.loads(runner.invoke(app, ["audit", "list", "--action", "api_key.created", "--json"]).stdout)
    assert [e["role"] for e in listed] == ["viewer", "operator"] and listed[0]["actor"].startswith("cli:")


def test_verify_fails_naming_an_edited_entry(state: Path) -> None:
    runner.invoke(app, ["keys", "create", "--role", "viewer"])
    runner.invoke(app, ["keys", "create", "--role", "admin"])
    path = state / "audit.jsonl"
    first, second = path.read_text().splitlines()
    path.write_text(first + "\n" + second.replace('"role": "admin"', '"role": "viewer"') + "\n")
    result = runner.invoke(app, ["audit", "verify", "--json"])
    verdict = json.loads(result.stdout)
    assert result.exit_code == 1 and verdict["ok"] is False and verdict["broken_seq"] == 2

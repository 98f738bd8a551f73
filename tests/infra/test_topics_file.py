"""infra/topics.json, which Terraform reads, is the library's registry exactly.

Regenerate after changing shared/qcl/events.py:  .venv/bin/qcl topics --json > infra/topics.json
"""

from __future__ import annotations

import json

from typer.testing import CliRunner

from qcl.cli import app
from qcl.events import registry_table
from tests.infra.hcl import INFRA

REGENERATE = "regenerate it: .venv/bin/qcl topics --json > infra/topics.json"


def _exported() -> list[dict[str, object]]:
    return json.loads((INFRA / "topics.json").read_text())


def test_topics_file_equals_the_registry() -> None:
    assert _exported() == registry_table(), f"infra/topics.json is out of date; {REGENERATE}"


def test_topics_file_is_what_the_cli_prints() -> None:
    result = CliRunner().invoke(app, ["topics", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == _exported(), REGENERATE


def test_every_registered_topic_has_a_dead_letter_topic_and_one_subscription_per_consumer() -> None:
    for entry in _exported():
        assert entry["dead_letter_topic"] == f"{entry['topic']}-dlq"
        assert entry["subscriptions"] == [f"{entry['topic']}.{c}" for c in entry["consumers"]]  # type: ignore[attr-defined]

"""cloudbuild.yaml's order of steps, and the canary script's promote/rollback decisions against a fake gcloud.

.venv/bin/pytest tests/infra/test_delivery.py
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.hcl import INFRA, ROOT

CANARY = INFRA / "scripts" / "canary.sh"

# Answers like `gcloud` would; every call is appended to $GCLOUD_LOG.
FAKE_GCLOUD = """#!/usr/bin/env bash
echo "$*" >> "$GCLOUD_LOG"
case "$*" in
  *"services describe"*latestReadyRevisionName*) echo "qcl-analyzer-00001-old" ;;
  *"services describe"*latestCreatedRevisionName*) echo "qcl-analyzer-00002-new" ;;
  *"revisions describe"*) echo "${FAKE_READY:-True}" ;;
  *"logging read"*) for _ in $(seq 1 "${FAKE_5XX:-0}"); do echo "2026-11-27T00:00:00Z"; done ;;
esac
"""


def _steps() -> list[dict[str, Any]]:
    return yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())["steps"]


def test_pipeline_tests_then_builds_then_plans_then_applies_then_deploys() -> None:
    order = {step["id"]: i for i, step in enumerate(_steps())}
    waits = {step["id"]: step.get("waitFor", []) for step in _steps()}
    assert waits["build"] == ["test"] and waits["plan"] == ["build"] and waits["apply"] == ["plan"]
    canaries = [name for name in order if name.startswith("canary-")]
    assert sorted(canaries) == ["canary-analyzer", "canary-api", "canary-narrator", "canary-oracle"]
    assert all(waits[c] == ["apply"] for c in canaries)


def test_apply_runs_the_saved_plan_only_when_asked() -> None:
    apply = next(s for s in _steps() if s["id"] == "apply")
    script = apply["args"][-1]
    assert 'if [ "${_APPLY}" = "true" ]' in script and "terraform apply -input=false tfplan" in script


def test_every_user_substitution_starts_with_an_underscore() -> None:
    substitutions = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())["substitutions"]
    assert all(name.startswith("_") for name in substitutions)


def test_prod_trigger_requires_approval_and_dev_does_not() -> None:
    cicd = (INFRA / "cicd.tf").read_text()
    assert (
        'prod = { branch = null, tag = "^v[0-9]+\\\\.[0-9]+\\\\.[0-9]+$", pull_request = false, approval = true' in cicd
    )
    assert 'dev  = { branch = "^main$", tag = null, pull_request = false, approval = false' in cicd


@pytest.fixture
def fake_gcloud(tmp_path: Path) -> dict[str, str]:
    gcloud = tmp_path / "bin" / "gcloud"
    gcloud.parent.mkdir()
    gcloud.write_text(FAKE_GCLOUD)
    gcloud.chmod(0o755)
    return {
        **os.environ,
        "PATH": f"{gcloud.parent}:{os.environ['PATH']}",
        "GCLOUD_LOG": str(tmp_path / "calls.log"),
        "CANARY_WAIT_S": "0",
    }


def _canary(env: dict[str, str], **overrides: str) -> tuple[int, list[str]]:
    result = subprocess.run(
        ["bash", str(CANARY), "qcl-analyzer", "repo/analyzer:build-1", "europe-west4"],
        env={**env, **overrides},
        capture_output=True,
        text=True,
        timeout=30,
    )
    calls = Path(env["GCLOUD_LOG"]).read_text().splitlines() if Path(env["GCLOUD_LOG"]).exists() else []
    return result.returncode, calls


def test_canary_gets_ten_percent_before_any_decision(fake_gcloud: dict[str, str]) -> None:
    _, calls = _canary(fake_gcloud)
    deploy = next(i for i, c in enumerate(calls) if c.startswith("run deploy"))
    assert "--no-traffic" in calls[deploy] and "--tag=canary" in calls[deploy]
    assert "--to-revisions=qcl-analyzer-00002-new=10" in calls[deploy + 2]


def test_healthy_canary_is_promoted_to_all_traffic(fake_gcloud: dict[str, str]) -> None:
    status, calls = _canary(fake_gcloud)
    assert status == 0
    assert any("--to-revisions=qcl-analyzer-00002-new=100" in c for c in calls)
    assert not any("qcl-analyzer-00001-old=100" in c for c in calls)


def test_canary_with_server_errors_is_rolled_back(fake_gcloud: dict[str, str]) -> None:
    status, calls = _canary(fake_gcloud, FAKE_5XX="3")
    assert status == 1
    assert any("--to-revisions=qcl-analyzer-00001-old=100" in c for c in calls)
    assert not any("qcl-analyzer-00002-new=100" in c for c in calls)


def test_canary_that_never_became_ready_is_rolled_back(fake_gcloud: dict[str, str]) -> None:
    status, calls = _canary(fake_gcloud, FAKE_READY="False")
    assert status == 1
    assert any("--to-revisions=qcl-analyzer-00001-old=100" in c for c in calls)


def test_errors_within_the_allowance_still_promote(fake_gcloud: dict[str, str]) -> None:
    status, calls = _canary(fake_gcloud, FAKE_5XX="2", CANARY_MAX_5XX="2")
    assert status == 0
    assert any("--to-revisions=qcl-analyzer-00002-new=100" in c for c in calls)


def test_canary_without_arguments_prints_usage(fake_gcloud: dict[str, str]) -> None:
    result = subprocess.run(["bash", str(CANARY)], env=fake_gcloud, capture_output=True, text=True, timeout=10)
    assert result.returncode == 2 and "usage:" in result.stderr

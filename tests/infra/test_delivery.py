"""cloudbuild.yaml's order of steps, and the rollouts it runs (qcl rollout's decisions: tests/unit/test_rollout.py).

.venv/bin/pytest tests/infra/test_delivery.py
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.hcl import INFRA, ROOT


def _steps() -> list[dict[str, Any]]:
    return yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())["steps"]


def test_pipeline_tests_then_builds_then_plans_then_applies_then_deploys() -> None:
    order = {step["id"]: i for i, step in enumerate(_steps())}
    waits = {step["id"]: step.get("waitFor", []) for step in _steps()}
    assert waits["build"] == ["test"] and waits["scan"] == ["build"] and waits["plan"] == ["scan"]
    assert waits["apply"] == ["plan"]
    rollouts = [name for name in order if name.startswith("rollout-")]
    assert sorted(rollouts) == ["rollout-analyzer", "rollout-api", "rollout-narrator", "rollout-oracle"]
    assert all(waits[r] == ["apply"] for r in rollouts)


def test_each_cloud_run_service_is_rolled_out_by_qcl_in_the_image_just_built() -> None:
    steps = {step["id"]: step for step in _steps()}
    expected = {
        "analyzer": ("analyzer", "blue-green"),
        "api": ("api-svc", "canary"),
        "narrator": ("narrator", "blue-green"),
    }
    for image, (service, strategy) in expected.items():
        step = steps[f"rollout-{image}"]
        assert step["name"] == "${_REPOSITORY}/api:${BUILD_ID}"  # carries the qcl command
        script = step["args"][-1]
        assert f"qcl rollout ${{_PREFIX}}-{service} ${{_REPOSITORY}}/{image}:${{BUILD_ID}}" in script
        assert f"--strategy {strategy}" in script and 'if [ "${_APPLY}" = "true" ]' in script


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


def test_each_production_cluster_has_its_own_project_and_a_region_the_stack_accepts() -> None:
    import re

    from tests.infra.hcl import INFRA, load

    accepted = re.search(r"contains\(\[([^\]]+)\], var\.region\)", (INFRA / "modules/naming/variables.tf").read_text())
    assert accepted is not None
    regions = set(re.findall(r'"([a-z0-9-]+)"', accepted.group(1)))
    envs = {path.stem: load(path) for path in sorted((INFRA / "envs").glob("*.tfvars"))}
    assert all(env["region"] in regions for env in envs.values())
    prod, second = envs["prod"], envs["prod-us"]
    assert prod["project_id"] != second["project_id"] and prod["region"] != second["region"]
    assert all(zone.startswith(second["region"] + "-") for zone in second["shard_zones"])


# Answers like `gcloud artifacts docker images scan|list-vulnerabilities` would; the analyzer image carries
# $FAKE_SEVERITIES, the others one LOW finding.
FAKE_GCLOUD = """#!/usr/bin/env bash
echo "$*" >> "$GCLOUD_LOG"
case "$*" in
  *"images scan"*) echo "projects/p/locations/europe/operations/scan-${5##*/}" ;;
  *"list-vulnerabilities"*analyzer*) for s in $FAKE_SEVERITIES; do echo "$s"; done ;;
  *"list-vulnerabilities"*) echo LOW ;;
esac
"""


def _run_step(step_id: str, tmp_path: Path, **env: str) -> tuple[int, str, list[str]]:
    """A step's script as Cloud Build runs it: its substitutions filled in, $$ as $, with a fake gcloud on PATH."""
    script = next(s for s in _steps() if s["id"] == step_id)["args"][-1]
    values = {"_REPOSITORY": "europe-docker.pkg.dev/p/qcl-images", "BUILD_ID": "b42"}
    script = re.sub(r"\$\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), script).replace("$$", "$")
    fake = tmp_path / "bin" / "gcloud"
    fake.parent.mkdir()
    fake.write_text(FAKE_GCLOUD)
    fake.chmod(0o755)
    log = tmp_path / "calls.log"
    variables = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}", "GCLOUD_LOG": str(log), **env}
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, env=variables, capture_output=True, text=True, timeout=30)
    return done.returncode, done.stdout, log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize(("severities", "passes"), [("HIGH MEDIUM", True), ("LOW CRITICAL", False)])
def test_a_critical_vulnerability_in_any_image_fails_the_build(tmp_path: Path, severities: str, passes: bool) -> None:
    code, out, calls = _run_step("scan", tmp_path, FAKE_SEVERITIES=severities)
    assert (code == 0) is passes
    scans = [c for c in calls if c.startswith("artifacts docker images scan")]
    if passes:  # every image is scanned, by the tag just pushed
        images = [line.split()[0] for line in (ROOT / "containers/images.txt").read_text().splitlines()]
        images = [i for i in images if not i.startswith("#")]
        assert [c.split()[4] for c in scans] == [f"europe-docker.pkg.dev/p/qcl-images/{i}:b42" for i in images]
        assert all("--remote" in c for c in scans)
    else:
        assert "scan: analyzer: 1 critical vulnerabilities" in out

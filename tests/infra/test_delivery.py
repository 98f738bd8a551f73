"""cloudbuild.yaml's order of steps, and the rollouts it runs (qcl rollout's decisions: tests/unit/test_rollout.py).

.venv/bin/pytest tests/infra/test_delivery.py
"""

from __future__ import annotations

from typing import Any

import yaml

from tests.infra.hcl import INFRA, ROOT


def _steps() -> list[dict[str, Any]]:
    return yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())["steps"]


def test_pipeline_tests_then_builds_then_plans_then_applies_then_deploys() -> None:
    order = {step["id"]: i for i, step in enumerate(_steps())}
    waits = {step["id"]: step.get("waitFor", []) for step in _steps()}
    assert waits["build"] == ["test"] and waits["plan"] == ["build"] and waits["apply"] == ["plan"]
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

"""The workflows' Terraform: every translated example becomes a Cloud Workflow that runs as the workflows service
account, reaches the API through QCL_API_BASE, and may invoke the API function, which accepts that account's ID
tokens (QCL_OIDC_*) for the same audience; the examples' triggers become Cloud Scheduler jobs and Eventarc triggers."""

from __future__ import annotations

import json
import re

import yaml

from qcl.workflows.definition import compile_workflow
from tests.infra import hcl

WORKFLOWS = hcl.ROOT / "workflows"


def test_every_example_has_a_translated_source_that_cloud_workflows_can_take() -> None:
    examples = sorted(p.stem for p in WORKFLOWS.glob("*.yaml"))
    translated = sorted(p.stem for p in (WORKFLOWS / "gcp").glob("*.yaml"))
    assert examples and examples == translated
    for path in (WORKFLOWS / "gcp").glob("*.yaml"):
        compile_workflow(path.read_text(encoding="utf-8"), calls={"http.post"})  # no qcl.* connector left


def test_the_root_deploys_every_file_of_workflows_gcp_as_the_workflows_account() -> None:
    call = hcl.module_calls(hcl.INFRA / "workflows.tf")["workflows"]
    assert call["source"] == "./modules/workflows"
    assert "workflows/gcp" in call["sources"] and "fileset" in call["sources"]
    assert call["service_account_email"] == '${google_service_account.component["workflows"].email}'
    assert call["api_url"] == "${local.api_function_url}"


def test_each_workflow_gets_the_api_base_and_its_service_account() -> None:
    workflow = next(r for r in hcl.resources("google_workflows_workflow") if r.name == "this")
    assert workflow.body["for_each"] == "${var.sources}"
    assert workflow.body["service_account"] == "${var.service_account_email}"
    assert workflow.body["source_contents"] == "${each.value}"
    assert "QCL_API_BASE" in workflow.body["user_env_vars"]


def test_the_api_function_lets_the_workflows_account_invoke_it() -> None:
    function = hcl.module_calls(hcl.INFRA / "services.tf")["function"]
    assert 'google_service_account.component["workflows"].email' in str(function["for_each"])


def test_the_workflows_component_has_a_service_account() -> None:
    components = hcl.locals_of(hcl.INFRA / "modules/naming/main.tf")["components"]
    assert "workflows" in components


def test_the_api_function_accepts_the_workflows_id_tokens_for_the_url_they_call() -> None:
    function = hcl.module_calls(hcl.INFRA / "services.tf")["function"]
    env = function["for_each"]["api"]["env"]
    assert env["QCL_OIDC_AUDIENCE"] == "${local.api_function_url}"  # the QCL_API_BASE the workflows call and sign for
    assert '${google_service_account.component["workflows"].email}=operator' in env["QCL_OIDC_PRINCIPALS"].split(",")
    url = hcl.locals_of(hcl.INFRA / "workflows.tf")["api_function_url"]
    assert url.startswith("https://${var.region}-${var.project_id}.cloudfunctions.net/")


def test_the_example_triggers_reach_the_workflows_module() -> None:
    naming = hcl.module_calls(hcl.INFRA / "main.tf")["naming"]
    assert "workflows/triggers.json" in naming["workflow_triggers"]
    call = hcl.module_calls(hcl.INFRA / "workflows.tf")["workflows"]
    assert call["schedules"] == "${module.naming.workflow_schedules}"
    assert call["topic_triggers"] == "${module.naming.workflow_topic_triggers}"


def test_a_schedule_starts_an_execution_through_the_executions_api_as_the_workflows_account() -> None:
    job = next(r for r in hcl.resources("google_cloud_scheduler_job") if r.name == "trigger")
    target = hcl.blocks(job.body, "http_target")[0]
    assert target["uri"].startswith("https://workflowexecutions.googleapis.com/v1/${google_workflows_workflow.this[")
    assert hcl.blocks(target, "oauth_token")[0]["service_account_email"] == "${var.service_account_email}"
    assert job.body["time_zone"] == "Etc/UTC"


def test_a_topic_trigger_delivers_the_topic_to_its_guard_workflow() -> None:
    trigger = hcl.one("google_eventarc_trigger")
    assert hcl.blocks(trigger.body, "matching_criteria")[0]["value"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert hcl.blocks(trigger.body, "destination")[0]["workflow"] == "${google_workflows_workflow.guard[each.key].id}"
    pubsub = hcl.blocks(hcl.blocks(trigger.body, "transport")[0], "pubsub")[0]
    assert pubsub["topic"] == "${var.topic_ids[each.value.topic]}"


def _guard(workflow: str, topic: str, condition: str) -> str:
    """infra/modules/workflows/guard.yaml.tftpl as Terraform's templatefile renders it (jsonencode escapes <, >, &)."""
    text = (hcl.INFRA / "modules/workflows/guard.yaml.tftpl").read_text(encoding="utf-8").replace("$${", "\0")
    quoted = json.dumps(condition).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    values = {"workflow": workflow, "topic": topic, "condition": quoted, "target": "projects/p/locations/r/workflows/w"}
    text = re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], text)
    return text.replace("\0", "${")


def test_the_guard_of_each_example_topic_trigger_is_a_workflow_holding_its_condition() -> None:
    triggers = json.loads((WORKFLOWS / "triggers.json").read_text(encoding="utf-8"))
    specs = [(wf, t) for wf, specs in triggers.items() for t in specs if "topic" in t]
    assert specs
    for workflow, spec in [*specs, ("x", {"topic": "network-analysis", "condition": "${event.data.score < 50}"})]:
        source = _guard(workflow, spec["topic"], spec.get("condition", "${true}"))
        compile_workflow(
            source, calls={"googleapis.workflowexecutions.v1.projects.locations.workflows.executions.create"}
        )
        check = yaml.safe_load(source)["main"]["steps"][1]["check"]["switch"][0]
        assert check == {"condition": spec.get("condition", "${true}"), "next": "start"}

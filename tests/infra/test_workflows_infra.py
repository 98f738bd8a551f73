"""The workflows' Terraform: every translated example becomes a Cloud Workflow that runs as the workflows service
account, reaches the API through QCL_API_BASE, and may invoke the API function."""

from __future__ import annotations

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
    assert call["api_url"] == '${module.function["api"].uri}'


def test_each_workflow_gets_the_api_base_and_its_service_account() -> None:
    workflow = hcl.one("google_workflows_workflow")
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

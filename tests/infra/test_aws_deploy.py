"""The AWS deployment (infra/aws and the EKS overlay deploy/k8s-aws) agrees with the library and with the GKE base.

    .venv/bin/pytest tests/infra/test_aws_deploy.py

The bus's names and grants are tested offline by `terraform test` in infra/modules/aws_naming (scripts/infra-checks.sh);
checkov checks the resources. Here: the overlay renders (kubectl's kustomize) into valid manifests whose settings the
services accept, and the Terraform's defaults and names are the ones qcl/bus/sqs.py uses.
"""

from __future__ import annotations

import inspect
from functools import cache
from typing import Any

from qcl.bus.sqs import SqsBus, _queue_name
from qcl.config import Settings
from tests.infra import hcl
from tests.infra.hcl import ROOT
from tests.infra.test_k8s_manifests import render

AWS = ROOT / "infra" / "aws"


@cache
def _rendered() -> list[dict[str, Any]]:
    return render(ROOT / "deploy" / "k8s-aws")


def _of(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in _rendered() if doc["kind"] == kind]


def _default(name: str) -> Any:
    return next(body["default"] for path, n, body in hcl.variables() if n == name and path.parent == AWS)


def test_the_overlay_settings_are_ones_the_services_accept_with_the_sqs_bus() -> None:
    (config,) = [doc for doc in _of("ConfigMap") if doc["metadata"]["name"] == "qcl-config"]
    data = config["data"]
    assert data["AWS_DEFAULT_REGION"] == _default("region")
    qcl = {k.removeprefix("QCL_").lower(): v for k, v in data.items() if k.startswith("QCL_")}
    settings = Settings(**qcl)
    assert settings.bus == "sqs"
    assert settings.aws_prefix == _default("name_prefix")
    assert settings.max_delivery_attempts == _default("max_delivery_attempts")


def test_every_service_account_assumes_its_own_iam_role_and_no_google_identity() -> None:
    accounts = _of("ServiceAccount")
    assert len(accounts) == 9
    for account in accounts:
        annotations = account["metadata"]["annotations"]
        assert "iam.gke.io/gcp-service-account" not in annotations
        assert annotations["eks.amazonaws.com/role-arn"].endswith(f":role/{account['metadata']['name']}")


def test_every_workload_runs_from_ecr_and_gpu_workloads_on_l4_instances() -> None:
    pods = [doc["spec"]["template"]["spec"] for doc in _rendered() if doc["kind"] in ("Deployment", "StatefulSet")]
    for pod in pods:
        for container in pod["containers"]:
            assert ".dkr.ecr." in container["image"], container["image"]
        if any("nvidia.com/gpu" in c["resources"].get("limits", {}) for c in pod["containers"]):
            assert pod["nodeSelector"] == {"node.kubernetes.io/instance-type": "g6.xlarge"}


def test_terraform_names_queues_and_sizes_redelivery_as_the_bus_does() -> None:
    # infra/modules/aws_naming's own test checks it names this queue so.
    assert _queue_name("qcl-", "network-analysis.oracle") == "qcl-network-analysis--oracle.fifo"
    defaults = inspect.signature(SqsBus).parameters
    assert _default("visibility_timeout_s") == defaults["visibility_timeout_s"].default
    assert _default("name_prefix") == defaults["prefix"].default
    assert _default("max_delivery_attempts") == Settings.model_fields["max_delivery_attempts"].default


def test_every_queue_redrives_one_receive_after_the_consumer_gives_up() -> None:
    (queue,) = [r for r in hcl.resources("aws_sqs_queue") if r.name == "consumer"]
    assert "var.max_delivery_attempts + 1" in queue.body["redrive_policy"]
    assert queue.body["fifo_queue"] is True
    (subscription,) = hcl.resources("aws_sns_topic_subscription")
    assert subscription.body["raw_message_delivery"] is True  # the queue holds the event's bytes and attributes


def test_the_store_is_encrypted_replicated_and_behind_a_token() -> None:
    (store,) = hcl.resources("aws_elasticache_replication_group")
    body = store.body
    assert body["transit_encryption_enabled"] is True and body["at_rest_encryption_enabled"] is True
    assert body["automatic_failover_enabled"] is True and body["num_cache_clusters"] >= 2
    assert "random_password.redis_auth" in body["auth_token"]

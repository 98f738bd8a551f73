"""deploy/k8s against the Kubernetes 1.33 OpenAPI schemas (bundled in kubernetes-validate, offline), and its
consistency with the Terraform shape.

    .venv/bin/pytest tests/infra/test_k8s_manifests.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.infra import hcl
from tests.infra.hcl import ROOT

K8S = ROOT / "deploy" / "k8s"
# GKE's regular channel runs 1.33 (cloud.google.com/kubernetes-engine/docs/release-notes, read 2026-11).
KUBERNETES_VERSION = "1.33"


def _documents() -> list[tuple[str, dict[str, Any]]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs = []
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            docs.append((f"{name}:{doc['kind']}/{doc['metadata']['name']}", doc))
    return docs


DOCUMENTS = _documents()


def render(directory: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize directory`: the manifests an apply of it would send."""
    from tests.backends import missing

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        missing("kubectl is not installed (it renders the kustomizations)")
    result = subprocess.run([str(kubectl), "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _find(kind: str, name: str) -> dict[str, Any]:
    return next(d for _, d in DOCUMENTS if d["kind"] == kind and d["metadata"]["name"] == name)


@pytest.mark.parametrize("doc", [d for _, d in DOCUMENTS], ids=[i for i, _ in DOCUMENTS])
def test_manifest_is_valid_against_the_kubernetes_schema(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_schema_validation_rejects_a_malformed_manifest() -> None:
    broken = yaml.safe_load((K8S / "shard.yaml").read_text().split("---")[1])
    broken["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_manifest_file_is_listed_in_the_kustomization() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"} == listed


def test_shard_pool_is_a_statefulset_of_three_behind_a_headless_service() -> None:
    shards = _find("StatefulSet", "qcl-shard")
    assert shards["spec"]["replicas"] == 3
    assert shards["spec"]["serviceName"] == "qcl-shard"
    assert _find("Service", "qcl-shard")["spec"]["clusterIP"] == "None"


@pytest.mark.slow  # reads the default model's converted config (the session converts it once)
def test_shard_layer_ranges_are_the_library_plan_that_terraform_also_uses() -> None:
    from qcl.config import load_settings
    from qcl.shard.local import local_plan

    # GPU stages serve fp32 weights; the plan weighs the embedding on stage 0 and the LM head on the last stage.
    planned = local_plan(load_settings(quantization="none"), "smollm2-135m-instruct", 3).to_json()["ranges"]
    layers = {k: v for k, v in _find("ConfigMap", "qcl-shard")["data"].items() if k.startswith("QCL_SHARD_LAYERS_")}
    assert list(layers.values()) == planned
    default = next(b for p, n, b in hcl.variables() if n == "shard_layer_ranges" and p.parent == hcl.INFRA)["default"]
    assert default == planned


def test_each_shard_pod_serves_the_layers_of_its_ordinal(tmp_path: Path) -> None:
    container = _find("StatefulSet", "qcl-shard")["spec"]["template"]["spec"]["containers"][0]
    fake_qcl = tmp_path / "qcl"
    fake_qcl.write_text('#!/bin/sh\necho "$@"\n')
    fake_qcl.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{tmp_path}:{os.environ['PATH']}",
        "HOSTNAME": "qcl-shard-2",
        **_find("ConfigMap", "qcl-shard")["data"],
    }
    result = subprocess.run(container["command"], env=env, capture_output=True, text=True, timeout=10)
    assert result.stdout.split() == [
        "shard", "serve", "--model", "smollm2-135m-instruct", "--layers", "24:30", "--port", "50051",
        "--tls-dir", "/secrets/tls/qcl-shard-2", "--health-port", "50052",
    ]  # fmt: skip


def test_each_shard_pod_reads_its_own_certificate_and_the_trust_bundle() -> None:
    pod = _find("StatefulSet", "qcl-shard")["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "tls")
    paths = {item["path"] for source in volume["projected"]["sources"] for item in source["secret"]["items"]}
    assert paths == {f"qcl-shard-{i}/{name}" for i in range(3) for name in ("cert.pem", "key.pem", "ca.pem")}
    assert volume["projected"]["defaultMode"] & 0o007 == 0  # keys are not world-readable


def test_shard_probes_use_the_grpc_health_service_on_the_plaintext_health_port() -> None:
    # The data port is mTLS and the kubelet presents no client certificate.
    container = _find("StatefulSet", "qcl-shard")["spec"]["template"]["spec"]["containers"][0]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["grpc"]["port"] == 50052


def test_gpu_workloads_request_one_l4_with_the_cloud_run_shape() -> None:
    narrator = _find("Deployment", "qcl-narrator")["spec"]["template"]["spec"]
    assert narrator["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    limits = narrator["containers"][0]["resources"]["limits"]
    assert limits == {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}


def test_every_workload_runs_as_non_root_without_privilege_escalation() -> None:
    for ident, doc in DOCUMENTS:
        spec = doc.get("spec", {})
        pod = spec.get("jobTemplate", {}).get("spec", spec).get("template", {}).get("spec")
        if pod is None:
            continue
        assert pod["securityContext"]["runAsNonRoot"] is True, ident
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, ident


def test_only_the_narrator_and_the_pool_reach_the_shard_port() -> None:
    policy = _find("NetworkPolicy", "shard-from-narrator-and-pool")
    sources = {p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in policy["spec"]["ingress"][0]["from"]}
    assert sources == {"narrator", "shard"}
    assert _find("NetworkPolicy", "default-deny-ingress")["spec"]["podSelector"] == {}


def test_the_autoscaling_component_owns_the_replica_counts_it_scales() -> None:
    docs = render(ROOT / "deploy" / "k8s-prod")  # the overlay that uses the component
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert "replicas" not in deployments["qcl-api"]["spec"] and "replicas" not in deployments["qcl-narrator"]["spec"]
    (hpa,) = [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"]
    kubernetes_validate.validate(hpa, KUBERNETES_VERSION, strict=True)
    assert hpa["spec"]["scaleTargetRef"]["name"] == "qcl-api"


def test_the_narrator_scales_on_the_job_queue_with_the_local_autoscalers_policy() -> None:
    from qcl.compute.autoscale import ScalingPolicy
    from qcl.obs import metrics

    (scaled,) = [d for d in render(ROOT / "deploy" / "k8s-prod") if d["kind"] == "ScaledObject"]
    assert scaled["spec"]["scaleTargetRef"]["name"] == "qcl-narrator"
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["metadata"]["query"] == f"sum({metrics.JOBS_QUEUED._name})"  # a series the API exports
    behavior = scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    policy = ScalingPolicy()
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == policy.scale_down_after_s
    assert behavior["scaleDown"]["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 60}]  # one at a time
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 0  # up at once
    narrator = _find("Deployment", "qcl-narrator")["spec"]["template"]["spec"]
    assert narrator["terminationGracePeriodSeconds"] >= 60  # a leaving pod drains its jobs


CRDS = {"ScaledObject"}  # KEDA's: no schema in kubernetes-validate (its fields are checked above)


@pytest.mark.parametrize("overlay", ["k8s-dev", "k8s-prod", "k8s-aws"])
def test_each_overlay_renders_manifests_valid_against_the_kubernetes_schema(overlay: str) -> None:
    docs = render(ROOT / "deploy" / overlay)
    assert {d["kind"] for d in docs} >= {"Deployment", "StatefulSet", "Service", "NetworkPolicy", "PodDisruptionBudget"}
    for doc in docs:
        if doc["kind"] not in CRDS:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_production_serves_the_api_over_https_only_through_its_service() -> None:
    docs = render(ROOT / "deploy" / "k8s-prod")
    (ingress,) = [d for d in docs if d["kind"] == "Ingress"]
    (rule,) = ingress["spec"]["rules"]
    assert ingress["spec"]["tls"][0]["hosts"] == [rule["host"]]
    assert ingress["metadata"]["annotations"]["kubernetes.io/ingress.allow-http"] == "false"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    (service,) = [d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == backend["name"]]
    assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}


def test_development_runs_one_api_pod_and_scales_nothing() -> None:
    docs = render(ROOT / "deploy" / "k8s-dev")
    (api,) = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "qcl-api"]
    assert api["spec"]["replicas"] == 1
    assert not [d for d in docs if d["kind"] in ("HorizontalPodAutoscaler", "ScaledObject", "Ingress")]
    (budget,) = [d for d in docs if d["kind"] == "PodDisruptionBudget" and d["metadata"]["name"] == "qcl-api"]
    assert budget["spec"]["maxUnavailable"] == 1  # a drain still goes through with one pod

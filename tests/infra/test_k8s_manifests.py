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


# KEDA's and Istio's: no schema in kubernetes-validate (the fields used are checked in the tests above and below)
CRDS = {"ScaledObject", "AuthorizationPolicy", "PeerAuthentication"}


def _with_mesh(tmp_path: Path) -> Path:
    """An overlay of deploy/k8s with the mesh component, as operators write it (docs/deploy/kubernetes.md)."""
    base = Path(os.path.relpath(K8S, tmp_path))
    overlay = {"namespace": "qcl", "resources": [str(base)], "components": [str(base / "mesh")]}
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    return tmp_path


@pytest.mark.parametrize("overlay", ["k8s-dev", "k8s-prod", "k8s-aws", "mesh"])
def test_each_overlay_renders_manifests_valid_against_the_kubernetes_schema(overlay: str, tmp_path: Path) -> None:
    docs = render(_with_mesh(tmp_path) if overlay == "mesh" else ROOT / "deploy" / overlay)
    assert {d["kind"] for d in docs} >= {"Deployment", "StatefulSet", "Service", "NetworkPolicy", "PodDisruptionBudget"}
    for doc in docs:
        if doc["kind"] not in CRDS:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        # What an overlay or a component adds lands beside the rest: an autoscaler or a policy in another namespace
        # would find nothing to act on.
        assert doc["metadata"].get("namespace") == ("qcl" if doc["kind"] != "Namespace" else None), doc["metadata"]


def _pod_templates(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each workload's pod template by its kind/name."""
    templates = {}
    for doc in docs:
        spec = doc.get("spec", {})
        template = spec.get("jobTemplate", {}).get("spec", spec).get("template")
        if template is not None:
            templates[f"{doc['kind']}/{doc['metadata']['name']}"] = template
    return templates


def _admitted(docs: list[dict[str, Any]], kind: str) -> set[tuple[str, int, frozenset[str] | None]]:
    """(workload, port, the workloads that may call it there, None for anyone) that the policies of a kind allow."""
    app = "app.kubernetes.io/name"
    accounts = {t["spec"]["serviceAccountName"]: t["metadata"]["labels"][app] for t in _pod_templates(docs).values()}
    admitted = set()
    for policy in (d for d in docs if d["kind"] == kind):
        spec = policy["spec"]
        if kind == "NetworkPolicy":
            target = spec["podSelector"].get("matchLabels", {}).get(app)
            rules = [
                ([p["podSelector"]["matchLabels"][app] for p in rule["from"]] if "from" in rule else None,
                 [p["port"] for p in rule["ports"]])
                for rule in spec.get("ingress", [])
            ]  # fmt: skip
        else:
            target = spec.get("selector", {}).get("matchLabels", {}).get(app)
            rules = [
                ([accounts[p.rsplit("/", 1)[1]] for s in rule["from"] for p in s["source"]["principals"]]
                 if "from" in rule else None,
                 [int(p) for t in rule["to"] for p in t["operation"]["ports"]])
                for rule in spec.get("rules", [])
            ]  # fmt: skip
        for sources, ports in rules:
            admitted |= {(target, port, None if sources is None else frozenset(sources)) for port in ports}
    return admitted


def test_the_mesh_admits_by_identity_exactly_the_callers_the_network_policies_admit(tmp_path: Path) -> None:
    docs = render(_with_mesh(tmp_path))
    assert _admitted(docs, "AuthorizationPolicy") == _admitted(docs, "NetworkPolicy")
    assert ("shard", 50051, frozenset({"narrator", "shard"})) in _admitted(docs, "AuthorizationPolicy")
    (deny,) = [d for d in docs if d["kind"] == "AuthorizationPolicy" and not d["spec"]]  # allow nothing by default
    assert deny["metadata"]["name"] == "default-deny"


def test_the_mesh_takes_plaintext_only_on_the_port_the_load_balancer_reaches(tmp_path: Path) -> None:
    docs = render(_with_mesh(tmp_path))
    modes = {
        (d["spec"].get("selector", {}).get("matchLabels", {}).get("app.kubernetes.io/name"), port): level["mode"]
        for d in docs
        if d["kind"] == "PeerAuthentication"
        for port, level in [(None, d["spec"]["mtls"]), *d["spec"].get("portLevelMtls", {}).items()]
    }
    assert modes[(None, None)] == "STRICT"
    assert {key for key, mode in modes.items() if mode != "STRICT"} == {("api", "8080")}
    api = _pod_templates(docs)["Deployment/qcl-api"]["spec"]["containers"][0]
    assert {p["name"]: p["containerPort"] for p in api["ports"]}["http"] == 8080  # what the Service and ingress use


def test_every_mesh_pod_gets_a_native_sidecar_and_the_shard_tls_passes_through(tmp_path: Path) -> None:
    docs = render(_with_mesh(tmp_path))
    (namespace,) = [d for d in docs if d["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["istio-injection"] == "enabled"
    templates = _pod_templates(docs)
    assert len(templates) == len(_pod_templates([d for _, d in DOCUMENTS]))  # every workload, the ingest CronJob too
    for name, template in templates.items():
        # the proxy outlives the narrator's job drain and lets the ingest Job complete
        assert template["metadata"]["annotations"]["sidecar.istio.io/nativeSidecar"] == "true", name
    (shard,) = [d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "qcl-shard"]
    assert shard["spec"]["ports"][0]["appProtocol"] == "tcp"  # the pods' own mTLS, not gRPC the proxy could parse


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

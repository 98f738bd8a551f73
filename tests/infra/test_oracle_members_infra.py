"""Fault isolation of the oracle in production: one service (Cloud Run) or Deployment (GKE) per member, each
holding only its own key. The Terraform names and grants per member are evaluated by `terraform test` in
infra/modules/naming (scripts/infra-checks.sh); these tests read the root module and deploy/k8s.

    .venv/bin/pytest tests/infra/test_oracle_members_infra.py
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from tests.infra import hcl
from tests.infra.hcl import INFRA, ROOT

K8S = ROOT / "deploy" / "k8s"


def _member_module() -> dict[str, Any]:
    return hcl.module_calls(INFRA / "oracle.tf")["oracle_member"]


def test_each_member_is_its_own_cloud_run_service_of_exactly_one_instance() -> None:
    member = _member_module()
    assert "module.naming.oracle_members" in json.dumps(hcl.locals_of(INFRA / "oracle.tf")["oracle_members"])
    assert member["for_each"] == "${local.oracle_members}"
    assert member["min_instances"] == 1 and member["max_instances"] == 1  # one identity, one process
    assert member["cpu_always_allocated"] is True  # it pulls oracle-protocol.oracle-<i> between requests
    assert member["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY" and member["invokers"] == []
    assert member["service_account_email"] == "${google_service_account.component[each.key].email}"
    assert "QCL_ORACLE_MEMBER = tostring(each.value.index)" in member["env"]


def test_a_member_service_is_given_its_own_key_and_no_other() -> None:
    secret_env = _member_module()["secret_env"]
    keys = re.findall(r'"(QCL_ORACLE_NODE_KEY_[^"]*)"\s*=\s*([^\n,}]+)', secret_env)
    assert keys == [
        (
            "QCL_ORACLE_NODE_KEY_${each.value.index}",
            "google_secret_manager_secret.this[each.value.key_secret].secret_id",
        )
    ]


def test_no_service_hosts_the_whole_committee_any_more() -> None:
    assert "oracle" not in hcl.locals_of(INFRA / "services.tf")["cloud_run"]
    assert not [v for _, n, v in hcl.variables() if n in ("oracle_min_instances", "oracle_max_instances")]


def test_only_member_i_may_read_member_i_key_secret() -> None:
    readers = hcl.locals_of(INFRA / "iam.tf")["secret_readers"]
    own_key_only = (
        '{for m, member in module.naming.oracle_members : "${member.key_secret}/${m}" => '
        "{secret = google_secret_manager_secret.this[member.key_secret].id, component = m}}"
    )  # member m reads the key secret of member m, and that grant is the only one on a key secret
    assert readers.count("key_secret].id") == 1 and own_key_only in readers
    assert "oracle_node_key" not in readers and '"oracle"' not in readers  # no shared oracle identity


def test_terraform_state_holds_no_member_key() -> None:
    # Generated keys would sit in the state: whoever reads it could sign as every member.
    assert not [r for r in hcl.resources("random_bytes") if "oracle" in r.name]
    versions = [r for r in hcl.resources("google_secret_manager_secret_version") if "oracle" in r.name]
    assert [r.name for r in versions] == ["oracle_committee"]  # public keys only
    assert "file(var.oracle_committee_file)" in versions[0].body["secret_data"]


def test_the_pipeline_rolls_members_one_at_a_time_without_a_traffic_split() -> None:
    steps = {s["id"]: s for s in yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())["steps"]}
    assert "infra/scripts/oracle-roll.sh" in steps["rollout-oracle"]["args"][-1]
    script = (INFRA / "scripts" / "oracle-roll.sh").read_text()
    assert "--no-traffic" not in script and "--tag" not in script and "for service in $members" in script


# -- GKE: deploy/k8s/oracle.yaml ---------------------------------------------------------------------------------


def _docs(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((K8S / name).read_text()))


def _members() -> list[dict[str, Any]]:
    return [d for d in _docs("oracle.yaml") if d["kind"] == "Deployment"]


def _pod(deployment: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


def _secrets_named(pod: dict[str, Any]) -> set[str]:
    """Every Secret a pod can read: volumes, env references and envFrom."""
    text = json.dumps(pod)
    refs = [json.loads(m) for m in re.findall(r'"secretKeyRef": (\{[^}]*\})', text)]
    refs += [json.loads(m) for m in re.findall(r'"secretRef": (\{[^}]*\})', text)]
    return set(re.findall(r'"secretName": "([^"]+)"', text)) | {ref["name"] for ref in refs}


def test_the_committee_is_n_members_each_its_own_single_pod_deployment() -> None:
    members = _members()
    assert [d["metadata"]["name"] for d in members] == [f"qcl-oracle-{i}" for i in range(4)]
    assert all(d["spec"]["replicas"] == 1 and d["spec"]["strategy"]["type"] == "Recreate" for d in members)


def test_each_member_pod_reads_only_its_own_key_secret() -> None:
    for index, deployment in enumerate(_members()):
        pod = _pod(deployment)
        keys = {s for s in _secrets_named(pod) if s.startswith("qcl-oracle-key")}
        assert keys == {f"qcl-oracle-key-{index}"}, deployment["metadata"]["name"]
        env = {e["name"]: e for e in pod["containers"][0]["env"]}
        assert env["QCL_ORACLE_MEMBER"]["value"] == str(index)
        assert [n for n in env if n.startswith("QCL_ORACLE_NODE_KEY_")] == [f"QCL_ORACLE_NODE_KEY_{index}"]
        assert pod["serviceAccountName"] == f"qcl-oracle-{index}"


def test_members_differ_only_in_their_index() -> None:
    def normal(index: int, deployment: dict[str, Any]) -> str:
        text = json.dumps(deployment).replace(f'"value": "{index}"', '"value": "<i>"')
        return re.sub(rf"(oracle-|key-|KEY_){index}\b", r"\1<i>", text)

    shapes = {normal(i, d) for i, d in enumerate(_members())}
    assert len(shapes) == 1


def test_the_disruption_budget_allows_at_most_f_members_down() -> None:
    [budget] = [d for d in _docs("oracle.yaml") if d["kind"] == "PodDisruptionBudget"]
    n = len(_members())
    assert budget["spec"]["maxUnavailable"] == (n - 1) // 3 == 1
    assert budget["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "oracle"}


def test_no_two_members_share_a_node() -> None:
    for deployment in _members():
        [term] = _pod(deployment)["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert term["labelSelector"]["matchLabels"] == {"app.kubernetes.io/name": "oracle"}


def test_only_members_and_the_api_reach_the_oracle_port() -> None:
    [policy] = [d for d in _docs("networkpolicy.yaml") if d["metadata"]["name"] == "oracle-from-members-and-api"]
    [rule] = policy["spec"]["ingress"]
    sources = sorted(s["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for s in rule["from"])
    assert sources == ["api", "oracle"] and rule["ports"] == [{"protocol": "TCP", "port": 8080}]


def test_every_member_service_account_exists_and_maps_to_its_own_google_identity() -> None:
    accounts = {d["metadata"]["name"]: d for d in _docs("serviceaccounts.yaml")}
    assert "qcl-oracle" not in accounts
    for index in range(len(_members())):
        annotation = accounts[f"qcl-oracle-{index}"]["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
        assert annotation.startswith(f"qcl-oracle-{index}@")

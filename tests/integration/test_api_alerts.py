"""/api/ops/alerts and /api/ops/silences: Alertmanager's webhook in (roles, malformed bodies refused with the
field named), the active alerts and their history out, and silences on a real Alertmanager for rules a real
Prometheus has (a silence for a rule that does not exist is refused)."""

from __future__ import annotations

import base64
import json
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from qcl.api.schemas import Role
from qcl.obs.monitor import OpsMonitor, OpsUnavailableError
from tests.integration.test_alerts import START
from tests.integration.test_api_fixtures import Api, make_api


def alert_body(status: str = "firing", fingerprint: str = "f00d") -> dict[str, Any]:
    return {
        "version": "4",
        "status": status,
        "receiver": "qcl-api",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "QclNodeDown", "severity": "page", "role": "shard"},
                "annotations": {"summary": "1 shard node(s) down", "runbook_url": "docs/runbooks/QclNodeDown.md"},
                "startsAt": START.isoformat(),
                "endsAt": START.isoformat(),
                "fingerprint": fingerprint,
            }
        ],
    }


@pytest.fixture
def api(tmp_path: Path) -> Api:
    return make_api(tmp_path)


def test_the_webhook_needs_an_operator_and_a_repeat_changes_nothing(api: Api) -> None:
    post = api.client.post
    assert post("/api/ops/alerts", json=alert_body()).status_code == 401
    assert post("/api/ops/alerts", json=alert_body(), headers=api.headers(Role.VIEWER)).status_code == 403
    first = post("/api/ops/alerts", json=alert_body(), headers=api.headers(Role.OPERATOR)).get_json()
    assert [r["alertname"] for r in first["changed"]] == ["QclNodeDown"]
    again = post("/api/ops/alerts", json=alert_body(), headers=api.headers(Role.OPERATOR)).get_json()
    assert again["changed"] == []

    shown = api.client.get("/api/ops/alerts", headers=api.headers(Role.VIEWER)).get_json()
    assert [(r["alertname"], r["status"]) for r in shown["active"]] == [("QclNodeDown", "firing")]
    post("/api/ops/alerts", json=alert_body("resolved"), headers=api.headers(Role.OPERATOR))
    shown = api.client.get("/api/ops/alerts?limit=10", headers=api.headers(Role.VIEWER)).get_json()
    assert shown["active"] == []
    assert [r["status"] for r in shown["history"]] == ["resolved", "firing"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.update(version="3"), "version"),
        (lambda b: b.update(alerts=[]), "alerts"),
        (lambda b: b["alerts"][0].update(status="pending"), "alerts.0.status"),
        (lambda b: b["alerts"][0].update(startsAt="yesterday"), "alerts.0.startsAt"),
        (lambda b: b["alerts"][0].update(startsAt="2025-11-08T12:00:00"), "alerts.0.startsAt"),  # no zone
        (lambda b: b["alerts"][0].update(endsAt="2025-11-08T12:05:00"), "alerts.0.endsAt"),
        (lambda b: b["alerts"][0].update(fingerprint="../../etc"), "alerts.0.fingerprint"),
        (lambda b: b["alerts"][0].pop("labels"), "alerts.0.labels"),
    ],
)
def test_a_malformed_webhook_body_is_refused_naming_the_field_and_records_nothing(
    api: Api, change: Any, field: str
) -> None:
    body = alert_body()
    change(body)
    answer = api.client.post("/api/ops/alerts", json=body, headers=api.headers(Role.OPERATOR))
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["error"]["field"] == field
    assert api.client.get("/api/ops/alerts", headers=api.headers(Role.VIEWER)).get_json()["history"] == []


def test_silences_answer_503_when_no_alertmanager_is_configured(api: Api) -> None:
    answer = api.client.get("/api/ops/silences", headers=api.headers(Role.VIEWER))
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "alerting_unavailable"


def test_silences_live_in_alertmanager_for_rules_prometheus_has(tmp_path: Path, ops_monitor: OpsMonitor) -> None:
    api = make_api(tmp_path, alertmanager_url=ops_monitor.alertmanager_url, prometheus_url=ops_monitor.prometheus_url)
    ask = {"alertname": "QclNodeDown", "duration_s": 600, "comment": "draining shard-1", "matchers": {"role": "shard"}}
    assert api.client.post("/api/ops/silences", json=ask, headers=api.headers(Role.VIEWER)).status_code == 403
    created = api.client.post("/api/ops/silences", json=ask, headers=api.headers(Role.OPERATOR))
    assert created.status_code == 201
    silence_id = created.get_json()["id"]

    listed = api.client.get("/api/ops/silences", headers=api.headers(Role.VIEWER)).get_json()["silences"]
    [mine] = [s for s in listed if s["id"] == silence_id]
    assert mine["matchers"] == {"alertname": "QclNodeDown", "role": "shard"}
    assert (mine["state"], mine["comment"]) == ("active", "draining shard-1")
    assert mine["created_by"] == f"key:{api.services.keys.verify(api.keys[Role.OPERATOR]).id}"  # type: ignore[union-attr]

    expired = api.client.delete(f"/api/ops/silences/{silence_id}", headers=api.headers(Role.OPERATOR))
    assert expired.status_code == 200
    listed = api.client.get("/api/ops/silences", headers=api.headers(Role.VIEWER)).get_json()["silences"]
    assert [s["state"] for s in listed if s["id"] == silence_id] == ["expired"]


def test_a_silence_for_a_rule_that_does_not_exist_is_refused(tmp_path: Path, ops_monitor: OpsMonitor) -> None:
    api = make_api(tmp_path, alertmanager_url=ops_monitor.alertmanager_url, prometheus_url=ops_monitor.prometheus_url)
    ask = {"alertname": "QclNodeDwn", "duration_s": 600, "comment": "typo"}
    answer = api.client.post("/api/ops/silences", json=ask, headers=api.headers(Role.OPERATOR))
    assert answer.status_code == 422
    assert answer.get_json()["error"]["code"] == "unknown_rule"
    assert "QclNodeDown" in answer.get_json()["error"]["message"]  # the rules there are
    gone = api.client.delete(
        "/api/ops/silences/00000000-0000-0000-0000-000000000000", headers=api.headers(Role.OPERATOR)
    )
    assert gone.status_code == 404
    too_short = {**ask, "alertname": "QclNodeDown", "duration_s": 5}
    answer = api.client.post("/api/ops/silences", json=too_short, headers=api.headers(Role.OPERATOR))
    assert (answer.status_code, answer.get_json()["error"]["field"]) == (422, "duration_s")


def incident_push(state: str = "open", **incident: Any) -> dict[str, Any]:
    """Pub/Sub's push body carrying Cloud Monitoring's incident notification (schema 1.2), as the policies in
    infra/modules/monitoring send it."""
    notification = {
        "version": "1.2",
        "incident": {
            "incident_id": "0.nk2x4yq0a1c8",
            "scoping_project_id": "qcl-prod",
            "url": "https://console.cloud.google.com/monitoring/alerting/incidents/0.nk2x4yq0a1c8",
            "state": state,
            "started_at": int(START.timestamp()),
            "ended_at": int(START.timestamp()) + 300 if state == "closed" else None,
            "summary": "The API stopped answering its health path",
            "policy_name": "QclTargetDown",
            "policy_user_labels": {"severity": "page"},
            "documentation": {"content": "Runbook: `docs/runbooks/QclTargetDown.md`.", "mime_type": "text/markdown"},
            "severity": "Critical",
            **incident,
        },
    }
    data = base64.b64encode(json.dumps(notification).encode()).decode()
    return {"message": {"data": data, "messageId": "17"}, "subscription": "projects/qcl-prod/subscriptions/incidents"}


def test_a_cloud_monitoring_incident_opens_and_closes_one_alert(api: Api) -> None:
    post = api.client.post
    operator = api.headers(Role.OPERATOR)
    assert post("/api/ops/alerts/gcp", json=incident_push(), headers=api.headers(Role.VIEWER)).status_code == 403
    opened = post("/api/ops/alerts/gcp", json=incident_push(), headers=operator).get_json()["changed"]
    assert [(r["alertname"], r["severity"], r["status"]) for r in opened] == [("QclTargetDown", "page", "firing")]
    assert opened[0]["runbook_url"] == "docs/runbooks/QclTargetDown.md"
    assert opened[0]["labels"]["source"] == "cloud-monitoring"
    assert post("/api/ops/alerts/gcp", json=incident_push(), headers=operator).get_json()["changed"] == []  # redelivery

    active = api.client.get("/api/ops/alerts", headers=api.headers(Role.VIEWER)).get_json()["active"]
    assert [r["alertname"] for r in active] == ["QclTargetDown"]
    closed = post("/api/ops/alerts/gcp", json=incident_push("closed"), headers=operator).get_json()["changed"]
    ended = (START + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    assert [(r["status"], r["ends_at"]) for r in closed] == [("resolved", ended)]
    shown = api.client.get("/api/ops/alerts", headers=api.headers(Role.VIEWER)).get_json()
    assert shown["active"] == [] and [r["status"] for r in shown["history"]] == ["resolved", "firing"]


def test_a_linked_runbook_is_the_incidents_and_a_policy_without_severity_reads_none(api: Api) -> None:
    links = {"content": "", "links": [{"display_name": "Runbook", "url": "https://docs.example/QclTargetDown/"}]}
    push = incident_push(documentation=links, policy_user_labels={})
    (record,) = api.client.post("/api/ops/alerts/gcp", json=push, headers=api.headers(Role.OPERATOR)).get_json()[
        "changed"
    ]
    assert (record["runbook_url"], record["severity"]) == ("https://docs.example/QclTargetDown/", "none")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"message": {"data": "not base64!"}}, "message.data"),
        ({"subscription": "s"}, "message"),
        ({"message": {"data": base64.b64encode(b"[1, 2]").decode()}}, "not a Cloud Monitoring incident"),
        (incident_push(state="acknowledged"), "incident.state"),
        (incident_push(started_at="yesterday"), "incident.started_at"),
    ],
)
def test_a_push_that_is_not_an_incident_is_refused_naming_why_and_records_nothing(
    api: Api, body: dict[str, Any], says: str
) -> None:
    answer = api.client.post("/api/ops/alerts/gcp", json=body, headers=api.headers(Role.OPERATOR))
    assert answer.status_code == 422, answer.get_json()
    error = answer.get_json()["error"]
    assert says in f"{error.get('field')} {error['message']}"
    assert api.client.get("/api/ops/alerts", headers=api.headers(Role.VIEWER)).get_json()["history"] == []


def test_a_monitor_whose_port_is_taken_says_which_program_exited_and_why(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        root = Path(__file__).resolve().parents[2]
        (tmp_path / "key").write_text("unused\n")
        ops = OpsMonitor(
            tmp_path,
            rules=root / "ops/prometheus/alerts.yml",
            routes=root / "ops/alertmanager/alertmanager.yml",
            key_file=tmp_path / "key",
            prometheus_port=taken.getsockname()[1],
        )
        with pytest.raises(OpsUnavailableError, match=r"prometheus exited with code 1 before .*address already in use"):
            ops.start("http://127.0.0.1:9", {})
    assert not ops._processes  # Alertmanager, which started, was stopped too

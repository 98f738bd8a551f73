"""Cloud Monitoring's incidents, read as the alerts the API keeps (qcl.obs.alerts), so GCP's alerts reach the same
history, dashboard and channels as Alertmanager's locally.

Cloud Monitoring publishes each incident's opening and closing (notification schema 1.2) to the Pub/Sub channel's
topic; a push subscription delivers them to `POST /api/ops/alerts/gcp` with a Google ID token (qcl.api.oidc):

    push = IncidentPush.model_validate(body)             # {"message": {"data": base64(JSON), ...}, "subscription": ...}
    webhook = as_alertmanager(push.notification())       # one alert: the policy's name, severity, runbook, state
    book.receive(webhook)

The policies (infra/modules/monitoring) carry the Prometheus rule's name and `severity` as user labels and link the
runbook in their documentation, so an incident and the local alert of the same rule read alike.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import Base64Bytes, BaseModel, ConfigDict, Field, ValidationError

from qcl.obs.alerts import AlertmanagerAlert, AlertmanagerWebhook

_RUNBOOK_PATH = re.compile(r"docs/runbooks/[A-Za-z0-9_-]+\.md")


class IncidentLink(BaseModel):
    model_config = ConfigDict(extra="ignore")

    display_name: str = ""
    url: str


class IncidentDocumentation(BaseModel):
    model_config = ConfigDict(extra="ignore")

    content: str = ""
    subject: str = ""
    links: list[IncidentLink] = Field(default_factory=list)


class Incident(BaseModel):
    """The fields of Cloud Monitoring's incident the API reads (it sends more; they are ignored)."""

    model_config = ConfigDict(extra="ignore")

    incident_id: str = Field(min_length=1, max_length=256)
    policy_name: str = Field(min_length=1, max_length=512)
    state: Literal["open", "closed"]
    started_at: int = Field(ge=0)  # unix seconds
    ended_at: int | None = Field(default=None, ge=0)
    summary: str = ""
    url: str = ""
    policy_user_labels: dict[str, str] = Field(default_factory=dict)
    documentation: IncidentDocumentation | None = None


class IncidentNotification(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: Literal["1.2"]
    incident: Incident


class PushMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Base64Bytes
    message_id: str = Field(default="", alias="messageId")


class IncidentPush(BaseModel):
    """Pub/Sub's push request body (https://cloud.google.com/pubsub/docs/push#receive_push)."""

    model_config = ConfigDict(extra="ignore")

    message: PushMessage
    subscription: str = ""

    def notification(self) -> IncidentNotification:
        """The incident the message carries; ValueError naming what is wrong with it."""
        try:
            return IncidentNotification.model_validate_json(self.message.data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or 'data'}: {error['msg']}" for error in exc.errors()
            )
            raise ValueError(f"message.data is not a Cloud Monitoring incident (schema 1.2): {problems}") from None


def as_alertmanager(notification: IncidentNotification) -> AlertmanagerWebhook:
    """The incident as a one-alert Alertmanager webhook: the alert name is the policy's, its severity the policy's
    `severity` label, and the fingerprint stands for the incident (its opening and closing are one alert)."""
    incident = notification.incident
    status: Literal["firing", "resolved"] = "firing" if incident.state == "open" else "resolved"
    labels = {
        **incident.policy_user_labels,
        "alertname": incident.policy_name,
        "severity": incident.policy_user_labels.get("severity", "none"),
        "source": "cloud-monitoring",
    }
    annotations = {"summary": incident.summary or incident.policy_name}
    runbook = _runbook(incident.documentation)
    if runbook:
        annotations["runbook_url"] = runbook
    ended = incident.ended_at if status == "resolved" else None
    alert = AlertmanagerAlert(
        status=status,
        labels=labels,
        annotations=annotations,
        startsAt=datetime.fromtimestamp(incident.started_at, UTC),
        endsAt=datetime.fromtimestamp(ended, UTC) if ended is not None else None,
        generatorURL=incident.url,
        fingerprint=hashlib.sha256(incident.incident_id.encode()).hexdigest()[:32],
    )
    return AlertmanagerWebhook(version="4", status=status, receiver="cloud-monitoring", alerts=[alert])


def _runbook(documentation: IncidentDocumentation | None) -> str | None:
    """The runbook the policy links (the docs site), else the repository path its text names."""
    if documentation is None:
        return None
    if documentation.links:
        return documentation.links[0].url
    found = _RUNBOOK_PATH.search(documentation.content)
    return found.group(0) if found else None

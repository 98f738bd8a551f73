"""Alerts that reach people: Alertmanager's webhook in, a history and the active set in the store, channels out.

    book = AlertBook(store, channels=[Channel(kind="slack", url=..., severities=["page"])], findings=latest)
    new = book.receive(AlertmanagerWebhook.model_validate_json(body))  # the transitions not seen before

Alertmanager sends a group's whole state on every notification (and again every repeat interval); the book keeps
one record per alert (its fingerprint) and acts only on transitions: an alert that starts firing, or resolves, is
recorded in the history and forwarded to every channel of its severity once, however often Alertmanager repeats
it. A record carries the runbook and the network findings of the same time (an alert about a stalled pipeline
next to a `tick_stall` finding says whether the network or the stack stopped).

Channels: a generic webhook (the record as JSON), a Slack-compatible incoming webhook ({"text": ...}), email over
SMTP, and a Pub/Sub topic of the operator's. A channel that fails is recorded on the record (`deliveries`) and
logged; the others still get the alert.
"""

from __future__ import annotations

import json
import logging
import smtplib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from qcl.obs.channels import Channel
from qcl.store.keys import ALERT, ALERT_SEEN, ALERTS_ACTIVE, ALERTS_HISTORY

if TYPE_CHECKING:
    from qcl.store.base import Store

log = logging.getLogger(__name__)

HISTORY_MAX = 2_000
SEEN_TTL_S = 14 * 24 * 3600.0
CORRELATION_WINDOW = timedelta(minutes=10)  # findings this close to an alert's start are "of the same time"
SEND_TIMEOUT_S = 5.0


class AlertmanagerAlert(BaseModel):
    """One alert of Alertmanager's webhook payload (version 4)."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    # Alertmanager's field names; RFC 3339 with a zone, as it sends them (a time without one cannot be correlated
    # with findings, which are in UTC: refused, 422, not guessed).
    startsAt: AwareDatetime
    endsAt: AwareDatetime | None = None
    generatorURL: str = ""
    fingerprint: str = Field(min_length=1, max_length=64, pattern=r"^[0-9a-zA-Z]+$")


class AlertmanagerWebhook(BaseModel):
    """Alertmanager's webhook body (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config)."""

    model_config = ConfigDict(extra="ignore")

    version: Literal["4"]
    status: Literal["firing", "resolved"]
    receiver: str
    groupKey: str = ""
    alerts: list[AlertmanagerAlert] = Field(min_length=1, max_length=1000)


class FindingRef(BaseModel):
    code: str
    severity: str
    message_en: str
    observed_at: datetime


class Delivery(BaseModel):
    channel: str
    ok: bool
    error: str | None = None


class AlertRecord(BaseModel):
    """An alert as the API keeps it: the current state and what happened when it last changed."""

    fingerprint: str
    alertname: str
    status: Literal["firing", "resolved"]
    severity: str
    summary: str
    runbook_url: str | None
    labels: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    received_at: datetime
    findings: list[FindingRef] = Field(default_factory=list)  # analysis findings of the same time
    deliveries: list[Delivery] = Field(default_factory=list)


FindingsSource = Callable[[], Sequence[Any]]  # the latest analysis's findings (qcl.analysis.report.Finding)


class AlertBook:
    def __init__(
        self,
        store: Store,
        *,
        channels: Sequence[Channel] = (),
        findings: FindingsSource = lambda: (),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.channels = list(channels)
        self.findings = findings
        self.now = now

    def receive(self, webhook: AlertmanagerWebhook) -> list[AlertRecord]:
        """Record and forward the alerts whose state changed; returns those (repeats return nothing)."""
        changed = []
        for alert in webhook.alerts:
            # One transition per (alert, start, state): a repeat or a second API instance sees it already taken.
            seen = ALERT_SEEN.key(
                fingerprint=alert.fingerprint, starts_at=alert.startsAt.isoformat(), status=alert.status
            )
            if not self.store.put_if_absent(seen, "1", ttl_s=SEEN_TTL_S):
                continue
            record = self._record(alert)
            record.deliveries = [self._deliver(channel, record) for channel in self._channels_for(record)]
            self._keep(record)
            changed.append(record)
        return changed

    def active(self) -> list[AlertRecord]:
        records = (
            self.store.get(ALERT.key(fingerprint=fp)) for fp in reversed(self.store.window_range(ALERTS_ACTIVE.key()))
        )
        return [AlertRecord.model_validate_json(raw) for raw in records if raw]

    def history(self, limit: int = 100) -> list[AlertRecord]:
        return [AlertRecord.model_validate_json(raw) for raw in self.store.list_range(ALERTS_HISTORY.key(), limit)]

    def _record(self, alert: AlertmanagerAlert) -> AlertRecord:
        ends = alert.endsAt if alert.status == "resolved" else None
        return AlertRecord(
            fingerprint=alert.fingerprint,
            alertname=alert.labels.get("alertname", "unnamed"),
            status=alert.status,
            severity=alert.labels.get("severity", "none"),
            summary=alert.annotations.get("summary", ""),
            runbook_url=alert.annotations.get("runbook_url"),
            labels=alert.labels,
            starts_at=alert.startsAt,
            ends_at=ends,
            received_at=self.now(),
            findings=self._findings_near(alert.startsAt),
        )

    def _findings_near(self, at: datetime) -> list[FindingRef]:
        return [
            FindingRef(code=str(f.code), severity=f.severity, message_en=f.message_en, observed_at=f.observed_at)
            for f in self.findings()
            if f.severity != "info" and abs(f.observed_at - at) <= CORRELATION_WINDOW
        ]

    def _keep(self, record: AlertRecord) -> None:
        self.store.put(ALERT.key(fingerprint=record.fingerprint), record.model_dump_json(), ttl_s=SEEN_TTL_S)
        if record.status == "firing":
            self.store.window_add(ALERTS_ACTIVE.key(), record.starts_at.timestamp(), record.fingerprint)
        else:
            self.store.window_remove(ALERTS_ACTIVE.key(), record.fingerprint)
        self.store.list_push(ALERTS_HISTORY.key(), record.model_dump_json(), max_len=HISTORY_MAX)

    def _channels_for(self, record: AlertRecord) -> list[Channel]:
        return [channel for channel in self.channels if record.severity in channel.severities]

    def _deliver(self, channel: Channel, record: AlertRecord) -> Delivery:
        try:
            SENDERS[channel.kind](channel, record)
        except Exception as exc:  # a channel that fails must not stop the others
            log.warning("alerts: %s could not be delivered to %s: %s", record.alertname, channel.name, exc)
            return Delivery(channel=channel.name, ok=False, error=f"{type(exc).__name__}: {exc}"[:300])
        return Delivery(channel=channel.name, ok=True)


def headline(record: AlertRecord) -> str:
    state = "RESOLVED" if record.status == "resolved" else "FIRING"
    runbook = f" — runbook: {record.runbook_url}" if record.runbook_url else ""
    return f"[{state}] [{record.severity}] {record.alertname}: {record.summary}{runbook}"


def _send_webhook(channel: Channel, record: AlertRecord) -> None:
    httpx.post(channel.target, json=record.model_dump(mode="json"), timeout=SEND_TIMEOUT_S).raise_for_status()


def _send_slack(channel: Channel, record: AlertRecord) -> None:
    text = headline(record)
    if record.findings:
        text += "\nFindings of the same time: " + "; ".join(f"{f.code} ({f.severity})" for f in record.findings)
    httpx.post(channel.target, json={"text": text}, timeout=SEND_TIMEOUT_S).raise_for_status()


def _send_email(channel: Channel, record: AlertRecord) -> None:
    url = httpx.URL(channel.target)
    if url.scheme != "smtp" or not url.host or not url.path.strip("/"):
        raise ValueError("an email channel's target is smtp://host:port/recipient[,recipient]")
    message = EmailMessage()
    message["Subject"] = headline(record)[:200]
    message["From"] = channel.sender
    message["To"] = url.path.strip("/")
    message.set_content(json.dumps(record.model_dump(mode="json"), indent=2, ensure_ascii=False))
    with smtplib.SMTP(url.host, url.port or 25, timeout=SEND_TIMEOUT_S) as smtp:
        smtp.send_message(message)


def _send_pubsub(channel: Channel, record: AlertRecord) -> None:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]  # a namespace package

    publisher = pubsub_v1.PublisherClient()
    try:
        publisher.publish(
            channel.target, record.model_dump_json().encode(), alertname=record.alertname, status=record.status
        ).result(timeout=SEND_TIMEOUT_S)
    finally:
        publisher.stop()


SENDERS: dict[str, Callable[[Channel, AlertRecord], None]] = {
    "webhook": _send_webhook,
    "slack": _send_slack,
    "email": _send_email,
    "pubsub": _send_pubsub,
}

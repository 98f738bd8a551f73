"""The alert book: Alertmanager's repeated notifications become one record and one delivery per transition, on
every channel of the alert's severity, with the analysis findings of the same time; a failing channel is recorded
and does not stop the others. Channels are real: an HTTP inbox, an SMTP server, the Pub/Sub emulator."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from qcl.analysis.report import Finding, FindingCode
from qcl.bus.emulator import PubSubEmulator
from qcl.obs.alerts import AlertBook, AlertmanagerWebhook, Channel
from qcl.store import Store
from tests.receivers import http_inbox, smtp_server

START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def webhook(status: str = "firing", *, name: str = "QclTargetDown", severity: str = "page", fp: str = "a1") -> Any:
    alert = {
        "status": status,
        "labels": {"alertname": name, "severity": severity, "job": "qcl-shard", "instance": "127.0.0.1:9101"},
        "annotations": {"summary": "qcl-shard is down", "runbook_url": f"docs/runbooks/{name}.md"},
        "startsAt": START.isoformat(),
        "endsAt": (START + timedelta(minutes=3)).isoformat() if status == "resolved" else "0001-01-01T00:00:00Z",
        "fingerprint": fp,
    }
    return AlertmanagerWebhook.model_validate(
        {"version": "4", "status": status, "receiver": "qcl-api", "groupKey": "{}", "alerts": [alert]}
    )


def finding(code: FindingCode, severity: str, at: datetime) -> Finding:
    return Finding(
        code=code,
        severity=severity,  # type: ignore[arg-type]
        observed_at=at,
        tick=1,
        metric="tick_info.duration_s",
        value=900.0,
        threshold=60.0,
        message_en=f"{code} seen",
        message_zh="…",
    )


def test_a_repeated_notification_is_recorded_and_delivered_once(store: Store) -> None:
    with http_inbox() as inbox:
        book = AlertBook(store, channels=[Channel(kind="webhook", target=inbox.url)])
        first = book.receive(webhook())
        assert [r.status for r in first] == ["firing"]
        assert book.receive(webhook()) == []  # Alertmanager's repeat: nothing new
        assert [r.alertname for r in book.active()] == ["QclTargetDown"]

        resolved = book.receive(webhook("resolved"))
        assert [r.status for r in resolved] == ["resolved"] and resolved[0].ends_at is not None
        assert book.receive(webhook("resolved")) == []
        assert book.active() == []
        assert [r.status for r in book.history()] == ["resolved", "firing"]  # newest first
        bodies = inbox.wait_for(2, timeout_s=5)
    assert [(b["alertname"], b["status"]) for b in bodies] == [
        ("QclTargetDown", "firing"),
        ("QclTargetDown", "resolved"),
    ]
    assert bodies[0]["runbook_url"] == "docs/runbooks/QclTargetDown.md"


def test_an_alert_that_fires_again_later_is_a_new_transition(store: Store) -> None:
    book = AlertBook(store)
    book.receive(webhook())
    book.receive(webhook("resolved"))
    again = webhook()
    again.alerts[0].startsAt = START + timedelta(hours=1)
    assert [r.status for r in book.receive(again)] == ["firing"]


def test_channels_get_only_their_severities_and_a_failing_one_does_not_stop_the_others(store: Store) -> None:
    with http_inbox() as pages, http_inbox() as tickets, http_inbox() as broken:
        broken.status = 500
        channels = [
            Channel(kind="webhook", target=broken.url, severities=("page",)),
            Channel(kind="slack", target=pages.url, severities=("page",)),
            Channel(kind="slack", target=tickets.url, severities=("ticket",)),
        ]
        book = AlertBook(store, channels=channels)
        [record] = book.receive(webhook())
        assert [(d.channel.split(":")[0], d.ok) for d in record.deliveries] == [("webhook", False), ("slack", True)]
        assert "500" in (record.deliveries[0].error or "")
        [slack] = pages.wait_for(1, timeout_s=5)
        assert tickets.bodies == []
    assert slack["text"].startswith("[FIRING] [page] QclTargetDown: qcl-shard is down — runbook: docs/runbooks/")
    assert book.history()[0].deliveries == record.deliveries  # kept with the record


def test_the_findings_of_the_same_time_travel_with_the_alert(store: Store) -> None:
    findings = [
        finding(FindingCode.TICK_STALL, "critical", START + timedelta(minutes=2)),
        finding(FindingCode.PRICE_TREND, "info", START),  # info: not a cause
        finding(FindingCode.EMPTY_TICKS_HIGH, "warning", START - timedelta(hours=2)),  # too long before
    ]
    with http_inbox() as inbox:
        book = AlertBook(store, channels=[Channel(kind="slack", target=inbox.url)], findings=lambda: findings)
        [record] = book.receive(webhook(name="QclPipelineStalled"))
        [slack] = inbox.wait_for(1, timeout_s=5)
    assert [f.code for f in record.findings] == ["tick_stall"]
    assert slack["text"].endswith("Findings of the same time: tick_stall (critical)")


def test_email_goes_through_a_real_smtp_server(store: Store) -> None:
    with smtp_server() as (address, messages):
        channel = Channel(kind="email", target=f"smtp://{address}/oncall@example.com", sender="qcl@example.com")
        [record] = AlertBook(store, channels=[channel]).receive(webhook())
        assert record.deliveries[0].ok, record.deliveries
    [message] = messages
    assert message["To"] == "oncall@example.com" and message["From"] == "qcl@example.com"
    assert message["Subject"].startswith("[FIRING] [page] QclTargetDown")
    assert json.loads(message.get_payload())["fingerprint"] == "a1"


def test_an_email_channel_without_a_recipient_is_a_failed_delivery_saying_why(store: Store) -> None:
    [record] = AlertBook(store, channels=[Channel(kind="email", target="smtp://127.0.0.1:25")]).receive(webhook())
    assert not record.deliveries[0].ok
    assert "smtp://host:port/recipient" in (record.deliveries[0].error or "")


@pytest.mark.emulator
def test_pubsub_channel_publishes_the_record(store: Store, pubsub_emulator: PubSubEmulator) -> None:
    os.environ.update(pubsub_emulator.env)  # the client libraries find the emulator there
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic, subscription = "projects/qcl-test/topics/ops-alerts", "projects/qcl-test/subscriptions/ops-alerts.test"
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=subscription, topic=topic)
    try:
        [record] = AlertBook(store, channels=[Channel(kind="pubsub", target=topic)]).receive(webhook())
        assert record.deliveries[0].ok, record.deliveries
        [received] = subscriber.pull(subscription=subscription, max_messages=5, timeout=10).received_messages
    finally:
        subscriber.delete_subscription(subscription=subscription)
        publisher.delete_topic(topic=topic)
        subscriber.close()
    assert json.loads(received.message.data)["alertname"] == "QclTargetDown"
    assert dict(received.message.attributes) == {"alertname": "QclTargetDown", "status": "firing"}

"""Alerts: Alertmanager's webhook, the active alerts and their history, silences.

    POST   /api/ops/alerts             <- Alertmanager (webhook_config with an operator key as its bearer token)
    POST   /api/ops/alerts/gcp         <- Cloud Monitoring's incidents by a Pub/Sub push subscription (an ID token)
    GET    /api/ops/alerts?limit=100   -> {"active": [...], "history": [...]} (each with runbook and findings)
    GET    /api/ops/silences           -> Alertmanager's silences
    POST   /api/ops/silences {"alertname": "QclNodeDown", "duration_s": 3600, "comment": "draining"}
    DELETE /api/ops/silences/<id>      -> expires it

Silences need QCL_ALERTMANAGER_URL and QCL_PROMETHEUS_URL (set by `qcl up --ops`); without them they answer 503.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import flask
from pydantic import BaseModel, Field

from qcl.api.errors import ApiError, unavailable
from qcl.api.routing import ApiRoutes
from qcl.api.schemas import LimitQuery, Role
from qcl.obs.alerts import AlertBook, AlertmanagerWebhook, AlertRecord
from qcl.obs.incidents import IncidentPush, as_alertmanager
from qcl.obs.logging import audit
from qcl.obs.silences import AlertingUnavailableError, Silence, Silences, UnknownRuleError, UnknownSilenceError

if TYPE_CHECKING:
    from qcl.api.context import ApiContext


class AlertsReceived(BaseModel):
    changed: list[AlertRecord]  # the transitions not seen before (a repeat notification changes nothing)


class AlertsResponse(BaseModel):
    active: list[AlertRecord]
    history: list[AlertRecord]  # newest first


class SilenceRequest(BaseModel):
    alertname: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    duration_s: int = Field(ge=60, le=30 * 24 * 3600)
    comment: str = Field(min_length=1, max_length=500)
    matchers: dict[str, str] = Field(default_factory=dict, max_length=10)  # further labels, e.g. {"role": "shard"}


class SilenceCreated(BaseModel):
    id: str  # the silence created or expired


class SilencesResponse(BaseModel):
    silences: list[Silence]


_SILENCE_ID = {"type": "string", "pattern": r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}


def register(routes: ApiRoutes, ctx: ApiContext) -> None:
    settings = ctx.services.settings

    def findings() -> list[Any]:
        report = ctx.state.latest_report()
        return list(report.findings) if report is not None else []

    book = AlertBook(ctx.services.store, channels=settings.alert_channels, findings=findings, now=ctx.services.now)

    def silences() -> Silences:
        if not (settings.alertmanager_url and settings.prometheus_url):
            raise unavailable("alerting", "no Alertmanager is configured (QCL_ALERTMANAGER_URL, QCL_PROMETHEUS_URL)")
        return Silences(settings.alertmanager_url, settings.prometheus_url)

    @routes.route(
        "POST",
        "/api/ops/alerts",
        role=Role.OPERATOR,
        tag="ops",
        summary="Alertmanager's webhook: record and forward alerts that changed state",
        body=AlertmanagerWebhook,
        responses={200: AlertsReceived},
        rate_limited=False,
    )
    def receive_alerts(body: AlertmanagerWebhook) -> AlertsReceived:
        return AlertsReceived(changed=book.receive(body))

    @routes.route(
        "POST",
        "/api/ops/alerts/gcp",
        role=Role.OPERATOR,
        tag="ops",
        summary="Cloud Monitoring's incidents (Pub/Sub push of its notification channel): kept as alerts",
        body=IncidentPush,
        responses={200: AlertsReceived},
        rate_limited=False,
    )
    def receive_incident(body: IncidentPush) -> AlertsReceived:
        # Pub/Sub redelivers what is not answered 2xx until the subscription's dead-letter policy takes it; a message
        # that is not an incident is answered 422 with what is wrong, so it ends there with its reason.
        try:
            notification = body.notification()
        except ValueError as exc:
            raise ApiError(422, "invalid_incident", str(exc), field="message.data") from None
        return AlertsReceived(changed=book.receive(as_alertmanager(notification)))

    @routes.route(
        "GET",
        "/api/ops/alerts",
        role=Role.VIEWER,
        tag="ops",
        summary="Active alerts and the history of alert state changes",
        query=LimitQuery,
        responses={200: AlertsResponse},
    )
    def list_alerts(query: LimitQuery) -> AlertsResponse:
        return AlertsResponse(active=book.active(), history=book.history(query.limit))

    @routes.route(
        "GET",
        "/api/ops/silences",
        role=Role.VIEWER,
        tag="ops",
        summary="Alertmanager's silences",
        responses={200: SilencesResponse, 503: None},
    )
    def list_silences() -> SilencesResponse:
        client = silences()
        try:
            return SilencesResponse(silences=client.list())
        except AlertingUnavailableError as exc:
            raise unavailable("alerting", str(exc)) from None
        finally:
            client.close()

    @routes.route(
        "POST",
        "/api/ops/silences",
        role=Role.OPERATOR,
        tag="ops",
        summary="Silence an alert rule for a while",
        body=SilenceRequest,
        responses={201: SilenceCreated, 422: None, 503: None},
    )
    def create_silence(body: SilenceRequest) -> tuple[SilenceCreated, int]:
        client = silences()
        who = f"key:{flask.g.key.id}"
        try:
            silence_id = client.create(
                body.alertname, duration_s=body.duration_s, comment=body.comment, created_by=who, matchers=body.matchers
            )
        except UnknownRuleError as exc:
            raise ApiError(422, "unknown_rule", str(exc)) from None
        except AlertingUnavailableError as exc:
            raise unavailable("alerting", str(exc)) from None
        finally:
            client.close()
        audit("silence.created", actor=who, target=silence_id, alertname=body.alertname, duration_s=body.duration_s)
        return SilenceCreated(id=silence_id), 201

    @routes.route(
        "DELETE",
        "/api/ops/silences/{silence_id}",
        role=Role.OPERATOR,
        tag="ops",
        summary="Expire a silence",
        responses={200: SilenceCreated, 404: None, 503: None},
        path_params={"silence_id": _SILENCE_ID},
    )
    def expire_silence(silence_id: str) -> SilenceCreated:
        client = silences()
        try:
            client.expire(silence_id)
        except UnknownSilenceError as exc:
            raise ApiError(404, "not_found", str(exc)) from None
        except AlertingUnavailableError as exc:
            raise unavailable("alerting", str(exc)) from None
        finally:
            client.close()
        audit("silence.expired", actor=f"key:{flask.g.key.id}", target=silence_id)
        return SilenceCreated(id=silence_id)

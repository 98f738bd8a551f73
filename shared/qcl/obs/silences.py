"""Silences, through Alertmanager's API v2, for rules that Prometheus actually has.

    silences = Silences("http://127.0.0.1:9093", "http://127.0.0.1:9090")
    silence_id = silences.create("QclNodeDown", duration_s=3600, comment="draining shard-1", created_by="key:ab12")

A silence for a rule that does not exist would silence nothing and hide the typo; `create` refuses it
(UnknownRuleError, naming the rules there are). Alertmanager or Prometheus unreachable: AlertingUnavailableError.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
from pydantic import BaseModel

from qcl.errors import QclError

TIMEOUT_S = 5.0


class AlertingUnavailableError(QclError):
    pass


class UnknownRuleError(QclError):
    pass


class UnknownSilenceError(QclError):
    pass


class Silence(BaseModel):
    id: str
    alertname: str | None
    matchers: dict[str, str]
    state: Literal["active", "pending", "expired"]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str


class Silences:
    def __init__(self, alertmanager_url: str, prometheus_url: str) -> None:
        self.alertmanager = httpx.Client(base_url=alertmanager_url.rstrip("/") + "/api/v2", timeout=TIMEOUT_S)
        self.prometheus = httpx.Client(base_url=prometheus_url.rstrip("/") + "/api/v1", timeout=TIMEOUT_S)

    def rule_names(self) -> set[str]:
        body = self._call(self.prometheus, "GET", "/rules", params={"type": "alert"})
        return {rule["name"] for group in body["data"]["groups"] for rule in group["rules"]}

    def create(
        self,
        alertname: str,
        *,
        duration_s: float,
        comment: str,
        created_by: str,
        matchers: dict[str, str] | None = None,
    ) -> str:
        known = self.rule_names()
        if alertname not in known:
            raise UnknownRuleError(f"no alert rule '{alertname}'; rules: {', '.join(sorted(known))}")
        now = datetime.now(UTC)
        labels = {"alertname": alertname, **(matchers or {})}
        body = self._call(
            self.alertmanager,
            "POST",
            "/silences",
            json={
                "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in labels.items()],
                "startsAt": now.isoformat(),
                "endsAt": (now + timedelta(seconds=duration_s)).isoformat(),
                "createdBy": created_by,
                "comment": comment,
            },
        )
        return str(body["silenceID"])

    def list(self) -> list[Silence]:
        return [_silence(raw) for raw in self._call(self.alertmanager, "GET", "/silences")]

    def expire(self, silence_id: str) -> None:
        try:
            self._call(self.alertmanager, "DELETE", f"/silence/{silence_id}")
        except UnknownSilenceError:
            raise UnknownSilenceError(f"no silence '{silence_id}'") from None

    def close(self) -> None:
        self.alertmanager.close()
        self.prometheus.close()

    @staticmethod
    def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise AlertingUnavailableError(f"{client.base_url} did not answer: {exc}") from None
        # Alertmanager 0.25 (Debian 12) answers an unknown silence id with 500 "silence not found".
        if response.status_code == 404 or (response.status_code == 500 and "not found" in response.text):
            raise UnknownSilenceError(response.text.strip())
        if response.status_code >= 400:
            raise AlertingUnavailableError(f"{client.base_url}{path} answered {response.status_code}: {response.text}")
        return response.json() if response.content else None


def _silence(raw: dict[str, Any]) -> Silence:
    matchers = {m["name"]: m["value"] for m in raw["matchers"]}
    return Silence(
        id=raw["id"],
        alertname=matchers.get("alertname"),
        matchers=matchers,
        state=raw["status"]["state"],
        starts_at=raw["startsAt"],
        ends_at=raw["endsAt"],
        created_by=raw["createdBy"],
        comment=raw["comment"],
    )

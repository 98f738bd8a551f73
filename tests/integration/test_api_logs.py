"""/api/ops/logs and /api/ops/logs/patterns over real HTTP (uvicorn): lines two processes wrote, collected into the
index, found by request id, service, level and text; a query that cannot parse is a 400 naming the field; an error
burst's pattern links the alert the Alertmanager webhook recorded and the burst's request ids."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from qcl.api.schemas import Role
from qcl.api.server import ApiServer
from qcl.cli import app
from qcl.obs.logging import bind_request, unbind_request
from qcl.obs.logindex import LogCollector, SqliteLogIndex
from tests.integration.test_api_alerts import alert_body
from tests.integration.test_api_fixtures import Api, make_api
from tests.unit.test_logindex import process_logger


class Served:
    def __init__(self, api: Api, url: str, log_dir: Path, collector: LogCollector) -> None:
        self.api, self.url, self.log_dir, self.collector = api, url, log_dir, collector

    def get(self, path: str, role: Role | None = Role.OPERATOR, **params: Any) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", params=params, headers=self.api.headers(role), timeout=10)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    log_dir = tmp_path / "logs"
    api = make_api(tmp_path, log_dir=log_dir)
    collector = LogCollector(SqliteLogIndex(log_dir / "index.sqlite3"), log_dir, retention_h=1)
    server = ApiServer(api.app, "127.0.0.1", 0, grace_s=1)
    server.start()
    yield Served(api, server.url, log_dir, collector)
    server.stop()
    collector.index.close()


def test_a_request_is_found_in_the_lines_of_two_processes_and_filters_narrow_it(served: Served) -> None:
    api_log, stage_log = process_logger(served.log_dir, "api"), process_logger(served.log_dir, "shard-local-s0-r0")
    token = bind_request("req-7f3a")
    api_log.info("chat completion: 31 prompt tokens")
    stage_log.info("session 5c opened on layers 0:1")
    unbind_request(token)
    stage_log.error("session 5d failed: deadline exceeded")
    served.collector.poll()

    body = served.get("/api/ops/logs", request_id="req-7f3a").json()
    assert body["backend"] == "local"
    assert [(e["service"], e["request_id"]) for e in body["entries"]] == [
        ("shard-local-s0-r0", "req-7f3a"),
        ("api", "req-7f3a"),
    ]
    errors = served.get("/api/ops/logs", level="error", service="shard", since="10m").json()["entries"]
    assert [e["message"] for e in errors] == ["session 5d failed: deadline exceeded"]
    assert [e["message"] for e in served.get("/api/ops/logs", q='"prompt tokens"').json()["entries"]] == [
        "chat completion: 31 prompt tokens"
    ]
    assert len(served.get("/api/ops/logs", limit=1).json()["entries"]) == 1


def test_logs_are_for_operators(served: Served) -> None:
    assert served.get("/api/ops/logs", role=None).status_code == 401
    assert served.get("/api/ops/logs", role=Role.VIEWER).status_code == 403
    assert served.get("/api/ops/logs/patterns", role=Role.VIEWER).status_code == 403


@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        ({"since": "last tuesday"}, "since", "expected a duration back from now"),
        ({"level": "LOUD"}, "level", "expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ({"q": '"unclosed'}, "q", "No closing quotation"),
        ({"since": "5m", "until": "1h"}, "until", "must be after since"),
        ({"request_id": "a b"}, "request_id", "expected 1-64 letters"),
    ],
)
def test_a_query_that_cannot_parse_is_a_400_naming_the_field(
    served: Served, params: dict[str, str], field: str, says: str
) -> None:
    response = served.get("/api/ops/logs", Role.OPERATOR, **params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_log_query", field)
    assert error["message"].startswith(f"{field}: ") and says in error["message"]


def test_an_error_burst_links_the_alert_firing_and_its_request_ids(served: Served) -> None:
    now = datetime.now(UTC)

    def line(ago_s: float, message: str, severity: str = "INFO", request_id: str | None = None) -> str:
        at = (now - timedelta(seconds=ago_s)).isoformat()
        return json.dumps({"time": at, "severity": severity, "message": message, "request_id": request_id}) + "\n"

    baseline = [line(600 + 60 * n, f"ingest: published tick {n} in {n % 5} ms") for n in range(40)]
    burst = [line(2 * n, f"stage local-s1-r0 failed: {n} frames lost", "ERROR", f"req-{n}") for n in range(8)]
    (served.log_dir / "api.jsonl").write_text("".join(baseline + burst))
    served.collector.poll()
    firing = alert_body()
    firing["alerts"][0]["startsAt"] = (now - timedelta(minutes=2)).isoformat()
    served.api.client.post("/api/ops/alerts", json=firing, headers=served.api.headers(Role.OPERATOR))

    body = served.get("/api/ops/logs/patterns").json()
    assert body["lines"] == 48
    top = body["patterns"][0]
    assert top["template"] == "stage local-s1-r0 failed: <NUM> frames lost"
    assert top["new"] and top["bursting"] and top["severity"] == "ERROR"
    assert [a["alertname"] for a in top["alerts"]] == ["QclNodeDown"]
    assert top["request_ids"][:2] == ["req-0", "req-1"]
    steady = body["patterns"][1]
    assert steady["template"] == "ingest: published tick <NUM> in <NUM> ms" and not steady["bursting"]


def test_without_a_log_store_the_routes_say_so(tmp_path: Path) -> None:
    api = make_api(tmp_path)
    response = api.client.get("/api/ops/logs", headers=api.headers(Role.OPERATOR))
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "logs_unavailable"


def test_the_cli_searches_through_the_api_and_prints_its_refusal(served: Served, tmp_path: Path) -> None:
    key_file = tmp_path / "admin.key"
    key_file.write_text(served.api.keys[Role.ADMIN])
    token = bind_request("req-cli")
    process_logger(served.log_dir, "api").warning("quota exceeded for key 0000aaaa")
    unbind_request(token)
    served.collector.poll()
    runner = CliRunner()
    remote = ["--api", served.url, "--key-file", str(key_file)]

    result = runner.invoke(app, ["logs", "search", "--level", "WARNING", "--request-id", "req-cli", "--json", *remote])
    assert result.exit_code == 0, result.output
    assert [e["message"] for e in json.loads(result.output)["entries"]] == ["quota exceeded for key 0000aaaa"]
    result = runner.invoke(app, ["logs", "search", "--text", "quota", *remote])
    assert result.exit_code == 0 and "WARNING  api                  [req-cli] quota exceeded" in result.output

    result = runner.invoke(app, ["logs", "search", "--since", "a while", *remote])
    assert result.exit_code == 1
    assert "answered 400: invalid_log_query: since: expected a duration back from now" in result.output
    result = runner.invoke(app, ["logs", "patterns", "--window", "5 minutes", *remote])
    assert result.exit_code == 2 and "--window: cannot scale duration '5 minutes'" in result.output
    result = runner.invoke(app, ["logs", "patterns", *remote])
    assert result.exit_code == 0 and "quota exceeded for key" in result.output

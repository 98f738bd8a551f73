"""Cloud Monitoring keeps step with Prometheus: every alert rule of ops/prometheus/*.yml has one alert policy in
infra/modules/monitoring of the same name, severity and runbook, and the log-based metrics read the line the
analyzer really writes. Read from the source with python-hcl2 (tests/infra/hcl.py); no provider, no cloud.

    .venv/bin/pytest tests/infra/test_gcp_alert_policies.py
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from tests.infra import hcl

MODULE = hcl.INFRA / "modules" / "monitoring"
# Policies with no Prometheus rule, and why; each still has a runbook.
GCP_ONLY = {
    "QclDeadLetters": "the library exports no dead-letter counter; Pub/Sub counts dead-letter publishes",
    "QclServiceLatencyHigh": "the functions and push services export no /metrics; Cloud Run measures their latency",
}
MONITORING_SEVERITY = {"page": "CRITICAL", "ticket": "WARNING"}


@dataclass(frozen=True)
class Rule:
    group: str
    name: str
    severity: str
    runbook: str
    expr: str
    for_s: int


def _seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)([smh])", duration)
    assert match, f"unreadable duration {duration!r}"
    return int(match[1]) * {"s": 1, "m": 60, "h": 3600}[match[2]]


def _rules() -> list[Rule]:
    rules = []
    for path in sorted((hcl.ROOT / "ops" / "prometheus").glob("*.yml")):
        document = yaml.safe_load(path.read_text())
        for group in document.get("groups", []):  # alerts.test.yml holds promtool tests, no groups
            for rule in group["rules"]:
                if "alert" in rule:
                    rules.append(
                        Rule(
                            group=group["name"],
                            name=rule["alert"],
                            severity=rule["labels"]["severity"],
                            runbook=rule["annotations"]["runbook_url"],
                            expr=rule["expr"],
                            for_s=_seconds(rule.get("for", "0s")),
                        )
                    )
    return rules


RULES = _rules()
POLICIES = [r for r in hcl.resources("google_monitoring_alert_policy") if r.file.parent == MODULE]


def _policy(name: str) -> dict[str, Any]:
    matches = [p.body for p in POLICIES if p.body["display_name"] == name]
    assert len(matches) == 1, f"{name}: expected one alert policy in {MODULE}, found {len(matches)}"
    return matches[0]


def _conditions(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return hcl.blocks(policy, "conditions")


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_the_rule_files_hold_alerts() -> None:
    assert len(RULES) >= 13, [r.name for r in RULES]


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_every_prometheus_alert_has_a_policy_of_its_severity(rule: Rule) -> None:
    policy = _policy(rule.name)
    assert policy["user_labels"]["severity"] == rule.severity
    assert policy["severity"] == f'${{local.monitoring_severity["{rule.severity}"]}}'
    assert policy["notification_channels"] == f'${{local.channels["{rule.severity}"]}}', "routed by another severity"


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_every_policy_names_and_links_the_rule_s_runbook(rule: Rule) -> None:
    [documentation] = _policy(rule.name)["documentation"]
    assert f"`{rule.runbook}`" in documentation["content"]
    [links] = hcl.blocks(documentation, "links")
    assert links["url"] == f"${{links.value}}/{rule.name}/", "mkdocs serves each runbook page at runbooks/<alert>/"
    runbook = hcl.ROOT / rule.runbook
    assert runbook.is_file() and runbook.read_text().startswith(f"# {rule.name}\n"), f"{runbook} is not its runbook"


@pytest.mark.parametrize("name", sorted(GCP_ONLY))
def test_a_gcp_only_policy_has_its_runbook_too(name: str) -> None:
    [documentation] = _policy(name)["documentation"]
    assert f"`docs/runbooks/{name}.md`" in documentation["content"]
    assert (hcl.ROOT / "docs" / "runbooks" / f"{name}.md").read_text().startswith(f"# {name}\n")
    assert f"[{name}]({name}.md)" in (hcl.ROOT / "docs" / "runbooks" / "index.md").read_text()


def test_every_policy_is_a_prometheus_alert_or_a_named_gcp_only_one() -> None:
    names = [p.body["display_name"] for p in POLICIES]
    assert len(names) == len(set(names)), f"duplicate policy names: {names}"
    assert set(names) == {r.name for r in RULES} | set(GCP_ONLY)


def test_policy_severities_map_page_to_critical_and_ticket_to_warning() -> None:
    assert hcl.locals_of(MODULE / "main.tf")["monitoring_severity"] == MONITORING_SEVERITY


PROMQL = [r for r in RULES if any("condition_prometheus_query_language" in c for c in _conditions(_policy(r.name)))]


def test_only_state_the_api_process_holds_needs_prometheus_collection() -> None:
    # The others read Cloud Run, Pub/Sub, uptime-check or log-based metrics, which exist without a collector. The
    # API's latency per route, WebSockets left out, is only in its histogram: Cloud Run's counts a subscription as
    # one request for as long as it lasts.
    assert {r.name for r in PROMQL} == {
        "QclCircuitBreakerOpen", "QclNodeDown", "QclModelDown", "QclModelQueueBacklog", "QclApiLatencyHigh",
    }  # fmt: skip


def test_cloud_run_latency_watches_every_http_service_but_the_api() -> None:
    [condition] = _conditions(_policy("QclServiceLatencyHigh"))
    assert "run.googleapis.com/request_latencies" in condition["condition_threshold"][0]["filter"]
    assert "local.services_but_api" in condition["condition_threshold"][0]["filter"]


@pytest.mark.parametrize("rule", PROMQL, ids=[r.name for r in PROMQL])
def test_a_promql_policy_runs_the_rule_s_own_expression_and_window(rule: Rule) -> None:
    [condition] = _conditions(_policy(rule.name))  # Cloud Monitoring allows one condition beside PromQL
    [promql] = condition["condition_prometheus_query_language"]
    assert _squash(promql["query"]) == _squash(rule.expr)
    assert promql["duration"] == f"{rule.for_s}s"
    assert (promql["rule_group"], promql["alert_rule"]) == (rule.group, rule.name)
    assert promql["labels"] == {"severity": rule.severity}


# --- channels -------------------------------------------------------------------------------------------------------


def _channel(name: str) -> dict[str, Any]:
    return next(r.body for r in hcl.resources("google_monitoring_notification_channel") if r.name == name)


def test_channel_kinds_map_to_cloud_monitoring_types() -> None:
    assert hcl.locals_of(MODULE / "channels.tf")["channel_types"] == {
        "email": "email",
        "webhook": "webhook_tokenauth",
        "slack": "slack",
        "pubsub": "pubsub",
    }


def test_each_severity_gets_the_channels_that_list_it() -> None:
    channels = hcl.locals_of(MODULE / "channels.tf")["channels"]
    assert "for severity in local.severities" in channels
    assert "contains(var.channels[name].severities, severity)" in channels
    assert hcl.locals_of(MODULE / "channels.tf")["severities"] == ["page", "ticket"]


def test_channel_credentials_come_from_secret_manager() -> None:
    routed = _channel("routed")
    secret = "data.google_secret_manager_secret_version.channel"
    assert f"url = {secret}[each.key].secret_data" in routed["labels"], "the webhook URL carries its auth_token"
    [slack] = [d["sensitive_labels"] for d in routed["dynamic"] if "sensitive_labels" in d]
    assert slack["content"][0]["auth_token"].startswith(f"${{{secret}[")


def test_no_tfvars_file_holds_a_channel_credential() -> None:
    for path in sorted((hcl.INFRA / "envs").glob("*.tfvars")):
        text = path.read_text()
        assert not re.search(r"xox[abp]-\w|auth_token=\w", text), f"{path}: a credential belongs in Secret Manager"


def test_monitoring_may_publish_incidents_to_its_topic() -> None:
    grant = next(r.body for r in hcl.resources("google_pubsub_topic_iam_member") if r.name == "incidents_publisher")
    assert grant["role"] == "roles/pubsub.publisher" and grant["member"] == "${local.monitoring_agent}"
    agent = hcl.locals_of(MODULE / "channels.tf")["monitoring_agent"]
    assert agent.endswith("@gcp-sa-monitoring-notification.iam.gserviceaccount.com")


def test_an_incident_the_api_keeps_refusing_is_dead_lettered_held_and_alerted_on() -> None:
    subscriptions = {r.name: r.body for r in hcl.resources("google_pubsub_subscription") if r.file.parent == MODULE}
    [policy] = hcl.blocks(subscriptions["incidents"], "dead_letter_policy")
    assert policy["dead_letter_topic"] == "${google_pubsub_topic.incidents_dead_letter[0].id}"
    assert 5 <= policy["max_delivery_attempts"] <= 100  # Pub/Sub's bounds
    assert subscriptions["incidents_dead_letter_hold"]["topic"] == policy["dead_letter_topic"]
    # The Pub/Sub service agent may move it: publish to the dead-letter topic, ack the source.
    grants = {
        r.name: r.body for r in [*hcl.resources("google_pubsub_topic_iam_member"),
                                 *hcl.resources("google_pubsub_subscription_iam_member")] if r.file.parent == MODULE
    }  # fmt: skip
    publish, ack = grants["incidents_agent_publishes_dead_letters"], grants["incidents_agent_acks_dead_lettered"]
    assert (publish["role"], publish["member"]) == ("roles/pubsub.publisher", "${local.pubsub_agent}")
    assert (ack["role"], ack["subscription"]) == (
        "roles/pubsub.subscriber",
        "${google_pubsub_subscription.incidents[0].name}",
    )
    assert hcl.locals_of(MODULE / "channels.tf")["pubsub_agent"].endswith("@gcp-sa-pubsub.iam.gserviceaccount.com")
    # QclDeadLetters watches it beside the registry's dead-letter topics.
    watched = hcl.locals_of(MODULE / "main.tf")["dead_letter_topics"]
    assert "google_pubsub_topic.incidents_dead_letter[*].name" in watched and "var.dead_letter_topics" in watched
    [condition] = _conditions(_policy("QclDeadLetters"))
    assert "local.dead_letter_topics" in condition["condition_threshold"][0]["filter"]


def test_incidents_are_pushed_to_the_apis_alert_route_as_an_identity_the_api_accepts() -> None:
    """The subscription pushes to POST /api/ops/alerts/gcp (qcl.obs.incidents) with an ID token whose audience is the
    one the api function checks, signed as a principal it maps to operator and lets invoke it."""
    subscription = next(r.body for r in hcl.resources("google_pubsub_subscription") if r.name == "incidents")
    [dynamic] = hcl.blocks(subscription, "dynamic")
    [content] = dynamic["push_config"]["content"]
    assert content["push_endpoint"] == "${push_config.value.endpoint}"
    assert content["oidc_token"] == [
        {
            "service_account_email": "${push_config.value.service_account_email}",
            "audience": "${push_config.value.audience}",
        }
    ]
    push = hcl.module_calls(hcl.INFRA / "main.tf")["monitoring"]["incidents_push"]
    assert push["endpoint"] == "${local.api_function_url}/api/ops/alerts/gcp"
    api = hcl.module_calls(hcl.INFRA / "services.tf")["function"]["for_each"]["api"]
    assert push["audience"] == api["env"]["QCL_OIDC_AUDIENCE"] == "${local.api_function_url}"
    signer = push["service_account_email"]
    assert f"{signer}=operator" in api["env"]["QCL_OIDC_PRINCIPALS"].split(",")
    assert '"push"' in signer and "push" in api["invokers"]


def test_the_uptime_check_may_call_the_private_api() -> None:
    check = next(r.body for r in hcl.resources("google_monitoring_uptime_check_config") if r.name == "api_health")
    [http] = check["http_check"]
    assert http["path"] == "${var.health_path}" and http["service_agent_authentication"] == [{"type": "OIDC_TOKEN"}]
    grant = next(r.body for r in hcl.resources("google_cloud_run_v2_service_iam_member") if r.name == "uptime_invoker")
    assert grant["role"] == "roles/run.invoker" and grant["member"] == "${local.monitoring_agent}"


def test_the_root_passes_channels_and_the_api_s_subscriptions() -> None:
    call = hcl.module_calls(hcl.INFRA / "main.tf")["monitoring"]
    assert call["channels"] == "${var.alert_channels}"
    assert 'if s.consumer == "api"' in call["api_subscriptions"]


# --- the analyzer's report line, as the log-based metrics read it --------------------------------------------------

ANALYZER = hcl.ROOT / "shared" / "qcl" / "pipeline" / "analyzer.py"


def _report_line(tick: int, health: int, status: str, findings: list[tuple[str, str]]) -> str:
    """The line qcl/pipeline/analyzer.py logs per report (its format is checked below)."""
    listed = ", ".join(f"{code}({severity})" for code, severity in findings) or "none"
    return "analysis: tick %s health %s (%s); findings: %s" % (tick, health, status, listed)  # noqa: UP031


def test_the_analyzer_still_logs_the_line_the_metrics_read() -> None:
    source = ANALYZER.read_text()
    assert '"analysis: tick %s health %s (%s); findings: %s"' in source
    assert 'f"{f.code}({f.severity})" for f in report.findings) or "none"' in source


def _logging_string(text: str) -> str:
    """A Cloud Logging string literal's value: backslash escapes a backslash or a quote."""
    return re.sub(r"\\(.)", r"\1", text)


def _filter_regex(metric: str) -> re.Pattern[str]:
    raw = next(r.body for r in hcl.resources("google_logging_metric") if r.name == metric)["filter"]
    # hcl2 keeps an expression's source text: undo HCL's escapes, then take the `=~"..."` literal.
    source = raw.encode().decode("unicode_escape")
    match = re.search(r'jsonPayload\.message=~"((?:[^"\\]|\\.)*)"', source)
    assert match, source
    return re.compile(_logging_string(match[1]))


def _extractor_regex(expression: str) -> re.Pattern[str]:
    match = re.fullmatch(r'REGEXP_EXTRACT\(jsonPayload\.message, "((?:[^"\\]|\\.)*)"\)', expression)
    assert match, expression
    return re.compile(_logging_string(match[1]))


def _metric(name: str) -> dict[str, Any]:
    return next(r.body for r in hcl.resources("google_logging_metric") if r.name == name)


def test_the_health_metric_extracts_the_score_of_every_report() -> None:
    extract = _extractor_regex(_metric("analysis_health")["value_extractor"])
    assert _filter_regex("analysis_health").search(_report_line(9, 42, "degraded", []))
    assert extract.search(_report_line(9, 42, "degraded", []))[1] == "42"  # type: ignore[index]
    assert extract.search(_report_line(10, 100, "healthy", [("price_trend", "info")]))[1] == "100"  # type: ignore[index]


def test_the_critical_finding_metric_counts_critical_reports_only_and_labels_the_code() -> None:
    matches = _filter_regex("critical_finding")
    code = _extractor_regex(_metric("critical_finding")["label_extractors"]["code"])
    critical = _report_line(7, 20, "critical", [("price_trend", "warning"), ("tick_stall", "critical")])
    assert matches.search(critical)
    assert code.search(critical)[1] == "tick_stall"  # type: ignore[index]
    assert not matches.search(_report_line(8, 70, "degraded", [("tick_stall", "warning")]))
    assert not matches.search(_report_line(8, 100, "healthy", []))


def test_the_empty_ticks_metric_matches_that_finding_of_any_severity_and_nothing_else() -> None:
    matches = _filter_regex("empty_ticks_high")
    assert matches.search(_report_line(5, 60, "degraded", [("empty_ticks_high", "warning")]))
    assert matches.search(_report_line(5, 60, "degraded", [("tick_stall", "critical"), ("empty_ticks_high", "info")]))
    assert not matches.search(_report_line(5, 60, "degraded", [("tick_quality_drop", "warning")]))


# --- the series the PromQL policies read: the API's /metrics, collected on Cloud Run by Google's sidecar -------------

SERVICES = hcl.INFRA / "services.tf"


def _run_service_template() -> dict[str, Any]:
    template: dict[str, Any] = hcl.one("google_cloud_run_v2_service").body["template"][0]
    return template


def _dynamic(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [block[name] for block in body.get("dynamic", []) if name in block]


def test_the_api_service_alone_runs_the_prometheus_sidecar_on_its_metrics_port() -> None:
    shapes = hcl.locals_of(SERVICES)["cloud_run"]
    assert {name for name, shape in shapes.items() if shape["metrics"]} == {"api"}
    sidecar = hcl.module_calls(SERVICES)["service"]["metrics_sidecar"]
    assert sidecar.startswith("${each.value.metrics ?") and sidecar.endswith(": null}")
    for part in ("image = var.prometheus_sidecar_image", "port = local.metrics_port", '["run_monitoring"].secret_id'):
        assert part in sidecar
    (config,) = [r.body["secret_data"] for r in hcl.resources("google_secret_manager_secret_version")
                 if r.name == "run_monitoring"]  # fmt: skip
    for part in ('kind = "RunMonitoring"', "port = local.metrics_port", 'path = "/metrics"'):
        assert part in config


def test_the_sidecar_starts_after_the_app_reads_its_config_and_the_app_opens_the_port() -> None:
    template = _run_service_template()
    app = template["containers"][0]
    assert app["name"] == "app"  # index 0: the container whose image Cloud Build owns (ignore_changes)
    (port_env,) = [e for e in _dynamic(app, "env") if "QCL_METRICS_PORT" in e["for_each"]]
    assert "tostring(var.metrics_sidecar.port)" in port_env["for_each"]
    (collector,) = _dynamic(template, "containers")
    assert collector["for_each"] == "${var.metrics_sidecar == null ? [] : [var.metrics_sidecar]}"
    (body,) = collector["content"]
    assert body["name"] == "collector" and body["depends_on"] == ["app"]
    assert body["volume_mounts"] == [{"name": "rungmp-config", "mount_path": "/etc/rungmp"}]
    volumes = [v["content"][0] for v in _dynamic(template, "volumes")]
    (config,) = [v for v in volumes if v["name"] == "rungmp-config"]
    assert config["secret"][0]["secret"] == "${volumes.value.config_secret}"
    assert config["secret"][0]["items"] == [{"version": "latest", "path": "config.yaml"}]  # /etc/rungmp/config.yaml


def test_the_api_identity_writes_metrics_and_reads_the_sidecar_config() -> None:
    writers = [r.body for r in hcl.resources("google_project_iam_member") if r.name == "api_writes_metrics"]
    assert [(w["role"], w["member"]) for w in writers] == [
        ("roles/monitoring.metricWriter", 'serviceAccount:${google_service_account.component["api"].email}')
    ]
    readers = hcl.locals_of(hcl.INFRA / "iam.tf")["secret_readers"]  # one merge() expression
    assert "run_monitoring/api" in readers and 'google_secret_manager_secret.this["run_monitoring"].id' in readers


def test_the_setting_the_sidecar_scrapes_exists_and_the_image_is_pinned() -> None:
    from qcl.config import Settings

    assert "metrics_port" in Settings.model_fields  # QCL_METRICS_PORT, set by the module
    variables = hcl.load(hcl.INFRA / "variables.tf")["variable"]
    (image,) = [v["prometheus_sidecar_image"] for v in variables if "prometheus_sidecar_image" in v]
    assert re.search(r":\d+\.\d+\.\d+$", image["default"])

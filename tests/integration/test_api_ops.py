"""ops/ agrees with the code: every metric and label the alert rules and the Grafana dashboard use exists."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY

from qcl.obs import metrics
from qcl.obs.metrics import sample_names

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "ops/prometheus/alerts.yml"
DASHBOARD = ROOT / "ops/grafana/qcl-overview.json"
_SERIES = re.compile(r"\b(qcl_[a-z0-9_]+)(\{[^}]*\})?")
_LABEL = re.compile(r"([a-z_]+)\s*(?:=~|!~|!=|=)")
_SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created", "_info")


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def all_exprs() -> list[str]:
    return [rule["expr"] for rule in alert_rules()] + dashboard_exprs()


def label_names(series: str) -> set[str]:
    """The labels a series may carry: its metric's label names (and `le` on histogram buckets)."""
    family = series
    for suffix in _SUFFIXES:
        if family.endswith(suffix):
            family = family.removesuffix(suffix)
            break
    for value in vars(metrics).values():
        if getattr(value, "_name", None) == family:
            extra = {"le"} if series.endswith("_bucket") else set()
            return set(getattr(value, "_labelnames", ())) | extra
    raise AssertionError(f"{series}: no metric family {family} in qcl.obs.metrics")


def test_every_series_the_ops_files_use_exists() -> None:
    known = sample_names()
    used = {match.group(1) for expr in all_exprs() for match in _SERIES.finditer(expr)}
    assert used, "the ops files name no metric"
    assert used <= known, f"unknown series: {sorted(used - known)}"


def test_every_label_the_ops_files_select_on_exists() -> None:
    for expr in all_exprs():
        for match in _SERIES.finditer(expr):
            selected = set(_LABEL.findall(match.group(2) or ""))
            assert selected <= label_names(match.group(1)), f"{expr}: labels {selected}"


def test_the_alerts_cover_what_the_issue_names() -> None:
    names = {rule["alert"] for rule in alert_rules()}
    assert {"QclApiErrorRateHigh", "QclApiLatencyHigh", "QclPipelineStalled", "QclNodeDown"} <= names


def test_every_alert_has_a_duration_a_severity_and_a_summary() -> None:
    for rule in alert_rules():
        assert rule["for"] and rule["labels"]["severity"] in ("page", "ticket"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


def test_the_dashboard_panels_have_unique_ids_and_a_query_each() -> None:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    assert all(p["targets"] and all(t["expr"].strip() for t in p["targets"]) for p in panels)


def test_sample_names_follow_the_registry() -> None:
    families = {family.name for family in REGISTRY.collect()}
    assert "qcl_http_requests" in families and "qcl_http_requests_total" in sample_names()

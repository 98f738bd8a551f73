"""The alert rules and Alertmanager routes are valid for the real tools, every alert fires and resolves in
promtool's unit tests, and every alert has a runbook."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.backends import missing

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "ops/prometheus/alerts.yml"
RULE_TESTS = ROOT / "ops/prometheus/alerts.test.yml"
ROUTES = ROOT / "ops/alertmanager/alertmanager.yml"


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        missing(f"{name} is not installed (apt-get install prometheus prometheus-alertmanager)")
    assert found is not None
    return found


def run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def alerts() -> list[dict[str, object]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_promtool_accepts_the_rules() -> None:
    out = run(tool("promtool"), "check", "rules", str(RULES))
    assert f"SUCCESS: {len(alerts())} rules found" in out


def test_every_alert_fires_and_resolves_in_promtool_unit_tests() -> None:
    out = run(tool("promtool"), "test", "rules", str(RULE_TESTS))
    assert "SUCCESS" in out
    tested = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    for rule in alerts():
        checks = [c for t in tested for c in t["alert_rule_test"] if c["alertname"] == rule["alert"]]
        assert any(c["exp_alerts"] for c in checks), f"{rule['alert']}: no test shows it firing"
        firing_at = min(_minutes(c["eval_time"]) for c in checks if c["exp_alerts"])
        assert any(not c["exp_alerts"] and _minutes(c["eval_time"]) > firing_at for c in checks), (
            f"{rule['alert']}: no test shows it resolving"
        )


def test_promtool_unit_tests_can_fail(tmp_path: Path) -> None:
    """A wrong expectation fails the run, so the passing run above means something."""
    broken = RULE_TESTS.read_text().replace('summary: "1 shard node(s) down"', 'summary: "2 shard node(s) down"')
    assert broken != RULE_TESTS.read_text()
    (tmp_path / "alerts.yml").write_text(RULES.read_text())
    (tmp_path / "alerts.test.yml").write_text(broken)
    done = subprocess.run(
        [tool("promtool"), "test", "rules", str(tmp_path / "alerts.test.yml")], capture_output=True, text=True
    )
    assert done.returncode != 0 and "QclNodeDown" in done.stdout + done.stderr


def test_every_alert_has_a_severity_summary_and_an_existing_runbook() -> None:
    for rule in alerts():
        labels, annotations = rule["labels"], rule["annotations"]
        assert isinstance(labels, dict) and labels.get("severity") in {"page", "ticket"}, rule["alert"]
        assert isinstance(annotations, dict) and annotations.get("summary"), rule["alert"]
        runbook = ROOT / str(annotations.get("runbook_url", ""))
        assert runbook.is_file(), f"{rule['alert']}: runbook {runbook} missing"
        assert runbook.read_text().startswith(f"# {rule['alert']}\n"), f"{runbook} is not {rule['alert']}'s runbook"


def test_liveness_rules_watch_every_qcl_job_and_the_api_s_absence() -> None:
    by_name = {rule["alert"]: rule["expr"] for rule in alerts()}
    assert by_name["QclTargetDown"] == 'up{job=~"qcl-.*"} == 0'
    assert 'absent(up{job="qcl-api"})' in str(by_name["QclApiAbsent"])


def test_amtool_accepts_the_routes_and_they_inhibit_a_down_target_s_other_alerts() -> None:
    out = run(tool("amtool"), "check-config", str(ROUTES))
    assert "SUCCESS" in out
    inhibit = yaml.safe_load(ROUTES.read_text())["inhibit_rules"]
    down = [r for r in inhibit if r["source_matchers"] == ['alertname="QclTargetDown"']]
    assert down and down[0]["equal"] == ["instance"]


def _minutes(value: str) -> float:
    match = re.fullmatch(r"(\d+)([smh])", value)
    assert match, value
    return int(match.group(1)) * {"s": 1 / 60, "m": 1, "h": 60}[match.group(2)]

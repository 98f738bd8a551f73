"""`qcl up --ops`: a shard stage that stops answering makes QclTargetDown fire in the real Prometheus, reach a
webhook channel once through the real Alertmanager and the API, show among the active alerts, and resolve when the
stage answers again. Time runs 20x faster (QCL_OPS_TIME_SCALE=0.05: the rule's `for: 1m` is 3 s)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import psutil
import pytest
from typer.testing import CliRunner

from qcl.cli import app
from qcl.qubic.synth import generate_lines
from tests.backends import wait_for
from tests.e2e.test_api_up import Up
from tests.receivers import Inbox, http_inbox

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ops_up")]  # one stack for the module


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    with http_inbox() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def up_ops(tmp_path_factory: pytest.TempPathFactory, inbox: Inbox) -> Iterator[Up]:
    tmp_path = tmp_path_factory.mktemp("ops-up")
    capture = tmp_path / "calm.jsonl"
    capture.write_text("\n".join(generate_lines(start=datetime(2025, 11, 8, tzinfo=UTC), hours=0.1)) + "\n")
    env = {
        **os.environ,
        "QCL_STATE_DIR": str(tmp_path / "state"),
        "QCL_MODEL": "tiny-random-llama",
        "QCL_NARRATE_EMBEDDINGS": "false",
        "QCL_JOBS_WORKERS": "0",
        "QCL_OPS_TIME_SCALE": "0.05",
        "QCL_ALERT_CHANNELS": json.dumps([{"kind": "webhook", "target": inbox.url, "severities": ["page"]}]),
    }
    command = [sys.executable, "-m", "qcl.cli", "up", "--port", "0", "--speed", "0", "--capture", str(capture)]
    process = subprocess.Popen(
        [*command, "--shards", "2", "--ops"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    try:
        assert wait_for(lambda: "qcl up: running" in "".join(output), timeout_s=180), "".join(output)
        url = re.search(r"qcl up: api\s+(http://127\.0\.0\.1:\d+)", "".join(output))
        assert url, "".join(output)
        yield Up(process, output, url.group(1), tmp_path / "state", env)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_a_stalled_stage_fires_once_shows_and_resolves(up_ops: Up, inbox: Inbox) -> None:
    prometheus = re.search(r"qcl up: ops\s+Prometheus (http://[0-9.:]+)", up_ops.text())
    assert prometheus and "qcl up: ops      Alertmanager http://" in up_ops.text(), up_ops.text()

    def targets() -> dict[str, str]:
        active = httpx.get(f"{prometheus.group(1)}/api/v1/targets").json()["data"]["activeTargets"]
        return {t["labels"]["instance"]: t["health"] for t in active if t["labels"]["job"] == "qcl-shard"}

    assert wait_for(lambda: list(targets().values()) == ["up", "up"], timeout_s=60), targets()
    stages = [p for p in psutil.Process(up_ops.process.pid).children() if "serve" in p.cmdline()]
    stage = stages[0]
    instance = f"127.0.0.1:{stage.cmdline()[stage.cmdline().index('--metrics-port') + 1]}"
    assert instance in targets()

    def down_alerts() -> list[tuple[str, str]]:
        return [(b["status"], b["labels"]["instance"]) for b in inbox.bodies if b["alertname"] == "QclTargetDown"]

    stage.send_signal(signal.SIGSTOP)  # alive but not answering: the scrape times out
    try:
        assert wait_for(lambda: down_alerts() == [("firing", instance)], timeout_s=60), (down_alerts(), targets())
        auth = {"Authorization": f"Bearer {(up_ops.state_dir / 'admin.key').read_text().strip()}"}
        shown = httpx.get(f"{up_ops.url}/api/ops/alerts", headers=auth).json()
        [active] = [a for a in shown["active"] if a["alertname"] == "QclTargetDown"]
        assert active["labels"]["instance"] == instance and active["runbook_url"] == "docs/runbooks/QclTargetDown.md"
        assert active["deliveries"] == [{"channel": f"webhook:{inbox.url}", "ok": True, "error": None}]
    finally:
        stage.send_signal(signal.SIGCONT)
    assert wait_for(lambda: len(down_alerts()) == 2, timeout_s=60), down_alerts()
    assert down_alerts() == [("firing", instance), ("resolved", instance)]  # once each, however often repeated
    shown = httpx.get(f"{up_ops.url}/api/ops/alerts", headers=auth).json()
    assert [a for a in shown["active"] if a["alertname"] == "QclTargetDown"] == []


def test_the_cli_shows_alerts_and_manages_silences_through_the_api(up_ops: Up) -> None:
    remote = ["--api", up_ops.url, "--key-file", str(up_ops.state_dir / "admin.key")]
    runner = CliRunner()

    def qcl(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, [*args], catch_exceptions=False)
        return result.exit_code, result.output

    code, out = qcl("ops", "alerts", "--json", *remote)
    assert code == 0 and set(json.loads(out)) == {"active", "history"}

    code, out = qcl("ops", "silence", "QclTargetDown", "--for", "20m", "--comment", "stage maintenance", *remote)
    assert code == 0 and out.startswith("silenced QclTargetDown for 20m: "), out
    silence_id = out.split(": ")[1].strip()
    code, out = qcl("ops", "silences", "--json", *remote)
    [listed] = [s for s in json.loads(out)["silences"] if s["id"] == silence_id]
    assert (listed["state"], listed["comment"]) == ("active", "stage maintenance")
    assert qcl("ops", "unsilence", silence_id, *remote) == (0, f"expired {silence_id}\n")

    code, out = qcl("ops", "silence", "QclTargetDwn", "--comment", "typo", *remote)
    assert code == 1 and "answered 422: unknown_rule: no alert rule 'QclTargetDwn'" in out
    assert qcl("ops", "silence", "QclTargetDown", "--comment", "x", "--match", "role", *remote)[0] == 2
    assert qcl("ops", "silence", "QclTargetDown", "--for", "soon", "--comment", "x", *remote)[0] == 2
    assert qcl("ops", "silence", "QclTargetDown", *remote)[0] == 2  # no comment: say why
    code, out = qcl("ops", "alerts", "--api", up_ops.url, "--key-file", "/nonexistent/key")
    assert code == 1 and "cannot read the API key from /nonexistent/key" in out

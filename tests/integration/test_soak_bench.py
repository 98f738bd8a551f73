"""`qcl bench soak` on real stacks: an embedded `qcl up` with a 2-stage shard pool (a stage killed mid-run), and a
running stack targeted by URL and key as a deployment would be. Checked for real figures, not speed.

.venv/bin/pytest tests/integration/test_soak_bench.py -m slow
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qcl.bench.api import StackProcess, wait_for_analysis
from qcl.bench.soak import SoakPlan, run_soak
from qcl.cli import app

pytestmark = pytest.mark.slow

EVERY_OP = {"read_latest", "read_status", "ws_connect", "question", "job_submit", "job", "oracle_submit", "oracle"}


def test_a_short_soak_drives_every_operation_kills_a_stage_and_reports_real_figures(tmp_path: Path) -> None:
    out = tmp_path / "soak.jsonl"
    # In this process (CliRunner), so that coverage sees the command and the driver; the stack is a child process.
    command = ["bench", "soak", "--duration", "20s", "--sample-s", "1", "--kill-every", "8s", "--out", str(out),
               "--json"]  # fmt: skip
    done = CliRunner().invoke(app, command)
    assert done.exit_code == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)

    assert result["errors"] == 0, result["ops"]
    assert set(result["ops"]) >= EVERY_OP | {"stage_restart"}
    assert all(result["ops"][op]["n"] > 0 and result["ops"][op]["p95_ms"] > 0 for op in EVERY_OP), result["ops"]
    assert result["requests"] == sum(row["n"] for row in result["ops"].values()) > 50
    assert result["load"] == {"jobs": True, "oracle": True, "stage_kills": True}
    assert result["kills"] and all(kill["restart_s"] is not None for kill in result["kills"]), result["kills"]
    assert result["websocket"]["connections"] >= 10 and result["websocket"]["messages"].get("analysis", 0) > 0

    assert 20 <= result["samples"] <= 23  # the start, one a second, the one after the load
    process = result["process"]
    assert process["rss_mib_start"] > 50 and process["open_fds_start"] > 0 and process["threads_start"] > 1
    assert process["children_rss_mib_start"] > 50  # the two stage processes
    figures = result["leak"]["figures"]
    assert all(isinstance(figures[name]["slope_per_h"], float) for name in ("rss_mib", "open_fds", "threads"))
    assert result["leak"]["leak"] is False and "needed for a verdict" in figures["open_fds"]["reason"]

    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == result["samples"]
    assert [line["phase"] for line in lines][:: len(lines) - 1] == ["start", "after"]
    assert sum(line["requests"] for line in lines) == result["requests"]
    assert any(event.startswith("killed local-s") for line in lines for event in line["events"])
    assert "soak 0:00:10/0:00:20" in done.stderr and "bench soak: wrote" in done.stderr


def test_a_deployment_is_soaked_by_url_and_key_its_process_read_from_metrics(tmp_path: Path) -> None:
    # A stack of its own stands in for the deployment: no model (so no jobs), an oracle committee, no local pool.
    stack = StackProcess(tmp_path, lambda line: None, env={"QCL_NARRATE_EMBEDDINGS": "false"})
    try:
        wait_for_analysis(stack.url, stack.key)
        plan = SoakPlan(duration_s=6, sample_s=1, readers=2, subscribers=2, oracle_every_s=2, kill_every_s=60)
        result = run_soak(plan, api=stack.url + "/", key=stack.key, out=tmp_path / "remote.jsonl")
    finally:
        stack.stop()
    assert result["target"] == stack.url and result["process_source"] == "/metrics"
    assert result["load"] == {"jobs": False, "oracle": True, "stage_kills": False}
    assert result["errors"] == 0, result["ops"]
    assert result["ops"]["oracle"]["n"] >= 1 and result["ops"]["read_latest"]["n"] > 0
    process = result["process"]
    assert process["rss_mib_start"] > 50 and process["threads_start"] > 1 and process["open_fds_start"] > 0
    assert process["children_rss_mib_start"] is None  # a deployment's other processes are not seen


def test_a_key_without_a_url_is_refused() -> None:
    with pytest.raises(ValueError, match="api and key: give both"):
        run_soak(SoakPlan(duration_s=4, sample_s=1), key="qcl_x")


@pytest.fixture(autouse=True)
def _no_inherited_target(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("QCL_API", "QCL_API_KEY", "QCL_PROFILE"):
        monkeypatch.delenv(name, raising=False)

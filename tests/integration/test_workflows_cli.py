"""`qcl workflows ...` on Redis, where revisions and executions outlive each command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qcl.cli import app
from qcl.store.redis import RedisStore
from tests.backends import unique
from tests.integration.workflow_fixtures import EXAMPLES, load_observations

pytestmark = pytest.mark.redis
runner = CliRunner()


@pytest.fixture
def on_redis(redis_server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisStore]:
    prefix = unique("qcl-wf-cli:") + ":"
    for name, value in {"QCL_STORE": "redis", "QCL_REDIS_URL": redis_server_url, "QCL_REDIS_PREFIX": prefix,
                        "QCL_NARRATE_MODEL": "false", "QCL_WORKFLOW_LEASE_S": "1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    store = RedisStore(redis_server_url, prefix=prefix)
    yield store
    store.clear()
    store.close()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["workflows", *args])
    return result.exit_code, result.stdout, result.stderr


def test_deploy_refuses_an_invalid_file_naming_line_and_reason(on_redis: RedisStore, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("main:\n  steps:\n    - a:\n        call: qcl.nope\n")
    code, _, err = invoke("deploy", str(bad))
    assert code == 1
    assert f"error: {bad}: line 3: step 'a': unknown connector or subworkflow 'qcl.nope'" in err


def test_deploy_run_list_show_history_and_steps(on_redis: RedisStore) -> None:
    load_observations(on_redis)
    code, out, _ = invoke("deploy", str(EXAMPLES / "epoch_report.yaml"))
    assert code == 0 and out.startswith("deployed epoch-report revision 000001-")
    code, out, _ = invoke("deploy", str(EXAMPLES / "epoch_report.yaml"))
    assert out.startswith("unchanged: epoch-report revision 000001-")
    code, out, _ = invoke("show", "epoch-report")
    assert out.startswith("epoch-report revision 1 (000001-") and "trigger " in out
    code, out, _ = invoke("show", "epoch-report", "--json")
    shown = json.loads(out)
    assert shown["triggers"][0]["topic"] == "network-analysis"  # from workflows/triggers.json beside the file

    code, out, err = invoke("run", "epoch-report", "--data", '{"epoch": 187}', "--wait", "--json")
    assert code == 0, err
    record = json.loads(out)
    assert record["state"] == "succeeded" and set(record["result"]["narratives"]) == {"zh-TW", "en"}

    code, out, _ = invoke("list", "--json")
    assert json.loads(out) == [{"name": "epoch-report", "revision": 1, "revision_id": shown["revision_id"]}]
    code, out, _ = invoke("history", "epoch-report", "--json")
    assert [r["id"] for r in json.loads(out)] == [record["id"]]
    code, out, _ = invoke("steps", record["id"])
    assert out.startswith(f"{record['id']} succeeded\n")
    code, out, _ = invoke("steps", record["id"], "--json")
    steps = json.loads(out)["steps"]
    assert [s["step"] for s in steps if "/" not in s["path"].removeprefix("main/")][:2] == ["init", "analyse"]


def test_run_without_wait_queues_for_an_executor_and_resume_runs_it(on_redis: RedisStore, tmp_path: Path) -> None:
    source = tmp_path / "adder.yaml"
    source.write_text("main:\n  params: [args]\n  steps:\n    - r:\n        return: ${args.x * 2}\n")
    assert invoke("deploy", str(source))[0] == 0
    code, out, _ = invoke("run", "adder", "--data", '{"x": 21}')
    assert code == 3 and out.split()[1] == "queued"
    code, out, _ = invoke("resume", "--json")
    assert code == 0 and [(r["state"], r["result"]) for r in json.loads(out)] == [("succeeded", 42)]


def test_run_refuses_bad_json_and_unknown_workflows(on_redis: RedisStore) -> None:
    code, _, err = invoke("run", "adder", "--data", "{nope")
    assert code == 2 and "--data: not JSON" in err
    code, _, err = invoke("run", "missing", "--wait")
    assert code == 1 and "error: workflow 'missing' is not deployed; deployed: (none)" in err


def test_translate_prints_the_cloud_workflows_source(on_redis: RedisStore) -> None:
    code, out, _ = invoke("translate", str(EXAMPLES / "question_batch.yaml"))
    assert code == 0 and "call: http.post" in out and "/api/workflows/connectors/ask" in out

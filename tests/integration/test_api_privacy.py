"""Privacy end to end: one key's data exported and erased through the API with a receipt in the audit trail (on
the memory store and Redis), the client's network in log lines and audit entries, retention by the store's TTLs,
and the refusals (an unknown key 404, a non-admin 403, a running job 409).

The stack is real where the data lives: the API with its task follower, the narrator service answering questions
(templates), the job queue, the log files a handler writes and the SQLite index a collector fills from them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qcl.api import context
from qcl.api.schemas import Role
from qcl.cli import app as qcl_app
from qcl.narrate.questions import QuestionMatcher
from qcl.narrate.service import Narrator
from qcl.obs.logging import service_file_handler
from qcl.obs.logindex import LogCollector, SqliteLogIndex
from qcl.pipeline.narrator import NarratorService
from qcl.store.base import Store
from qcl.store.memory import MemoryStore
from tests.backends import wait_for
from tests.integration.test_api_fixtures import Api, ingesting_api, make_api

QUESTION = "網路健康嗎？ asked by alice"
PROMPT = "summarise alice's private notes"
CLIENT = "203.0.113.77"


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[Path]:
    """Every log line of the test also goes to <tmp>/logs/api.jsonl, as `qcl up` has each process write them."""
    log_dir = tmp_path / "logs"
    handler = service_file_handler(log_dir, "api", max_bytes=10 * 1024 * 1024, backups=2)
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    yield log_dir
    root.removeHandler(handler)
    root.setLevel(level)
    handler.close()


@pytest.fixture
def stack(tmp_path: Path, logged: Path, store: Store) -> Iterator[tuple[Api, LogCollector]]:
    with ingesting_api(tmp_path, store=store, log_dir=logged) as api:
        index = SqliteLogIndex(logged / "index.sqlite3")
        api.services.logs = index
        narrator = Narrator(None, matcher=QuestionMatcher(encoder=None))
        service = NarratorService(api.bus, api.store, narrator, name="//t/narrator")
        subscriptions = service.subscribe()
        yield api, LogCollector(index, logged, retention_h=1)
        for subscription in subscriptions:
            subscription.close()
        index.close()


def subject_key(api: Api) -> tuple[str, dict[str, str]]:
    record, key = api.services.keys.create(Role.OPERATOR, "alice@example.com", created_by="test")
    return record.id, {"Authorization": f"Bearer {key}"}


def use_key(api: Api, headers: dict[str, str]) -> tuple[str, str]:
    """A question task answered by the narrator and a job left queued, both submitted with the subject's key."""
    asked = api.client.post("/api/tasks", headers=headers, json={"kind": "question", "question": QUESTION})
    assert asked.status_code == 202, asked.json
    task_id = asked.json["id"]
    assert wait_for(lambda: api.services.jobs is not None and answered(api, task_id))
    submitted = api.client.post("/api/jobs", headers=headers, json={"kind": "completion", "prompt": PROMPT})
    assert submitted.status_code == 202, submitted.json
    return task_id, submitted.json["jobs"][0]


def answered(api: Api, task_id: str) -> bool:
    return bool(api.client.get(f"/api/tasks/{task_id}", headers=api.headers(Role.ADMIN)).json.get("state") == "done")


def everything_in(store: Store) -> str:
    return "\n".join(f"{entry.key} {json.dumps(entry.value, ensure_ascii=False)}" for entry in store.scan())


def test_an_export_holds_the_keys_tasks_answers_jobs_audit_and_log_lines(stack: tuple[Api, LogCollector]) -> None:
    api, collector = stack
    key_id, headers = subject_key(api)
    task_id, job_id = use_key(api, headers)
    collector.poll()
    exported = api.client.get(f"/api/admin/privacy/{key_id}", headers=api.headers(Role.ADMIN))
    assert exported.status_code == 200, exported.json
    body = exported.json
    assert body["key"]["id"] == key_id and body["key"]["name"] == "alice@example.com" and "hash" not in body["key"]
    assert [(t["id"], t["request"]["question"]) for t in body["tasks"]] == [(task_id, QUESTION)]
    assert [a["request_id"] for a in body["answers"]] == [task_id] and body["answers"][0]["kind"] == "answer"
    assert [(j["id"], j["payload"]["prompt"]) for j in body["jobs"]] == [(job_id, PROMPT)]
    actions = {(e["action"], e["target"]) for e in body["audit"]}
    assert {("api_key.created", key_id), ("task.submitted", task_id), ("jobs.submitted", job_id)} <= actions
    assert body["log_backend"] == "local"
    assert any(f"task.submitted by {key_id}" in line["message"] for line in body["log_lines"])


def test_an_erasure_leaves_nothing_of_the_key_and_its_receipt_holds_in_the_audit_chain(
    stack: tuple[Api, LogCollector], logged: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, collector = stack
    key_id, headers = subject_key(api)
    task_id, job_id = use_key(api, headers)
    collector.poll()
    assert QUESTION in everything_in(api.store) and PROMPT in everything_in(api.store)
    in_memory = context(api.app).broadcaster  # what WebSocket subscribers resuming on this instance are sent
    assert task_id in "".join(entry.text for entry in in_memory.after(0) or [])

    erased = api.client.delete(f"/api/admin/privacy/{key_id}", headers=api.headers(Role.ADMIN))
    assert erased.status_code == 200, erased.json
    receipt = erased.json
    counts = receipt["counts"]
    assert (counts["api_key"], counts["task"], counts["question"], counts["answer"], counts["job"]) == (1, 1, 1, 1, 1)
    assert counts["log_line"] >= 3 and counts["log_index_line"] >= 3  # key created, task and jobs submitted

    # Nothing of it through the API ...
    admin = api.headers(Role.ADMIN)
    assert api.client.get(f"/api/tasks/{task_id}", headers=admin).status_code == 404
    assert api.client.get(f"/api/jobs/{job_id}", headers=admin).status_code == 404
    assert api.client.get("/api/auth/whoami", headers=headers).status_code == 401
    assert key_id not in {k["id"] for k in api.client.get("/api/admin/keys", headers=admin).json["keys"]}
    insights = api.client.get("/api/insights", headers=admin).json
    assert task_id not in json.dumps(insights)
    assert api.client.get(f"/api/admin/privacy/{key_id}", headers=admin).status_code == 404
    # ... nor in the store, the log files or the log index
    held = everything_in(api.store) + "".join(entry.text for entry in in_memory.after(0) or [])
    for trace in (key_id, task_id, job_id, QUESTION, PROMPT, "alice@example.com"):
        assert trace not in held, trace
    files = "".join(path.read_text(encoding="utf-8") for path in logged.glob("*.jsonl*"))
    erased_line = "privacy.erased by key:"  # the receipt's own line names the key: it is the proof
    kept = [line for line in files.splitlines() if key_id in line and erased_line not in line]
    assert kept == [] and task_id not in files and job_id not in files
    collector.poll()
    searched = api.client.get("/api/ops/logs", headers=admin, query_string={"q": task_id}).json
    assert searched["entries"] == []

    # The receipt is the audit trail's entry: counts, no content; and the chain still holds.
    entries = api.services.audit.entries(action="privacy.erased")
    assert [(e["seq"], e["hash"], e["target"], e["counts"]) for e in entries] == [
        (receipt["audit_seq"], receipt["audit_hash"], key_id, counts)
    ]
    assert QUESTION not in json.dumps(entries[0], ensure_ascii=False)
    monkeypatch.setenv("QCL_STATE_DIR", str(tmp_path / "state"))  # the trail `qcl audit verify` reads
    verified = CliRunner().invoke(qcl_app, ["audit", "verify", "--json"])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["ok"] is True


def test_an_erasure_waits_for_a_running_job_which_it_cancels(tmp_path: Path) -> None:
    api = make_api(tmp_path)
    key_id, headers = subject_key(api)
    submitted = api.client.post("/api/jobs", headers=headers, json={"kind": "completion", "prompt": PROMPT})
    job_id = submitted.json["jobs"][0]
    assert api.services.jobs.claim("worker-1").id == job_id  # running now
    refused = api.client.delete(f"/api/admin/privacy/{key_id}", headers=api.headers(Role.ADMIN))
    assert refused.status_code == 409 and refused.json["error"]["code"] == "erasure_pending"
    assert job_id in refused.json["error"]["message"] and refused.headers["Retry-After"] == "1"
    assert api.client.get("/api/auth/whoami", headers=headers).status_code == 401  # revoked already
    assert api.services.jobs.cancel_requested(job_id)


def test_an_unknown_key_is_a_404_naming_it(tmp_path: Path) -> None:
    api = make_api(tmp_path)
    for method in ("GET", "DELETE"):
        answer = api.client.open("/api/admin/privacy/deadbeef", method=method, headers=api.headers(Role.ADMIN))
        assert answer.status_code == 404 and answer.json["error"]["code"] == "not_found"
        assert "'deadbeef'" in answer.json["error"]["message"]


def test_a_malformed_key_id_is_a_422_naming_the_field(tmp_path: Path) -> None:
    api = make_api(tmp_path)
    answer = api.client.delete("/api/admin/privacy/not-a-key", headers=api.headers(Role.ADMIN))
    assert answer.status_code == 422 and answer.json["error"]["field"] == "key_id"


def test_only_an_admin_may_export_or_erase(tmp_path: Path) -> None:
    api = make_api(tmp_path)
    key_id, _ = subject_key(api)
    for role in (Role.OPERATOR, Role.VIEWER):
        refused = api.client.delete(f"/api/admin/privacy/{key_id}", headers=api.headers(role))
        assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
        assert api.client.get(f"/api/admin/privacy/{key_id}", headers=api.headers(role)).status_code == 403
    assert api.services.keys.get(key_id).revoked_at is None  # nothing happened


def test_the_inventory_route_lists_every_kind(tmp_path: Path) -> None:
    api = make_api(tmp_path)
    kinds = api.client.get("/api/admin/privacy", headers=api.headers(Role.ADMIN)).json["kinds"]
    assert {"api_key", "question", "task", "job", "client_ip", "session", "log_line", "audit_entry"} <= {
        kind["name"] for kind in kinds
    }


# -- the client's address ---------------------------------------------------------------------------------------


def submit_from(api: Api, address: str) -> Any:
    return api.client.post(
        "/api/tasks",
        headers=api.headers(Role.OPERATOR),
        json={"kind": "narration"},
        environ_base={"REMOTE_ADDR": address},
    )


def test_a_log_line_and_an_audit_entry_hold_the_clients_network_not_its_address(tmp_path: Path, logged: Path) -> None:
    api = make_api(tmp_path)
    assert submit_from(api, CLIENT).status_code == 202
    entry = api.services.audit.entries(action="task.submitted")[-1]
    assert entry["ip"] == "203.0.113.0"
    lines = [json.loads(line) for line in (logged / "api.jsonl").read_text(encoding="utf-8").splitlines()]
    audited = [line for line in lines if line.get("audit", {}).get("action") == "task.submitted"]
    assert audited and audited[-1]["client_ip"] == "203.0.113.0" and audited[-1]["audit"]["ip"] == "203.0.113.0"
    assert CLIENT not in (logged / "api.jsonl").read_text(encoding="utf-8")
    assert CLIENT not in (tmp_path / "state" / "audit.jsonl").read_text(encoding="utf-8")


def test_an_ipv6_client_keeps_its_48(tmp_path: Path) -> None:
    api = make_api(tmp_path)
    assert submit_from(api, "2001:db8:abcd:12::7").status_code == 202
    assert api.services.audit.entries(action="task.submitted")[-1]["ip"] == "2001:db8:abcd::"


def test_with_anonymisation_off_the_whole_address_is_written(tmp_path: Path) -> None:
    api = make_api(tmp_path, anonymize_ip=False)
    assert submit_from(api, CLIENT).status_code == 202
    assert api.services.audit.entries(action="task.submitted")[-1]["ip"] == CLIENT


# -- retention ----------------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_tasks_and_jobs_expire_after_their_retention(tmp_path: Path) -> None:
    clock = Clock()
    api = make_api(tmp_path, store=MemoryStore(clock=clock), retention_tasks_s=120, retention_jobs_s=300)
    admin = api.headers(Role.ADMIN)
    task_id = submit_from(api, CLIENT).json["id"]
    job_id = api.client.post("/api/jobs", headers=admin, json={"kind": "completion", "prompt": PROMPT}).json["jobs"][0]
    clock.now += 119
    assert api.client.get(f"/api/tasks/{task_id}", headers=admin).status_code == 200
    clock.now += 2
    assert api.client.get(f"/api/tasks/{task_id}", headers=admin).status_code == 404
    assert api.client.get(f"/api/jobs/{job_id}", headers=admin).status_code == 200
    clock.now += 180
    assert api.client.get(f"/api/jobs/{job_id}", headers=admin).status_code == 404
    assert PROMPT not in everything_in(api.store)


def test_a_retention_below_a_minute_is_refused_naming_the_variable(tmp_path: Path) -> None:
    from qcl.config import load_settings
    from qcl.errors import ConfigError

    with pytest.raises(ConfigError, match="QCL_RETENTION_TASKS_S"):
        load_settings(retention_tasks_s=5)


# -- the CLI, through a real server --------------------------------------------------------------------------------


def test_qcl_privacy_exports_and_erases_through_the_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.integration.test_remote_cli import as_json, qcl, serve

    with serve(tmp_path, monkeypatch) as served:
        key_id, headers = subject_key(served.api)
        submitted = served.api.client.post("/api/jobs", headers=headers, json={"kind": "completion", "prompt": PROMPT})
        admin = served.as_(Role.ADMIN)
        exported = as_json(qcl(*admin, "privacy", "export", "--key", key_id, "--json"))
        assert [job["id"] for job in exported["jobs"]] == submitted.json["jobs"]
        summary = qcl(*admin, "privacy", "export", "--key", key_id)
        assert summary.exit_code == 0 and "alice@example.com" in summary.stdout and "1 jobs" in summary.stdout
        declined = qcl(*admin, "privacy", "erase", "--key", key_id, stdin="n\n")
        assert declined.exit_code == 1 and "not erased" in declined.output
        assert served.api.services.keys.get(key_id).revoked_at is None
        erased = qcl(*admin, "privacy", "erase", "--key", key_id, stdin="y\n")
        [entry] = served.api.services.audit.entries(action="privacy.erased")
        assert erased.exit_code == 0 and entry["counts"]["job"] == 1
        assert f"erased key {key_id}: 1 api_key, 1 job" in erased.stdout
        assert f"audit entry {entry['seq']}" in erased.stdout
        gone = qcl(*admin, "privacy", "export", "--key", key_id)
        assert gone.exit_code == 1 and "404" in gone.output and key_id in gone.output
        malformed = qcl(*admin, "privacy", "erase", "--key", "KEY-1", "--yes")
        assert malformed.exit_code == 2 and "8 hex digits" in malformed.output
        refused = qcl(*served.as_(Role.OPERATOR), "privacy", "erase", "--key", key_id, "--yes")
        assert refused.exit_code == 1 and "403" in refused.output
        kinds = as_json(qcl(*admin, "privacy", "inventory", "--json"))
        assert "audit_entry" in {kind["name"] for kind in kinds}
        table = qcl(*admin, "privacy", "inventory")
        assert table.exit_code == 0 and "QCL_RETENTION_TASKS_S" in table.stdout

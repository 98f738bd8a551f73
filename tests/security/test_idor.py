"""IDOR: one key cannot read, cancel or stream another key's tasks and jobs, knowing their ids.

Two operator keys, `owner` and `other`, on the real server. What `other` gets for the owner's task or job is the
answer for an id that does not exist (404 not_found), so it cannot even learn that the id is in use; the owner and
an admin get the thing. Workflows are not here: they are deployment-wide (deployed, run and cancelled by role, as
on Cloud Workflows; an execution started by a trigger has no key), which the authz matrix covers.
"""

from __future__ import annotations

import json

import httpx
from websockets.sync.client import ClientConnection, connect

from qcl.api.schemas import Role
from qcl.events import NODE_EVENTS, NodeEvent
from tests.integration.test_api_fixtures import Served
from tests.security.conftest import bearer

NOT_THERE = "0123456789abcdef0123456789abcdef"


def keys(served: Served) -> dict[str, str]:
    other = served.api.services.keys.create(Role.OPERATOR, "other operator", created_by="test")[1]
    return {"owner": served.api.keys[Role.OPERATOR], "other": other, "admin": served.api.keys[Role.ADMIN]}


def error_code(answer: httpx.Response) -> str:
    code: str = answer.json()["error"]["code"]
    return code


def test_another_keys_task_answers_as_a_task_that_does_not_exist(served: Served) -> None:
    key = keys(served)
    submitted = httpx.post(f"{served.url}/api/tasks", headers=bearer(key["owner"]), json={"kind": "narration"})
    assert submitted.status_code == 202
    task_url = f"{served.url}/api/tasks/{submitted.json()['id']}"
    assert httpx.get(task_url, headers=bearer(key["owner"])).json()["id"] == submitted.json()["id"]
    assert httpx.get(task_url, headers=bearer(key["admin"])).status_code == 200
    for intruder in (key["other"], served.api.keys[Role.VIEWER]):
        stolen = httpx.get(task_url, headers=bearer(intruder))
        absent = httpx.get(f"{served.url}/api/tasks/{NOT_THERE}", headers=bearer(intruder))
        assert (stolen.status_code, error_code(stolen)) == (404, "not_found")
        assert (absent.status_code, error_code(absent)) == (404, "not_found")


def test_another_keys_job_cannot_be_read_listed_or_cancelled(served: Served) -> None:
    key = keys(served)
    submitted = httpx.post(
        f"{served.url}/api/jobs", headers=bearer(key["owner"]), json={"kind": "completion", "prompt": "hello"}
    )
    assert submitted.status_code == 202
    job_id = submitted.json()["jobs"][0]
    stolen = httpx.get(f"{served.url}/api/jobs/{job_id}", headers=bearer(key["other"]))
    assert (stolen.status_code, error_code(stolen)) == (404, "not_found")
    cancelled = httpx.post(f"{served.url}/api/jobs/{job_id}/cancel", headers=bearer(key["other"]))
    assert (cancelled.status_code, error_code(cancelled)) == (404, "not_found")
    listed = httpx.get(f"{served.url}/api/jobs", headers=bearer(key["other"])).json()["jobs"]
    assert listed == []
    quotas = httpx.get(f"{served.url}/api/quotas", headers=bearer(key["other"])).json()["keys"]
    assert [usage["queued"] for usage in quotas] == [0]  # its own usage only: the owner's queued job is not in it
    assert httpx.get(f"{served.url}/api/jobs/{job_id}", headers=bearer(key["owner"])).json()["state"] == "queued"
    assert httpx.get(f"{served.url}/api/jobs/{job_id}", headers=bearer(key["admin"])).status_code == 200


def streamed(ws: ClientConnection, until_node: str) -> list[dict[str, object]]:
    """Every message up to and including the node event `until_node` (published after what the test looks for)."""
    seen = []
    while True:
        message = json.loads(ws.recv(timeout=10))
        seen.append(message)
        if message["type"] == "node" and message["data"]["node_id"] == until_node:
            return seen


def test_the_stream_carries_a_task_only_to_its_submitter_and_admins(served: Served) -> None:
    key = keys(served)
    sockets = {who: connect(served.ws_url, additional_headers=bearer(k)) for who, k in key.items()}
    try:
        for ws in sockets.values():
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        submitted = httpx.post(f"{served.url}/api/tasks", headers=bearer(key["owner"]), json={"kind": "narration"})
        task_id = submitted.json()["id"]
        marker = NODE_EVENTS.event(NodeEvent(node_id="after-the-task", role="shard", kind="joined"), source="//t")
        served.api.bus.publish(NODE_EVENTS, marker)
        tasks = {
            who: [m["data"]["id"] for m in streamed(ws, "after-the-task") if m["type"] == "task"]  # type: ignore[index]
            for who, ws in sockets.items()
        }
        assert tasks == {"owner": [task_id], "other": [], "admin": [task_id]}
    finally:
        for ws in sockets.values():
            ws.close()

"""`qcl up` serves the API as a user meets it: a real process, auth on, keys from the CLI, Ctrl-C drains it."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from qcl.qubic.synth import generate_lines
from tests.backends import wait_for

# `qcl up` takes seconds to start: one worker (pytest-xdist --dist loadgroup) runs the module on one shared stack.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("api_up")]


@dataclass
class Up:
    process: subprocess.Popen[str]
    output: list[str]
    url: str
    state_dir: Path
    env: dict[str, str]

    def text(self) -> str:
        return "".join(self.output)


def start_up(
    folder: Path, args: Sequence[str] = (), env: Mapping[str, str] | None = None, *, timeout_s: float = 60
) -> Iterator[Up]:
    """`qcl up` on a short calm capture with `args`, and `env` over the defaults; stopped with Ctrl-C after."""
    capture = folder / "calm.jsonl"
    capture.write_text("\n".join(generate_lines(start=datetime(2025, 11, 8, tzinfo=UTC), hours=0.2)) + "\n")
    # Template narration by default: these tests are about the API, and a model would be converted into each fresh
    # state dir.
    env = {**os.environ, "QCL_STATE_DIR": str(folder / "state"), "QCL_NARRATE_MODEL": "false", **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "qcl.cli", "up", "--port", "0", "--speed", "0", "--capture", str(capture), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    try:
        assert wait_for(lambda: "qcl up: running" in "".join(output), timeout_s=timeout_s), "".join(output)
        url = re.search(r"qcl up: api\s+(http://127\.0\.0\.1:\d+)", "".join(output))
        assert url, "".join(output)
        yield Up(process, output, url.group(1), folder / "state", env)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """One `qcl up` for the tests that leave it running (each start costs seconds of imports)."""
    yield from start_up(tmp_path_factory.mktemp("up"))


@pytest.fixture
def own_up(tmp_path: Path) -> Iterator[Up]:
    """A `qcl up` of the test's own, for a test that stops it."""
    yield from start_up(tmp_path)


def test_up_serves_the_api_with_auth_on_and_an_admin_key_file(up: Up) -> None:
    key_file = up.state_dir / "admin.key"
    assert f"admin key created in {key_file}" in up.text()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert key not in up.text()  # the path is printed, never the key
    assert httpx.get(f"{up.url}/api/network/latest").status_code == 401
    auth = {"Authorization": f"Bearer {key}"}
    assert wait_for(lambda: httpx.get(f"{up.url}/api/network/latest", headers=auth).status_code == 200)
    assert httpx.get(f"{up.url}/readyz").json()["ready"] is True
    assert httpx.get(f"{up.url}/api/openapi.json").json()["openapi"] == "3.1.0"


def test_a_key_made_with_the_cli_works_on_the_running_server_until_revoked(up: Up) -> None:
    def qcl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "qcl.cli", *args], env=up.env, capture_output=True, text=True, timeout=60
        )

    created = qcl("keys", "create", "--role", "viewer", "--name", "e2e")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    key_id = key.split("_")[1]
    auth = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{up.url}/api/nodes", headers=auth).status_code == 200
    assert httpx.post(f"{up.url}/api/tasks", headers=auth, json={"kind": "narration"}).status_code == 403
    assert key_id in qcl("keys", "list").stdout
    assert qcl("keys", "revoke", key_id).returncode == 0
    assert httpx.get(f"{up.url}/api/nodes", headers=auth).status_code == 401
    assert qcl("keys", "revoke", "0badc0de").returncode == 1
    audit = (up.state_dir / "audit.jsonl").read_text()
    assert "api_key.created" in audit and "api_key.revoked" in audit
    verified = qcl("audit", "verify")  # one chain, appended by the server and by the CLI processes
    assert verified.returncode == 0 and verified.stdout.startswith("ok: "), verified.stderr
    actors = [json.loads(line)["actor"] for line in audit.splitlines()]
    assert actors[0] == "qcl up" and "cli:" in actors[1]  # the stack's admin key is the first entry


def test_the_printed_login_url_opens_a_session_once(up: Up) -> None:
    login = re.search(r"qcl up: open (http://127\.0\.0\.1:\d+)/\?login=([\w-]+)", up.text())
    assert login, up.text()
    with httpx.Client(base_url=login.group(1)) as browser:
        opened = browser.post("/api/auth/login", json={"token": login.group(2)})
        assert opened.status_code == 200 and "HttpOnly" in opened.headers["set-cookie"]
        assert browser.get("/api/admin/audit/verify").json()["ok"] is True
        assert browser.post("/api/auth/logout").status_code == 403  # a change with the cookie needs X-QCL-CSRF
        assert browser.post("/api/auth/logout", headers={"X-QCL-CSRF": "1"}).json() == {"signed_out": True}
    again = httpx.post(f"{login.group(1)}/api/auth/login", json={"token": login.group(2)})
    assert again.status_code == 401 and again.json()["error"]["code"] == "login_used"


def test_a_question_task_goes_queued_running_done_on_the_stacks_narrator(up: Up) -> None:
    auth = {"Authorization": f"Bearer {(up.state_dir / 'admin.key').read_text().strip()}"}
    ws = connect(up.url.replace("http://", "ws://") + "/api/ws", additional_headers=auth)
    try:
        submitted = httpx.post(
            f"{up.url}/api/tasks", headers=auth, json={"kind": "question", "question": "網路健康嗎？"}
        )
        assert submitted.status_code == 202, submitted.text
        task_id, states = submitted.json()["id"], []
        while "done" not in states and "failed" not in states:
            try:
                message = json.loads(ws.recv(timeout=60))
            except TimeoutError:
                raise AssertionError(f"no task update within 60 s; seen {states}") from None
            if message["type"] == "task" and message["data"]["id"] == task_id:
                states.append(message["data"]["state"])
    finally:
        ws.close()
    assert states == ["queued", "running", "done"]
    done = httpx.get(f"{up.url}/api/tasks/{task_id}", headers=auth).json()
    assert done["worker"] == "//qcl/up/narrator" and done["result"]["request_id"] == task_id and done["result"]["text"]


def test_ctrl_c_stops_the_api_and_the_stack(own_up: Up) -> None:
    own_up.process.send_signal(signal.SIGINT)
    assert own_up.process.wait(timeout=30) == 0
    assert "qcl up: stopped" in own_up.text()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{own_up.url}/healthz", timeout=2)


def test_a_second_up_on_a_busy_port_says_so(up: Up, tmp_path: Path) -> None:
    port = up.url.rsplit(":", 1)[1]
    env = {**up.env, "QCL_STATE_DIR": str(tmp_path / "other")}
    second = subprocess.run(
        [sys.executable, "-m", "qcl.cli", "up", "--port", port, "--speed", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 1
    assert f"cannot serve the API on 127.0.0.1:{port}" in second.stderr

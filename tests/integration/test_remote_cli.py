"""The remote CLI against a real API server (uvicorn on loopback): which deployment and key a command uses (flags,
then QCL_API/QCL_API_KEY, then a profile, then the local stack), keys and jobs through the API, batches from a file
or stdin that go on past a bad line and name it, the API's refusals printed as it words them."""

from __future__ import annotations

import json
import socket
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from qcl.api.schemas import Role
from qcl.api.server import ApiServer
from qcl.cli import app
from qcl.compute.fake import SleepingRuntime
from qcl.compute.placement import Runtimes
from qcl.compute.worker import WorkerPool
from tests.integration.test_api_fixtures import Api, make_api


@dataclass
class Served:
    api: Api
    server: ApiServer
    home: Path  # XDG_CONFIG_HOME and key files

    @property
    def url(self) -> str:
        return self.server.url

    def key_file(self, role: Role) -> Path:
        path = self.home / f"{role.value}.key"
        path.write_text(self.api.keys[role] + "\n")
        return path

    def as_(self, role: Role) -> list[str]:
        return ["--api", self.url, "--key-file", str(self.key_file(role))]

    def pool(self) -> WorkerPool:
        return WorkerPool(self.api.services.jobs, Runtimes({"fake": SleepingRuntime(1.0)}), workers=1)


@contextmanager
def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **settings: Any) -> Iterator[Served]:
    api = make_api(tmp_path, **settings)
    server = ApiServer(api.app, "127.0.0.1", 0, grace_s=2)
    server.start()
    home = tmp_path / "home"
    home.mkdir()
    for name in ("QCL_API", "QCL_API_KEY", "QCL_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.setenv("QCL_STATE_DIR", str(tmp_path / "cli-state"))  # no local admin key unless a test writes one
    try:
        yield Served(api, server, home)
    finally:
        server.stop()


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    with serve(tmp_path, monkeypatch) as served:
        yield served


def qcl(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=stdin, catch_exceptions=False)


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- which deployment, which key ---


def test_a_flag_beats_the_variable_which_beats_the_profile(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    viewer = served.key_file(Role.VIEWER)
    assert qcl("profile", "add", "p", "--api", served.url, "--key-file", str(viewer), "--use").exit_code == 0
    shown = as_json(qcl("whoami", "--json"))
    assert (shown["role"], shown["api_from"], shown["key_from"]) == ("viewer", "profile p", "profile p")

    monkeypatch.setenv("QCL_API_KEY", served.api.keys[Role.OPERATOR])
    shown = as_json(qcl("whoami", "--json"))
    assert (shown["role"], shown["api_from"], shown["key_from"]) == ("operator", "profile p", "QCL_API_KEY")

    shown = as_json(qcl("--key", served.api.keys[Role.ADMIN], "whoami", "--json"))
    assert (shown["role"], shown["key_from"]) == ("admin", "--key")

    monkeypatch.setenv("QCL_API", f"http://127.0.0.1:{closed_port()}")
    assert as_json(qcl("--api", served.url, "whoami", "--json"))["api_from"] == "--api"
    unreachable = qcl("whoami")
    assert unreachable.exit_code == 1 and "(from QCL_API)" in unreachable.stderr


def test_without_flags_variables_or_profiles_the_local_stack_and_its_admin_key(
    served: Served, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("QCL_PORT", served.url.rsplit(":", 1)[1])
    (tmp_path / "cli-state").mkdir()
    (tmp_path / "cli-state" / "admin.key").write_text(served.api.keys[Role.ADMIN])
    shown = as_json(qcl("whoami", "--json"))
    assert (shown["api"], shown["api_from"], shown["role"]) == (served.url, "local stack", "admin")
    assert shown["key_from"].startswith("local admin key ")


def test_the_local_admin_key_and_a_profiles_key_are_never_sent_elsewhere(
    served: Served, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "cli-state").mkdir()
    (tmp_path / "cli-state" / "admin.key").write_text(served.api.keys[Role.ADMIN])
    refused = qcl("--api", "https://qcl.example.com", "whoami")
    assert refused.exit_code == 2 and "no API key for https://qcl.example.com (from --api)" in refused.stderr

    qcl("profile", "add", "p", "--api", served.url, "--key", served.api.keys[Role.ADMIN], "--use")
    monkeypatch.setenv("QCL_API", "https://other.example.com")
    refused = qcl("whoami")
    assert refused.exit_code == 2 and "no API key for https://other.example.com (from QCL_API)" in refused.stderr


def test_profiles_are_kept_0600_and_listed_without_their_keys(served: Served) -> None:
    key = served.api.keys[Role.OPERATOR]
    assert qcl("profile", "add", "prod", "--api", served.url + "/", "--key", key).exit_code == 0
    assert (
        qcl("profile", "add", "staging", "--api", "https://staging.example.com", "--key-file", "/nope").exit_code == 2
    )
    path = served.home / "qcl" / "profiles.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    listed = qcl("profile", "list", "--json")
    assert key not in listed.stdout
    assert as_json(listed) == [
        {"name": "prod", "api": served.url, "key": "stored in the profiles file", "current": False}
    ]
    assert as_json(qcl("--profile", "prod", "whoami", "--json"))["role"] == "operator"
    missing = qcl("--profile", "staging", "whoami")
    assert missing.exit_code == 2 and "no profile 'staging'" in missing.stderr and "profiles: prod" in missing.stderr
    assert qcl("profile", "use", "prod").exit_code == 0
    assert as_json(qcl("whoami", "--json"))["api_from"] == "profile prod"
    assert qcl("profile", "remove", "prod").exit_code == 0
    assert as_json(qcl("profile", "list", "--json")) == []


def test_an_unreachable_api_is_named(served: Served) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = qcl("--api", url, "--key", "qcl_00000000_x", "jobs", "list")
    assert result.exit_code == 1 and f"error: cannot reach {url} (from --api)" in result.stderr


# --- keys ---


def test_keys_are_created_listed_and_revoked_through_the_api(served: Served) -> None:
    admin = served.as_(Role.ADMIN)
    created = as_json(qcl(*admin, "keys", "create", "--role", "viewer", "--name", "ci", "--json"))
    assert created["role"] == "viewer" and created["created_by"].startswith("key:")
    assert served.api.services.keys.verify(created["key"]) is not None  # made on the server, not in a local file
    listed = as_json(qcl(*admin, "keys", "list", "--json"))
    assert created["key"] not in json.dumps(listed) and created["id"] in {k["id"] for k in listed}

    ids = served.home / "ids.txt"
    ids.write_text(f"# leaving the team\n{created['id']}\n\n0badc0de\n")
    result = qcl(*admin, "keys", "revoke", "--file", str(ids))
    assert result.exit_code == 1
    assert f"line 2: revoked viewer key {created['id']} (ci)" in result.stdout
    assert "line 4: error: DELETE /api/admin/keys/0badc0de answered 404: not_found: " in result.stdout
    assert "error: 1 of 2 failed: line 4" in result.stderr
    assert served.api.services.keys.verify(created["key"]) is None


def test_a_viewer_key_gets_the_apis_403_message(served: Served) -> None:
    result = qcl(*served.as_(Role.VIEWER), "keys", "list")
    assert result.exit_code == 1
    assert "GET /api/admin/keys answered 403: forbidden: this needs the admin role; key " in result.stderr


def test_without_a_target_keys_act_on_this_machines_store(served: Served, tmp_path: Path) -> None:
    created = as_json(qcl("keys", "create", "--role", "operator", "--name", "bootstrap", "--json"))
    assert created["created_by"].startswith("cli:")
    assert created["id"] in (tmp_path / "cli-state" / "api-keys.json").read_text()
    assert served.api.services.keys.verify(created["key"]) is None  # the server keeps its own keys


# --- jobs ---


def test_a_batch_file_submits_every_good_line_and_names_the_bad_ones(served: Served) -> None:
    jobs = served.home / "jobs.jsonl"
    lines = [
        '{"prompt": "one"}',
        '{"prompts": ["two", "three"], "priority": "standard"}',
        '{"prompt": "four", "max_tokens": 0}',
        "{not json",
        '{"kind": "chat", "messages": [{"role": "user", "content": "five"}]}',
    ]
    jobs.write_text("\n".join(lines) + "\n")
    result = qcl(*served.as_(Role.OPERATOR), "jobs", "submit", "--file", str(jobs), "--max-tokens", "8")
    assert result.exit_code == 1
    out = result.stdout.splitlines()
    assert out[0].startswith("line 1: submitted ") and len(out[1].split()) == 5  # "line 2: submitted id id"
    assert out[2].startswith("line 3: error: POST /api/jobs answered 422: ") and "(field max_tokens)" in out[2]
    assert out[3].startswith("line 4: error: not JSON: ")
    assert out[4].startswith("line 5: submitted ")
    assert "error: 2 of 5 failed: line 3, 4" in result.stderr
    submitted = served.api.services.jobs.list(None)
    assert sorted(j.payload.get("prompt") or j.payload["messages"][0]["content"] for j in submitted) == [
        "five",
        "one",
        "three",
        "two",
    ]
    assert {j.max_tokens for j in submitted} == {8}


def test_a_batch_from_stdin_gives_a_json_result_per_line(served: Served) -> None:
    result = qcl(
        *served.as_(Role.OPERATOR), "jobs", "submit", "--file", "-", "--json", stdin='{"prompt": "a"}\n[1, 2]\n'
    )
    assert result.exit_code == 1
    first, second = json.loads(result.stdout)
    assert first["line"] == 1 and first["ok"] and len(first["result"]["jobs"]) == 1
    assert second == {"line": 2, "ok": False, "error": "expected a JSON object (a POST /api/jobs body), got list"}


def test_a_batch_past_the_keys_rate_limit_waits_out_retry_after_instead_of_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve(tmp_path, monkeypatch, rate_limit_key_burst=4, rate_limit_key_per_s=4) as served:
        jobs = served.home / "jobs.jsonl"
        jobs.write_text("".join(f'{{"prompt": "p{n}"}}\n' for n in range(8)))
        started = time.monotonic()
        result = qcl(*served.as_(Role.OPERATOR), "jobs", "submit", "--file", str(jobs))
        assert result.exit_code == 0, result.output
        assert time.monotonic() - started >= 1.0  # at least one Retry-After (whole seconds) was waited out
        assert len(served.api.services.jobs.list(None)) == 8


def test_jobs_are_shown_cancelled_and_waited_for(served: Served) -> None:
    operator = served.as_(Role.OPERATOR)
    queued = qcl(*operator, "jobs", "submit", "never mind").stdout.strip()
    cancelled = as_json(qcl(*operator, "jobs", "cancel", queued, "--json"))
    assert cancelled == [{"argument": 1, "ok": True, "result": cancelled[0]["result"]}]
    assert cancelled[0]["result"]["state"] == "cancelled"
    assert qcl(*operator, "jobs", "wait", queued).exit_code == 1  # final, but not done

    job_id = qcl(*operator, "jobs", "submit", "hello", "--max-tokens", "4").stdout.strip()
    assert qcl(*operator, "jobs", "wait", job_id, "--timeout", "0.3").exit_code == 3  # no worker yet
    pool = served.pool()
    pool.start()
    try:
        waited = qcl(*operator, "jobs", "wait", job_id, "--timeout", "30", "--json")
    finally:
        pool.stop()
    assert as_json(waited)[0]["state"] == "done"
    shown = qcl(*operator, "jobs", "show", job_id)
    assert shown.exit_code == 0 and shown.stdout.startswith(f"{job_id} done (completion, batch, attempt 1)")
    listed = as_json(qcl(*operator, "jobs", "list", "--state", "done", "--json"))
    assert [j["id"] for j in listed] == [job_id]

    unknown = qcl(*operator, "jobs", "cancel", "0" * 32, queued)
    assert unknown.exit_code == 1 and "argument 1: error: POST /api/jobs/" in unknown.stdout
    assert "error: 1 of 2 failed: argument 1" in unknown.stderr


# --- bad input ---


def test_bad_batch_input_is_a_usage_error_naming_the_problem(served: Served) -> None:
    operator = served.as_(Role.OPERATOR)
    only_comments = served.home / "empty.jsonl"
    only_comments.write_text("# nothing yet\n\n")
    cases = [
        (["jobs", "submit", "--file", str(only_comments)], "the batch is empty"),
        (["jobs", "submit", "--file", str(served.home / "missing.jsonl")], "cannot read "),
        (["jobs", "submit", "hi", "--file", str(only_comments)], "give a prompt or --file, not both or neither"),
        (["jobs", "cancel"], "give job ids or --file, not both or neither"),
        (["keys", "revoke"], "give key ids or --file, not both or neither"),
    ]
    for args, message in cases:
        result = qcl(*operator, *args)
        assert result.exit_code == 2 and message in result.stderr, (args, result.output)
    assert served.api.services.jobs.list(None) == []


def test_bad_target_options_and_profiles_are_refused_naming_them(served: Served) -> None:
    both = qcl("--key", "k", "--key-file", str(served.key_file(Role.ADMIN)), "whoami")
    assert both.exit_code == 2 and "give --key or --key-file, not both" in both.stderr
    not_http = qcl("--api", "qcl.example.com", "--key", "k", "whoami")
    assert not_http.exit_code == 2 and "--api: 'qcl.example.com' is not an http(s) URL" in not_http.stderr
    bad_name = qcl("profile", "add", "prod/eu", "--api", served.url, "--key", "k")
    assert bad_name.exit_code == 2 and "profile name 'prod/eu'" in bad_name.stderr
    two_keys = qcl("profile", "add", "p", "--api", served.url, "--key", "k", "--key-file", "/k")
    assert two_keys.exit_code == 2 and "exactly one of --key-file or --key" in two_keys.stderr
    (served.home / "qcl").mkdir()
    (served.home / "qcl" / "profiles.toml").write_text("current = \n")
    broken = qcl("profile", "list")
    assert broken.exit_code == 1 and "profiles.toml: " in broken.stderr


def test_a_batch_stops_at_the_first_answer_every_line_would_get(served: Served) -> None:
    ids = served.home / "ids.txt"
    ids.write_text("0badc0de\n1badc0de\n")
    result = qcl(*served.as_(Role.VIEWER), "keys", "revoke", "--file", str(ids))
    assert result.exit_code == 1 and "answered 403: forbidden" in result.stderr
    assert "line 2" not in result.output


def test_ops_commands_take_the_root_options_and_print_the_apis_refusal(served: Served) -> None:
    admin = served.as_(Role.ADMIN)
    assert as_json(qcl(*admin, "ops", "alerts", "--json")) == {"active": [], "history": []}
    result = qcl(*admin, "ops", "silences")
    assert result.exit_code == 1
    assert "GET /api/ops/silences answered 503: alerting_unavailable: no Alertmanager is configured" in result.stderr

"""/api/jobs and /api/quotas: submission (one or a batch), 422 naming the field, 429 with Retry-After past each
quota, a key seeing only its own jobs (IDOR), cancellation, and jobs run by a worker pool on a fake runtime."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qcl.api.schemas import Role
from qcl.compute.fake import SleepingRuntime
from qcl.compute.jobs import MAX_PROMPTS
from qcl.compute.placement import Runtimes
from qcl.compute.worker import WorkerPool
from tests.backends import wait_for
from tests.integration.test_api_fixtures import Api, make_api


@pytest.fixture
def api(tmp_path: Path) -> Api:
    return make_api(tmp_path)


@pytest.fixture
def worked(api: Api) -> Iterator[Api]:
    pool = WorkerPool(api.services.jobs, Runtimes({"fake": SleepingRuntime(1.0)}), workers=2, keep_every_s=0.05)
    pool.start()
    yield api
    pool.stop()


def submit(api: Api, body: dict[str, Any], role: Role = Role.OPERATOR) -> Any:
    return api.client.post("/api/jobs", headers=api.headers(role), json=body)


def job(api: Api, job_id: str, role: Role = Role.OPERATOR) -> Any:
    return api.client.get(f"/api/jobs/{job_id}", headers=api.headers(role))


def test_a_batch_of_prompts_becomes_jobs_that_workers_finish(worked: Api) -> None:
    answer = submit(worked, {"kind": "completion", "prompts": ["one", "two", "three"], "max_tokens": 5})
    assert answer.status_code == 202 and len(answer.json["jobs"]) == 3 and answer.json["batch_id"]
    assert answer.headers["Location"] == f"/api/jobs/{answer.json['jobs'][0]}"
    ids: list[str] = answer.json["jobs"]
    assert wait_for(lambda: all(job(worked, job_id).json["state"] == "done" for job_id in ids))
    for job_id in ids:
        done = job(worked, job_id).json
        assert done["result"]["tokens"] == 5 and done["result"]["runtime"] == "fake" and done["attempts"] == 1
    listed = worked.client.get("/api/jobs?state=done", headers=worked.headers(Role.OPERATOR)).json["jobs"]
    assert {j["id"] for j in listed} == set(answer.json["jobs"])


def test_a_chat_job_takes_messages(worked: Api) -> None:
    body = {"kind": "chat", "messages": [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"}]}
    answer = submit(worked, body)
    assert answer.status_code == 202 and answer.json["batch_id"] is None
    assert wait_for(lambda: job(worked, answer.json["jobs"][0]).json["state"] == "done")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "completion", "prompt": "hi", "max_tokens": 0}, "max_tokens"),
        ({"kind": "completion", "prompt": "hi", "priority": "urgent"}, "priority"),
        ({"kind": "completion", "prompt": "hi", "deadline_s": -1}, "deadline_s"),
        ({"kind": "summarise", "prompt": "hi"}, "kind"),
        ({"kind": "chat", "messages": [{"role": "robot", "content": "hi"}]}, "messages.0.role"),
        ({"kind": "completion", "prompt": "hi", "surprise": 1}, "surprise"),
        ({"kind": "completion", "prompts": ["x"] * (MAX_PROMPTS + 1)}, "prompts"),
        ({"kind": "completion", "prompt": "x" * 8001}, "prompt"),
    ],
)
def test_a_malformed_or_over_limit_submission_is_refused_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    answer = submit(api, body)
    assert answer.status_code == 422, answer.json
    assert answer.json["error"]["field"] == field
    assert api.services.jobs.depth()["running"] == 0 and api.services.jobs.list(None) == []


def test_inputs_for_the_wrong_kind_are_refused_with_the_reason(api: Api) -> None:
    answer = submit(api, {"kind": "completion", "messages": [{"role": "user", "content": "hi"}]})
    assert (
        answer.status_code == 422 and "messages: not allowed for kind 'completion'" in answer.json["error"]["message"]
    )


def test_a_viewer_cannot_submit(api: Api) -> None:
    assert submit(api, {"kind": "completion", "prompt": "hi"}, role=Role.VIEWER).status_code == 403


def test_another_keys_job_is_not_found_and_cannot_be_cancelled(api: Api) -> None:
    job_id = submit(api, {"kind": "completion", "prompt": "mine"}).json["jobs"][0]
    _, other_key = api.services.keys.create(Role.OPERATOR, "someone else", created_by="test")
    other = {"Authorization": f"Bearer {other_key}"}
    assert api.client.get(f"/api/jobs/{job_id}", headers=other).status_code == 404
    assert api.client.post(f"/api/jobs/{job_id}/cancel", headers=other).status_code == 404
    assert api.client.get("/api/jobs", headers=other).json["jobs"] == []
    assert job(api, job_id).json["state"] == "queued"  # untouched
    assert job(api, job_id, role=Role.ADMIN).status_code == 200  # an admin sees every job
    everyone = api.client.get("/api/jobs", headers=api.headers(Role.ADMIN)).json["jobs"]
    assert [j["id"] for j in everyone] == [job_id]


def test_cancelling_a_queued_job(api: Api) -> None:
    job_id = submit(api, {"kind": "completion", "prompt": "never mind"}).json["jobs"][0]
    answer = api.client.post(f"/api/jobs/{job_id}/cancel", headers=api.headers(Role.OPERATOR))
    assert answer.status_code == 200 and answer.json["state"] == "cancelled"
    assert answer.json["error"]["code"] == "cancelled"


def test_an_unknown_job_is_404_and_a_bad_id_422(api: Api) -> None:
    assert job(api, "0" * 32).status_code == 404
    assert job(api, "bad id!").status_code == 422


def test_past_the_tokens_per_minute_the_answer_is_429_with_retry_after(tmp_path: Path) -> None:
    api = make_api(tmp_path, jobs_tokens_per_minute=100)
    body = {"kind": "completion", "prompts": ["abcd"] * 4, "max_tokens": 20}  # 4 x 21 tokens
    assert submit(api, body).status_code == 202
    refused = submit(api, body)
    assert refused.status_code == 429 and refused.json["error"]["code"] == "quota_tokens_per_minute"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_past_the_daily_budget_the_answer_is_429_until_midnight(tmp_path: Path) -> None:
    api = make_api(tmp_path, jobs_daily_tokens=50)
    assert submit(api, {"kind": "completion", "prompt": "abcd", "max_tokens": 40}).status_code == 202
    refused = submit(api, {"kind": "completion", "prompt": "abcd", "max_tokens": 40})
    assert refused.status_code == 429 and refused.json["error"]["code"] == "quota_daily"
    assert 1 <= int(refused.headers["Retry-After"]) <= 86_400


def test_past_the_queued_jobs_limit_the_answer_is_429(tmp_path: Path) -> None:
    api = make_api(tmp_path, jobs_max_queued=3)
    assert submit(api, {"kind": "completion", "prompts": ["a", "b"]}).status_code == 202
    refused = submit(api, {"kind": "completion", "prompts": ["c", "d"]})
    assert refused.status_code == 429 and refused.json["error"]["code"] == "quota_queued"
    assert "Retry-After" in refused.headers


def test_a_submission_bigger_than_the_per_minute_quota_is_422(tmp_path: Path) -> None:
    api = make_api(tmp_path, jobs_tokens_per_minute=100)
    refused = submit(api, {"kind": "completion", "prompts": ["a"] * 3, "max_tokens": 50})
    assert refused.status_code == 422 and refused.json["error"]["code"] == "too_large"


def test_quotas_show_the_keys_own_usage_and_an_admin_every_key(api: Api) -> None:
    submit(api, {"kind": "completion", "prompts": ["abcd", "efgh"], "max_tokens": 9})
    own = api.client.get("/api/quotas", headers=api.headers(Role.OPERATOR)).json
    assert len(own["keys"]) == 1
    assert (own["keys"][0]["queued"], own["keys"][0]["tokens_today"]) == (2, 20.0)
    assert own["keys"][0]["quota"]["tokens_per_minute"] == 200_000
    assert own["queue"]["batch"] == 2 and "predicted_wait_s" in own["forecast"]
    everyone = api.client.get("/api/quotas", headers=api.headers(Role.ADMIN)).json
    assert len(everyone["keys"]) == len(Role)

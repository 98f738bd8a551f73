"""Tasks end to end on the memory bus: the API files them, the real workers (the narrator service with template
narration, the 4-member oracle committee) move them on the task board, and the API streams every step."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest

from qcl.api import ApiIngest, context
from qcl.api.schemas import OracleTaskName, Role
from qcl.narrate.questions import QuestionMatcher
from qcl.narrate.service import Narrator
from qcl.oracle.canonical import digest_of, sha256_hex
from qcl.oracle.jobs import TASKS
from qcl.oracle.service import OracleCommittee
from qcl.pipeline.analyzer import LATEST_KEY, WINDOW_KEY
from qcl.pipeline.narrator import NarratorService
from qcl.qubic.capture import parse_line
from qcl.qubic.synth import sample_lines
from qcl.qubic.types import Observation
from qcl.tasks import TaskBoard, TaskView
from tests.backends import wait_for
from tests.integration.test_api_fixtures import Api, ingesting_api, report

OBSERVATIONS = [o for o in map(parse_line, sample_lines()[:60]) if isinstance(o, Observation)]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Api]:
    with ingesting_api(tmp_path) as api:
        yield api


@pytest.fixture
def narrated(live: Api) -> Iterator[Api]:
    service = NarratorService(live.bus, live.store, Narrator(None, matcher=QuestionMatcher(encoder=None)), name="//t")
    subscriptions = service.subscribe()
    yield live
    for subscription in subscriptions:
        subscription.close()


@pytest.fixture
def committee(live: Api) -> Iterator[OracleCommittee]:
    for observation in OBSERVATIONS:
        live.store.window_add(WINDOW_KEY, observation.observed_at.timestamp(), observation.to_json_line())
    live.store.put(LATEST_KEY, report(at=OBSERVATIONS[-1].observed_at).model_dump_json())
    service = OracleCommittee(live.services.settings, live.bus, live.store)
    service.start()
    yield service
    service.stop()


def submit(api: Api, body: dict[str, Any]) -> Any:
    return api.client.post("/api/tasks", headers=api.headers(Role.OPERATOR), json=body)


def task(api: Api, task_id: str) -> dict[str, Any]:
    body: dict[str, Any] = api.client.get(f"/api/tasks/{task_id}", headers=api.headers(Role.OPERATOR)).json
    return body


def streamed_states(api: Api, task_id: str) -> list[str]:
    entries = context(api.app).log.read_after(0)
    return [e["data"]["state"] for e in entries if e["type"] == "task" and e["data"]["id"] == task_id]


# -- narration and questions -------------------------------------------------------------------------------------


def test_a_question_task_runs_on_the_narrator_and_is_streamed_queued_running_done(narrated: Api) -> None:
    submitted = submit(narrated, {"kind": "question", "question": "網路健康嗎？"})
    assert submitted.status_code == 202 and submitted.json["state"] == "queued"
    task_id = submitted.json["id"]
    assert submitted.headers["Location"] == f"/api/tasks/{task_id}"
    assert wait_for(lambda: task(narrated, task_id)["state"] == "done")
    done = task(narrated, task_id)
    assert done["worker"] == "//t" and done["started_at"] is not None
    assert done["result"]["request_id"] == task_id and done["result"]["kind"] == "answer" and done["result"]["text"]
    assert wait_for(lambda: streamed_states(narrated, task_id) == ["queued", "running", "done"])


def queued_narration(api: Api, task_id: str) -> TaskBoard:
    """A narration task on the API's board, as POST /api/tasks leaves it; the board, for the worker's steps."""
    board, now = TaskBoard(api.store), api.services.now()
    fields = {"kind": "narration", "state": "queued", "submitted_by": "k", "request": {}}
    assert board.create(TaskView(id=task_id, created_at=now, updated_at=now, **fields))
    return board


def test_each_task_step_is_streamed_once_however_many_instances_follow(live: Api) -> None:
    board = queued_narration(live, "t-1")
    board.start("t-1", worker="w")
    board.finish("t-1", {"text": "ok"})
    followers = [ApiIngest(live.services), ApiIngest(live.services)]  # two API instances on one store
    for follower in followers * 2:  # each polls twice
        follower.stream_task_changes(0.0)
    assert streamed_states(live, "t-1").count("running") == 1 and streamed_states(live, "t-1").count("done") == 1


def test_a_task_step_reaches_a_follower_that_started_before_it(live: Api) -> None:
    board = queued_narration(live, "t-2")
    board.fail("t-2", "invalid_request", "language: unsupported")
    assert wait_for(lambda: streamed_states(live, "t-2") == ["failed"])  # the running follower of the fixture


# -- oracle jobs ----------------------------------------------------------------------------------------------------


def test_the_api_offers_every_analysis_task_of_the_oracle() -> None:
    assert set(get_args(OracleTaskName)) == {name for name in TASKS if name.startswith("analysis.")}


def test_an_oracle_task_is_filed_with_its_job_and_completes_with_the_attestation(
    live: Api, committee: OracleCommittee
) -> None:
    submitted = submit(live, {"kind": "oracle", "task": "analysis.findings"})
    assert submitted.status_code == 202, submitted.json
    job = submitted.json["job"]
    assert job["job_id"] == digest_of(job["spec"]) == submitted.json["id"]
    assert job["sequence"] == 0 and job["spec"]["task"] == "analysis.findings"
    assert wait_for(lambda: task(live, job["job_id"])["state"] == "done", timeout_s=60)
    done = task(live, job["job_id"])
    assert done["result"]["job_id"] == job["job_id"] and done["result"]["status"] == "committed"
    assert done["worker"].startswith("oracle-")
    assert wait_for(lambda: streamed_states(live, job["job_id"]) == ["queued", "running", "done"])


def test_oracle_jobs_take_consecutive_sequences_and_the_same_job_twice_answers_409(
    live: Api, committee: OracleCommittee
) -> None:
    first = submit(live, {"kind": "oracle", "task": "analysis.health_score"}).json["job"]
    second = submit(live, {"kind": "oracle", "task": "analysis.findings"}).json["job"]
    assert (first["sequence"], second["sequence"]) == (0, 1)
    again = submit(live, {"kind": "oracle", "task": "analysis.health_score"})
    assert again.status_code == 409 and again.json["error"]["code"] == "task_exists"


def test_an_oracle_task_over_a_chosen_window_pins_exactly_its_observations(live: Api) -> None:
    for observation in OBSERVATIONS:
        live.store.window_add(WINDOW_KEY, observation.observed_at.timestamp(), observation.to_json_line())
    start, end = OBSERVATIONS[10].observed_at, OBSERVATIONS[19].observed_at
    window = {"from": start.isoformat(), "to": end.isoformat()}
    job = submit(live, {"kind": "oracle", "task": "analysis.health_score", "window": window}).json["job"]
    pinned = ("\n".join(o.to_json_line() for o in OBSERVATIONS[10:20]) + "\n").encode()
    assert job["spec"]["input_digest"] == sha256_hex(pinned)
    assert job["spec"]["subject"].startswith("window/")


def test_an_oracle_task_without_observations_answers_404(live: Api) -> None:
    response = submit(live, {"kind": "oracle", "task": "analysis.health_score"})
    assert response.status_code == 404 and response.json["error"]["code"] == "no_observations"


def test_an_oracle_window_that_ends_before_it_starts_names_the_field(live: Api) -> None:
    window = {"from": "2025-11-08T02:00:00Z", "to": "2025-11-08T01:00:00Z"}
    response = submit(live, {"kind": "oracle", "task": "analysis.findings", "window": window})
    assert response.status_code == 422 and response.json["error"]["field"] == "window.from"


def test_an_unknown_oracle_task_names_the_field(live: Api) -> None:
    response = submit(live, {"kind": "oracle", "task": "analysis.weather"})
    assert response.status_code == 422 and response.json["error"]["field"] == "task"


def test_an_oracle_job_given_whole_is_refused_naming_the_field(live: Api) -> None:
    """The old shape (a whole OracleRequest under `job`): the API files jobs itself now."""
    response = submit(live, {"kind": "oracle", "job": {"job_id": "a" * 64, "sequence": 0, "spec": {}}})
    assert response.status_code == 422 and response.json["error"]["field"] in ("job", "task")

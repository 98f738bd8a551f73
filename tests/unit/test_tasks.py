"""The task board: the transitions every writer (API, narrator, oracle members) shares, on the memory store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from qcl.store.memory import MemoryStore
from qcl.tasks import TaskBoard, TaskView, overdue, step_key, task_key

CREATED = datetime(2025, 11, 8, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = CREATED.timestamp()

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def board() -> TaskBoard:
    return TaskBoard(MemoryStore(), clock=Clock())


def task(task_id: str = "t1", **extra: Any) -> TaskView:
    return TaskView(
        id=task_id,
        kind="question",
        state="queued",
        created_at=CREATED,
        updated_at=CREATED,
        submitted_by="k1",
        request={"kind": "question", "question": "ok?"},
        **extra,
    )


def test_a_created_task_reads_as_queued_and_a_second_create_is_refused(board: TaskBoard) -> None:
    assert board.create(task())
    assert not board.create(task())
    stored = board.get("t1")
    assert stored is not None and stored.state == "queued" and stored.started_at is None


def test_a_task_moves_queued_running_done_with_who_took_it_and_the_result(board: TaskBoard) -> None:
    board.create(task())
    assert board.start("t1", worker="//narrator")
    running = board.get("t1")
    assert running is not None and running.state == "running" and running.worker == "//narrator"
    assert board.finish("t1", {"text": "ok"})
    done = board.get("t1")
    assert done is not None and done.state == "done" and done.result == {"text": "ok"}
    assert done.started_at is not None and done.updated_at > done.started_at


def test_a_failure_carries_its_error(board: TaskBoard) -> None:
    board.create(task())
    assert board.fail("t1", "invalid_request", "question: too long")
    failed = board.get("t1")
    assert failed is not None and failed.state == "failed"
    assert failed.error is not None and failed.error.code == "invalid_request" and failed.result is None


def test_the_first_outcome_wins(board: TaskBoard) -> None:
    board.create(task())
    assert board.finish("t1", {"n": 1})
    assert not board.fail("t1", "late", "a second worker")
    assert not board.finish("t1", {"n": 2})
    done = board.get("t1")
    assert done is not None and done.state == "done" and done.result == {"n": 1}


def test_a_task_starts_once_and_never_goes_back_to_running(board: TaskBoard) -> None:
    board.create(task())
    assert board.start("t1", worker="a")
    assert not board.start("t1", worker="b")
    board.finish("t1", {})
    board.store.delete(step_key("t1", "running"))  # as if the first start had expired: a redelivery starts again
    assert not board.start("t1", worker="c")
    done = board.get("t1")
    assert done is not None and done.state == "done"


def test_steps_for_a_task_nobody_submitted_are_ignored_and_leave_nothing(board: TaskBoard) -> None:
    assert not board.start("scheduled-job", worker="oracle-0")
    assert not board.finish("scheduled-job", {})
    assert board.store.get(step_key("scheduled-job", "running")) is None
    assert board.get("scheduled-job") is None


def test_a_task_reads_as_it_stood_after_each_step(board: TaskBoard) -> None:
    board.create(task())
    board.start("t1", worker="w")
    board.finish("t1", {"text": "ok"})
    queued, running, done = (board.get("t1", as_of=state) for state in ("queued", "running", "done"))
    assert queued is not None and queued.state == "queued"
    assert running is not None and running.state == "running" and running.result is None
    assert done is not None and done.state == "done"


def test_changes_list_every_step_in_order(board: TaskBoard) -> None:
    board.create(task("a"))
    board.create(task("b"))
    board.start("a", worker="w")
    board.fail("b", "x", "y")
    board.finish("a", {})
    changes = board.changes(since=0)
    assert [(c.task_id, c.state) for c in changes] == [
        ("a", "queued"),
        ("b", "queued"),
        ("a", "running"),
        ("b", "failed"),
        ("a", "done"),
    ]
    assert [(c.task_id, c.state) for c in board.changes(since=changes[3].at)] == [("b", "failed"), ("a", "done")]


def test_forgetting_a_task_removes_it(board: TaskBoard) -> None:
    board.create(task())
    board.forget("t1")
    assert board.store.get(task_key("t1")) is None and board.get("t1") is None


def test_an_unfinished_task_past_its_deadline_reads_as_failed() -> None:
    late = overdue(task(), CREATED + timedelta(seconds=601), timeout_s=600)
    assert late.state == "failed" and late.error is not None and late.error.code == "task_timeout"
    assert overdue(task(), CREATED + timedelta(seconds=599), timeout_s=600).state == "queued"


def test_a_finished_task_never_times_out() -> None:
    done = task().model_copy(update={"state": "done", "result": {}})
    assert overdue(done, CREATED + timedelta(days=2), timeout_s=600).state == "done"


def test_an_unreadable_step_is_ignored(board: TaskBoard) -> None:
    board.create(task())
    board.store.put(step_key("t1", "running"), "{broken")
    read = board.get("t1")
    assert read is not None and read.state == "queued"

"""Task state: one record per submitted job, moved queued -> running -> done | failed by whoever does the work.

    board = TaskBoard(store)
    board.create(task)                                   # the API, on POST /api/tasks (state "queued")
    board.start(task_id, worker="//qcl/up/narrator")     # the worker, as it takes the job
    board.finish(task_id, result)                        # ... or board.fail(task_id, "invalid_request", "...")
    board.get(task_id)                                   # anyone: the task as it stands

The API and the workers (the narrator for ai-requests, the oracle committee for oracle-requests) share this module,
so the keys and the transitions are written down once. Transitions: queued -> running -> done | failed, and
queued -> done | failed for a worker that says nothing first. Each step is its own key, written with the store's
atomic put_if_absent: steps from several processes (the API, four oracle members, redeliveries) never overwrite one
another, a task starts once and ends once (the first outcome wins), and it never goes back. A step for an id the
board does not hold (a job no client submitted, such as the oracle's scheduled jobs) is ignored.

Every step is also noted in a window of changes (CHANGES_KEY, scored by time) that the API follows to push task
updates to its WebSocket clients, wherever the step happened.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from qcl.events import OracleRequest
from qcl.store.base import Store
from qcl.store.keys import TASK, TASK_CHANGES, TASK_STEP, family_of

log = logging.getLogger(__name__)

TaskKind = Literal["narration", "question", "oracle"]
TaskState = Literal["queued", "running", "done", "failed"]
STATES: tuple[TaskState, ...] = ("queued", "running", "done", "failed")  # in the order a task moves through them
TASK_TTL_S = 7 * 24 * 3600.0  # a task is kept for a week after it was submitted (QCL_RETENTION_TASKS_S)
CHANGES_KEY = TASK_CHANGES.key()
CHANGES_KEPT_S = 3600.0  # followers are seconds behind; an hour is generous


def task_key(task_id: str) -> str:
    """The task as submitted (its state then: queued)."""
    return TASK.key(task_id=task_id)


def step_key(task_id: str, step: Literal["running", "outcome"]) -> str:
    """A step: `running` (who took it, when) or `outcome` (done with a result, or failed with an error)."""
    return TASK_STEP.key(task_id=task_id, step=step)


class TaskError(BaseModel):
    code: str
    message: str


class TaskView(BaseModel):
    """A task as the API shows it."""

    id: str
    kind: TaskKind
    state: TaskState
    created_at: datetime
    updated_at: datetime
    submitted_by: str  # key id
    request: dict[str, Any]
    job: OracleRequest | None = None  # oracle tasks: the job as filed ({job_id: sha256(spec), sequence, spec})
    started_at: datetime | None = None  # when a worker took it
    worker: str | None = None  # which worker took it
    result: dict[str, Any] | None = None
    error: TaskError | None = None


@dataclass(frozen=True)
class TaskChange:
    at: float  # unix time of the step
    task_id: str
    state: TaskState


class TaskBoard:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time, ttl_s: float = TASK_TTL_S) -> None:
        self.store = store
        self.clock = clock
        self.ttl_s = ttl_s  # the store forgets a task and its steps this long after each was written

    def create(self, task: TaskView) -> bool:
        """Keep a new task; False when a task with its id exists."""
        created = self.store.put_if_absent(task_key(task.id), task.model_dump_json(), ttl_s=self.ttl_s)
        if created:
            self._note(task.id, task.state)
        return created

    def forget(self, task_id: str) -> None:
        """Drop a task that never went out (its publication failed)."""
        self.store.delete(task_key(task_id))

    def start(self, task_id: str, *, worker: str) -> bool:
        """A worker took the task; False when the board does not hold it, or it was started or ended already."""
        return self._step(task_id, "running", {"worker": worker})

    def finish(self, task_id: str, result: dict[str, Any]) -> bool:
        """The task is done with `result`; False when the board does not hold it or it had ended already."""
        return self._step(task_id, "outcome", {"state": "done", "result": result})

    def fail(self, task_id: str, code: str, message: str) -> bool:
        """The task failed with an error; False when the board does not hold it or it had ended already."""
        return self._step(task_id, "outcome", {"state": "failed", "error": {"code": code, "message": message}})

    def get(self, task_id: str, *, as_of: TaskState | None = None) -> TaskView | None:
        """The task as it stands (or as it stood right after its `as_of` step); None when the board does not hold it."""
        raw = self.store.get(task_key(task_id))
        if raw is None:
            return None
        task = TaskView.model_validate_json(raw)
        upto = STATES.index(as_of) if as_of is not None else len(STATES)
        running = self._read(task_id, "running") if upto >= STATES.index("running") else None
        if running is not None:
            at = datetime.fromisoformat(running["at"])
            task = task.model_copy(
                update={"state": "running", "started_at": at, "worker": running["worker"], "updated_at": at}
            )
        outcome = self._read(task_id, "outcome") if upto >= STATES.index("done") else None
        if outcome is not None and (as_of is None or outcome["state"] == as_of):
            error = TaskError.model_validate(outcome["error"]) if outcome.get("error") else None
            update = {"state": outcome["state"], "result": outcome.get("result"), "error": error}
            task = task.model_copy(update={**update, "updated_at": datetime.fromisoformat(outcome["at"])})
        return task

    def submitted_by(self, key_id: str) -> list[TaskView]:
        """Every task the store holds that `key_id` submitted, oldest first: a scan of the whole store, for an export
        or an erasure (qcl.privacy), never for a request's path."""
        found = []
        for entry in self.store.scan(lambda key: family_of(key) is TASK):
            try:
                task = TaskView.model_validate_json(str(entry.value))
            except ValueError:
                continue
            if task.submitted_by == key_id:
                found.append(self.get(task.id) or task)
        return sorted(found, key=lambda task: task.created_at)

    def erase(self, task_id: str) -> int:
        """Delete a task, its steps and its noted changes (an erasure); returns how many of its keys the store held.
        A worker's later step for it is ignored, as for any task the board does not hold."""
        keys = [task_key(task_id), step_key(task_id, "running"), step_key(task_id, "outcome")]
        held = sum(self.store.get(key) is not None for key in keys)
        for key in keys:
            self.store.delete(key)
        for member in self.store.window_range(CHANGES_KEY):
            if member.split(" ")[1] == task_id:
                self.store.window_remove(CHANGES_KEY, member)
        return held

    def changes(self, since: float) -> list[TaskChange]:
        """Steps noted at or after `since` (unix time), oldest first."""
        found = []
        for member in self.store.window_range(CHANGES_KEY, min_score=since):
            at, task_id, state = member.split(" ")
            found.append(TaskChange(float(at), task_id, state))  # type: ignore[arg-type]
        return sorted(found, key=lambda change: (change.at, STATES.index(change.state)))

    def _step(self, task_id: str, step: Literal["running", "outcome"], body: dict[str, Any]) -> bool:
        if self.store.get(task_key(task_id)) is None:
            return False  # not a task anyone follows
        if step == "running" and self.store.get(step_key(task_id, "outcome")) is not None:
            return False  # ended already (a redelivery taken up again): it does not go back to running
        at = self.clock()
        stamp = datetime.fromtimestamp(at, UTC).isoformat()
        if not self.store.put_if_absent(step_key(task_id, step), json.dumps({**body, "at": stamp}), ttl_s=self.ttl_s):
            return False
        self._note(task_id, body.get("state", step), at)
        return True

    def _read(self, task_id: str, step: Literal["running", "outcome"]) -> dict[str, Any] | None:
        raw = self.store.get(step_key(task_id, step))
        if raw is None:
            return None
        try:
            body: dict[str, Any] = json.loads(raw)
        except json.JSONDecodeError:
            log.warning("tasks: unreadable %s step of task %s; ignored", step, task_id)
            return None
        return body

    def _note(self, task_id: str, state: str, at: float | None = None) -> None:
        at = self.clock() if at is None else at
        self.store.window_add(CHANGES_KEY, at, f"{at:.6f} {task_id} {state}")
        self.store.window_trim(CHANGES_KEY, at - CHANGES_KEPT_S)


def overdue(task: TaskView, now: datetime, timeout_s: float) -> TaskView:
    """The task as a reader should see it: one with no outcome `timeout_s` after submission reads as failed."""
    if task.state in ("queued", "running") and now - task.created_at > timedelta(seconds=timeout_s):
        error = TaskError(code="task_timeout", message=f"no result within {timeout_s:g} s of submission")
        return task.model_copy(update={"state": "failed", "error": error})
    return task

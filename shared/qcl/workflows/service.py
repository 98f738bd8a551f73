"""The workflow service: deploy revisions, run executions durably on threads, resume what a crashed executor left.

    service = WorkflowService(store, LocalConnectors(store=store, bus=bus, narrator=narrator))
    service.deploy("epoch-report", Path("workflows/epoch_report.yaml").read_text())   # a new revision
    record = service.run("epoch-report", {"epoch": 190}, wait_s=60)                   # {"state": "succeeded", ...}
    service.start_background(bus)   # lease renewal, resuming orphans, schedule and topic triggers
    service.close()

An execution's record says which revision it runs, its state (queued, running, succeeded, failed, cancelled),
argument, result or error, and the count of finished steps; its steps are in the journal (repo.py). While it runs,
this executor holds a lease on it in the store and renews it; an execution whose lease lapsed (its executor died,
e.g. by kill -9) is claimed by the next executor that looks and resumed at its last finished step.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from qcl.bus.base import close_all
from qcl.store.base import Store
from qcl.workflows.definition import Workflow, compile_workflow
from qcl.workflows.errors import (
    ExecutionCancelled,
    LimitExceeded,
    UnknownWorkflowError,
    WorkflowRaised,
    WorkflowSyntaxError,
)
from qcl.workflows.executor import Connectors, Limits, Run
from qcl.workflows.repo import WorkflowRepo
from qcl.workflows.triggers import check_triggers

log = logging.getLogger(__name__)
FINISHED = ("succeeded", "failed", "cancelled")
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


class StoreJournal:
    """The executor's journal over the repo: entries loaded once at (re)start, each new one appended."""

    def __init__(self, repo: WorkflowRepo, execution_id: str) -> None:
        self.repo, self.execution_id = repo, execution_id
        self._by_path = {e["path"]: e for e in repo.steps(execution_id)}
        self._lock = threading.Lock()
        self._last_cancel_check = 0.0
        self._cancelled = False

    def recorded(self, path: str) -> dict[str, Any] | None:
        return self._by_path.get(path)

    def has_prefix(self, prefix: str) -> bool:
        return any(path.startswith(prefix) for path in self._by_path)

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.repo.append_step(self.execution_id, entry)
            self._by_path[entry["path"]] = entry

    def cancelled(self) -> bool:
        now = time.monotonic()
        if not self._cancelled and now - self._last_cancel_check > 0.1:
            self._last_cancel_check = now
            self._cancelled = self.repo.cancel_requested(self.execution_id)
        return self._cancelled


def check_name(name: str) -> str:
    if not name or len(name) > 64 or not set(name) <= _NAME_CHARS or not name[0].isalpha():
        raise WorkflowSyntaxError(f"name {name!r}: lower-case letters, digits, - and _, starting with a letter")
    return name


class WorkflowService:
    def __init__(
        self,
        store: Store,
        connectors: Connectors,
        *,
        limits: Limits | None = None,
        lease_s: float = 15.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.repo, self.connectors, self.lease_s = WorkflowRepo(store), connectors, lease_s
        self.limits = limits or Limits()
        self.env = dict(env or {})
        self.owner = uuid.uuid4().hex
        self._compiled: dict[str, Workflow] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._background: list[threading.Thread] = []
        self._subscriptions: list[Any] = []
        self._renewer: threading.Thread | None = None

    # -- revisions ---------------------------------------------------------------------------------------------------

    def compile(self, source: str) -> Workflow:
        return compile_workflow(source, calls=self.connectors.names)

    def deploy(self, name: str, source: str, *, triggers: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
        """Check `source` and store it as the next revision of `name`; WorkflowSyntaxError names line and reason."""
        workflow = self.compile(source)
        specs = check_triggers(list(triggers))
        return self.repo.add_revision(check_name(name), source, workflow.digest, triggers=specs)

    def revision(self, name: str, number: int | None = None) -> dict[str, Any]:
        found = self.repo.revision(name, number)
        if found is None:
            if number is not None and self.repo.revision(name) is not None:
                latest = self.repo.revision(name) or {}
                raise UnknownWorkflowError(f"workflow {name!r} has no revision {number}; latest: {latest['revision']}")
            deployed = ", ".join(self.repo.names()) or "(none)"
            raise UnknownWorkflowError(f"workflow {name!r} is not deployed; deployed: {deployed}")
        return found

    def workflow(self, revision: dict[str, Any]) -> Workflow:
        with self._lock:
            cached = self._compiled.get(revision["digest"])
        if cached is None:
            cached = self.compile(revision["source"])
            with self._lock:
                self._compiled[revision["digest"]] = cached
        return cached

    # -- executions --------------------------------------------------------------------------------------------------

    def start(
        self,
        name: str,
        argument: Any = None,
        *,
        revision: int | None = None,
        execution_id: str | None = None,
        trigger: str = "manual",
        launch: bool = True,
    ) -> dict[str, Any] | None:
        """Create an execution of the latest (or given) revision and run it on a thread; None when `execution_id`
        exists already (a trigger fired twice for one event)."""
        chosen = self.revision(name, revision)
        size = len(json.dumps(argument, default=str).encode())
        if size > self.limits.max_payload_bytes:
            raise LimitExceeded(f"the argument takes {size} bytes; the limit is {self.limits.max_payload_bytes}")
        record = {
            "id": execution_id or uuid.uuid4().hex,
            "workflow": name,
            "revision": chosen["revision"],
            "revision_id": chosen["revision_id"],
            "state": "queued",
            "trigger": trigger,
            "argument": argument,
            "result": None,
            "error": None,
            "created_at": time.time(),
            "started_at": None,
            "ended_at": None,
            "steps_done": 0,
        }
        if not self.repo.create_execution(record):
            return None
        if launch:  # else it waits, queued and unclaimed, for an executor's sweep (resume_orphans)
            self._launch(record)
        return record

    def run(self, name: str, argument: Any = None, *, wait_s: float = 300.0, **options: Any) -> dict[str, Any]:
        record = self.start(name, argument, **options)
        assert record is not None
        return self.wait(record["id"], wait_s)

    def wait(self, execution_id: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                thread = self._threads.get(execution_id)
            if thread is not None:
                thread.join(timeout=max(0.0, min(0.5, deadline - time.monotonic())))
            record = self.execution(execution_id)
            if record["state"] in FINISHED or time.monotonic() >= deadline:
                return record
            if thread is None:
                time.sleep(0.1)

    def execution(self, execution_id: str) -> dict[str, Any]:
        record = self.repo.execution(execution_id)
        if record is None:
            raise UnknownWorkflowError(f"no execution {execution_id!r}")
        return record

    def steps(self, execution_id: str) -> list[dict[str, Any]]:
        self.execution(execution_id)
        return self.repo.steps(execution_id)

    def cancel(self, execution_id: str) -> dict[str, Any]:
        record = self.execution(execution_id)
        if record["state"] not in FINISHED:
            self.repo.request_cancel(execution_id)
        return record

    def resume_orphans(self) -> list[str]:
        """Claim and resume every unfinished execution whose executor's lease has lapsed; their ids."""
        resumed = []
        for execution_id in self.repo.active():
            with self._lock:
                if execution_id in self._threads:
                    continue
            record = self.repo.execution(execution_id)
            if record is None or record["state"] in FINISHED:
                continue
            if not self.repo.claim(execution_id, self.owner, self.lease_s):
                continue
            log.info(
                "workflows: resuming execution %s of %s at its last finished step", execution_id, record["workflow"]
            )
            self._launch(record, claimed=True)
            resumed.append(execution_id)
        return resumed

    def _launch(self, record: dict[str, Any], *, claimed: bool = False) -> None:
        if not claimed and not self.repo.claim(record["id"], self.owner, self.lease_s):
            return
        thread = threading.Thread(target=self._drive, args=(record,), name=f"wf-{record['id'][:8]}", daemon=True)
        with self._lock:
            self._threads[record["id"]] = thread
            if self._renewer is None:
                self._renewer = threading.Thread(target=self._renew, name="wf-leases", daemon=True)
                self._renewer.start()
        thread.start()

    def _renew(self) -> None:
        """Keep this executor's leases alive while its executions run (a third of the lease between renewals)."""
        while not self._stopping.wait(self.lease_s / 3):
            with self._lock:
                running = list(self._threads)
            for execution_id in running:
                try:
                    self.repo.renew(execution_id, self.owner, self.lease_s)
                except Exception:  # the store may be down for a moment; the next round tries again
                    log.warning("workflows: could not renew the lease of %s", execution_id, exc_info=True)

    def _drive(self, record: dict[str, Any]) -> None:
        execution_id = record["id"]
        journal = StoreJournal(self.repo, execution_id)
        try:
            revision = self.revision(record["workflow"], record["revision"])
            context = {"workflow": record["workflow"], "execution_id": execution_id, "revision": record["revision"]}
            env = {
                **self.env,
                "GOOGLE_CLOUD_WORKFLOW_ID": record["workflow"],
                "GOOGLE_CLOUD_WORKFLOW_REVISION_ID": record["revision_id"],
                "GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID": execution_id,
            }
            run = Run(self.workflow(revision), self.connectors, journal, limits=self.limits, env=env, context=context)
            run.steps_done = len(journal._by_path)
            record.update(state="running", started_at=record["started_at"] or time.time())
            self.repo.put_execution(record)
            try:
                record.update(state="succeeded", result=run.execute(record["argument"]))
            except WorkflowRaised as exc:
                record.update(state="failed", error=exc.value)
            except LimitExceeded as exc:
                record.update(state="failed", error={"message": str(exc), "tags": ["LimitExceeded"]})
            except ExecutionCancelled:
                record.update(state="cancelled", error={"message": "cancelled", "tags": ["Cancelled"]})
            record["steps_done"] = len(journal._by_path)
        except Exception as exc:  # the engine's own bug: the execution fails with it, the executor goes on
            log.exception("workflows: execution %s failed inside the engine", execution_id)
            record.update(state="failed", error={"message": f"{type(exc).__name__}: {exc}", "tags": ["InternalError"]})
        record["ended_at"] = time.time()
        try:
            self.repo.put_execution(record)
            self.repo.seal_journal(execution_id)
        finally:
            self.repo.release(execution_id, self.owner)
            with self._lock:
                self._threads.pop(execution_id, None)
        log.info("workflows: execution %s of %s %s", execution_id, record["workflow"], record["state"])

    # -- background --------------------------------------------------------------------------------------------------

    def start_background(self, bus: Any = None, *, sweep_s: float | None = None) -> list[str]:
        """Resume orphans and fire schedule triggers every `sweep_s`; subscribe topic triggers on `bus`."""
        from qcl.workflows.triggers import TriggerRunner

        interval = sweep_s if sweep_s is not None else max(0.2, self.lease_s / 3)
        runner = TriggerRunner(self)
        self._background.append(threading.Thread(target=self._maintain, args=(interval, runner), daemon=True))
        for thread in self._background:
            thread.start()
        lines = [f"workflow executor {self.owner[:8]}: lease {self.lease_s:g} s, sweep every {interval:g} s"]
        if bus is not None:
            self._subscriptions = runner.subscribe(bus)
            lines.append("workflow triggers on " + ", ".join(s.name for s in self._subscriptions))
        return lines

    def _maintain(self, interval: float, runner: Any) -> None:
        while not self._stopping.wait(interval):
            try:
                self.resume_orphans()
                runner.fire_schedules(time.time())
            except Exception:  # the store may be down for a while; keep trying
                log.exception("workflows: maintenance failed; retrying in %.1f s", interval)

    def close(self, timeout_s: float = 5.0) -> None:
        self._stopping.set()
        close_all(self._subscriptions)
        for thread in [*self._background, *([self._renewer] if self._renewer else [])]:
            thread.join(timeout=timeout_s)


def deploy_folder(service: WorkflowService, folder: Path) -> list[str]:
    """Deploy every *.yaml in `folder` (named after the file, _ as -) with its triggers from triggers.json there;
    one line per workflow. A file that does not deploy is reported in its line and skipped."""
    if not folder.is_dir():
        return []
    beside = folder / "triggers.json"
    triggers = json.loads(beside.read_text(encoding="utf-8")) if beside.is_file() else {}
    lines = []
    for path in sorted(folder.glob("*.yaml")):
        name = path.stem.replace("_", "-")
        try:
            revision = service.deploy(name, path.read_text(encoding="utf-8"), triggers=triggers.get(name, []))
        except WorkflowSyntaxError as exc:
            lines.append(f"workflow {name}: not deployed: {path}: {exc}")
            continue
        lines.append(f"workflow {name} revision {revision['revision_id']} ({len(revision['triggers'])} trigger(s))")
    return lines

"""One API key's personal data (the data subject's): found, exported as JSON, or erased with a receipt.

    export = export_subject(ctx, "3f9c0a12")                  # the key, its tasks and answers, jobs, audit, log lines
    receipt = erase_subject(ctx, "3f9c0a12", by="key:9e0d1c2b")   # counts per kind; the audit entry that records it

What is searched (qcl.privacy.inventory says where each lives and for how long): the key's record; the tasks it
submitted (a question's text is its request; the answer its result and an insight); its jobs with their usage and
quota override; the WebSocket stream's entries naming its tasks; the log lines naming the key, a task or a job;
and, for the export only, the audit entries it acted in or was the target of.

The erasure revokes the key first (nothing new arrives while the rest goes), then deletes; a running job would
write its outcome afterwards, so then the key's jobs are cancelled and JobsStillRunning (409) says to erase again.
The receipt (counts per kind, never content) is appended to the hash-chained audit trail as `privacy.erased`: the
proof that the erasure happened, checked by `qcl audit verify` like every entry. The audit trail itself is kept.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from qcl.api.access import forget_key_bucket
from qcl.api.schemas import AuditEntry, InsightView, KeyView
from qcl.compute.jobs import Job
from qcl.obs.logging import audit
from qcl.obs.logindex import LogEntry, LogIndex, SqliteLogIndex, open_log_index, redact_files
from qcl.obs.logquery import LogQuery
from qcl.tasks import TaskView

if TYPE_CHECKING:
    from qcl.api.context import ApiContext
    from qcl.api.services import ApiServices

LOG_LINES_MAX = 1000  # log lines an export carries per term searched (the key id, each task id, each job id)
JOBS_MAX = 100_000  # as many as a key can hold (its queued jobs are capped far lower: QCL_JOBS_MAX_QUEUED)
ERASED_ACTION = "privacy.erased"


class SubjectExport(BaseModel):
    """Everything held for one key, as `GET /api/admin/privacy/{key_id}` answers it."""

    key_id: str
    exported_at: datetime
    key: KeyView
    tasks: list[TaskView]  # oldest first; a question's text is its request, the answer its result
    answers: list[InsightView]  # the recent insights answering those tasks
    jobs: list[Job]  # newest first, with prompts and outputs
    audit: list[AuditEntry]  # entries where the key acted or was the target (kept after an erasure)
    log_lines: list[LogEntry]  # newest first
    log_backend: str | None  # "local" (QCL_LOG_DIR's index), "cloud", or None: no log store to search


class ErasureReceipt(BaseModel):
    """What an erasure removed, counted per kind (never the content), and the audit entry that records it."""

    key_id: str
    erased_at: datetime
    erased_by: str
    counts: dict[str, int]  # api_key, task, question, answer, job, stream_entry, log_line (files), log_index_line
    kept: list[str]  # what was not erased, and why
    audit_seq: int | None  # the `privacy.erased` entry in the audit trail (None: this process keeps no trail)
    audit_hash: str | None


def _audit_of(ctx: ApiContext, key_id: str) -> list[AuditEntry]:
    names = {key_id, f"key:{key_id}"}  # routes name the actor by its id, admin routes as key:<id>
    entries = ctx.services.audit.entries()
    return [AuditEntry.model_validate(e) for e in entries if e.get("actor") in names or e.get("target") in names]


def _log_index(services: ApiServices) -> tuple[LogIndex | None, bool]:
    """The log store to search and whether this call opened it (then it closes it)."""
    if services.logs is not None:
        return services.logs, False
    index = open_log_index(services.settings)
    return index, index is not None


def _close(index: LogIndex | None, opened: bool) -> None:
    if opened and isinstance(index, SqliteLogIndex):
        index.close()


def export_subject(ctx: ApiContext, key_id: str) -> SubjectExport:
    """Everything held for `key_id`; UnknownKeyError (404) when there is no such key (an erased one included)."""
    services, state = ctx.services, ctx.state
    record = services.keys.get(key_id)
    tasks = state.tasks.submitted_by(key_id)
    jobs: list[Job] = services.jobs.list(key_id, limit=JOBS_MAX) if services.jobs is not None else []
    index, opened = _log_index(services)
    lines: dict[tuple[Any, ...], LogEntry] = {}
    try:
        for term in (key_id, *(t.id for t in tasks), *(j.id for j in jobs)):
            for line in index.search(LogQuery(terms=(term,), limit=LOG_LINES_MAX)) if index is not None else []:
                lines[(line.time, line.service, line.pid, line.message)] = line
    finally:
        _close(index, opened)
    return SubjectExport(
        key_id=key_id,
        exported_at=services.now(),
        key=KeyView.model_validate(record.public()),
        tasks=tasks,
        answers=state.answers_to({t.id for t in tasks}),
        jobs=jobs,
        audit=_audit_of(ctx, key_id),
        log_lines=sorted(lines.values(), key=lambda line: line.time, reverse=True),
        log_backend=index.backend if index is not None else None,
    )


def erase_subject(ctx: ApiContext, key_id: str, *, by: str) -> ErasureReceipt:
    """Erase everything held for `key_id` and chain the receipt into the audit trail. UnknownKeyError (404) for no
    such key; JobsStillRunning (409) while a job of the key runs (it was cancelled: erase again shortly)."""
    services, state = ctx.services, ctx.state
    services.keys.revoke(key_id, revoked_by=by)  # UnknownKeyError; from here on the key submits nothing new
    job_ids = {job.id for job in services.jobs.list(key_id, limit=JOBS_MAX)} if services.jobs is not None else set()
    counts = {"api_key": 1, "job": services.jobs.erase_key(key_id) if services.jobs is not None else 0}
    tasks = state.tasks.submitted_by(key_id)
    task_ids = {task.id for task in tasks}
    counts["task"] = sum(1 for task in tasks if state.tasks.erase(task.id))
    counts["question"] = sum(1 for task in tasks if task.kind == "question")
    counts["answer"] = state.erase_answers(task_ids)
    counts["stream_entry"] = ctx.log.redact(task_ids) if task_ids else 0
    ctx.broadcaster.redact(task_ids)  # this instance's copies, which subscribers resuming from memory are sent
    state.forget_task_streams(task_ids)
    counts["log_line"], counts["log_index_line"], kept = _erase_log_lines(services, {key_id, *task_ids, *job_ids})
    services.keys.erase(key_id)
    forget_key_bucket(services.store, key_id)
    kept.append("the audit trail's entries: the hash chain is the record of what was done, this erasure included")
    receipt = ErasureReceipt(
        key_id=key_id, erased_at=services.now(), erased_by=by, counts=counts, kept=kept, audit_seq=None, audit_hash=None
    )
    entry = audit(ERASED_ACTION, actor=by, target=key_id, counts=counts)
    if entry is not None:
        receipt = receipt.model_copy(update={"audit_seq": entry["seq"], "audit_hash": entry["hash"]})
    return receipt


def _erase_log_lines(services: ApiServices, terms: set[str]) -> tuple[int, int, list[str]]:
    """Lines naming any term: deleted from the local index, overwritten in the log files (index, files, index again:
    a line the collector reads meanwhile is caught the second time). Returns (lines overwritten in files, lines
    deleted from the index, what was kept)."""
    kept: list[str] = []
    index, opened = _log_index(services)
    erased = redacted = 0
    try:
        local = index if isinstance(index, SqliteLogIndex) else None
        if index is not None and local is None:
            kept.append(f"log lines in the {index.backend} log store: erase them there (its retention applies)")
        if local is not None:
            erased += local.erase(terms)
        log_dir: Path | None = services.settings.log_dir
        redacted = redact_files(log_dir, terms) if log_dir is not None else 0
        if local is not None:
            erased += local.erase(terms)
    finally:
        _close(index, opened)
    return redacted, erased, kept

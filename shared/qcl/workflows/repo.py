"""Workflows in the store: immutable revisions, executions, their step journals, claims and cancel flags.

    repo = WorkflowRepo(store)
    revision = repo.add_revision("epoch-report", source, digest, triggers=[])   # {"revision": 3, ...}
    repo.put_execution(record); repo.append_step(execution_id, entry); repo.steps(execution_id)

Keys: the wf:* families of qcl.store.keys (revisions, executions, journals, leases, cancel flags).
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from qcl.store.base import Store
from qcl.store.keys import (
    WF_ACTIVE,
    WF_CANCEL,
    WF_DIGEST,
    WF_EXECUTION,
    WF_EXECUTIONS,
    WF_JOURNAL,
    WF_JOURNAL_SEALED,
    WF_LATEST,
    WF_LEASE,
    WF_NAMES,
    WF_REVISION,
)

_KEEP_S = 30 * 24 * 3600  # executions and journals are kept for 30 days
MAX_JOURNAL = 100_000


class WorkflowRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- revisions -------------------------------------------------------------------------------------------------

    def add_revision(self, name: str, source: str, digest: str, *, triggers: list[dict[str, Any]]) -> dict[str, Any]:
        """A new revision of `name` (numbers claimed atomically); the same source and triggers again return the
        revision that already holds them, with created = False."""
        identity = json.dumps({"digest": digest, "triggers": triggers}, sort_keys=True)
        same = self.store.get(WF_DIGEST.key(name=name, sha256=_sha(identity)))
        if same is not None:
            existing = self.revision(name, int(same))
            if existing is not None:
                return {**existing, "created": False}
        number = int(self.store.get(WF_LATEST.key(name=name)) or 0) + 1
        while True:
            record = {
                "workflow": name,
                "revision": number,
                "revision_id": f"{number:06d}-{digest[:8]}",
                "digest": digest,
                "source": source,
                "triggers": triggers,
                "created_at": time.time(),
            }
            if self.store.put_if_absent(WF_REVISION.key(name=name, number=number), json.dumps(record)):
                break
            number += 1
        latest = int(self.store.get(WF_LATEST.key(name=name)) or 0)
        if number > latest:
            self.store.put(WF_LATEST.key(name=name), str(number))
        self.store.put(WF_DIGEST.key(name=name, sha256=_sha(identity)), str(number))
        if name not in self.store.window_range(WF_NAMES.key()):
            self.store.window_add(WF_NAMES.key(), time.time(), name)
        return {**record, "created": True}

    def revision(self, name: str, number: int | None = None) -> dict[str, Any] | None:
        if number is None:
            latest = self.store.get(WF_LATEST.key(name=name))
            if latest is None:
                return None
            number = int(latest)
        raw = self.store.get(WF_REVISION.key(name=name, number=number))
        return None if raw is None else dict(json.loads(raw))

    def revisions(self, name: str) -> list[dict[str, Any]]:
        latest = int(self.store.get(WF_LATEST.key(name=name)) or 0)
        found = [self.revision(name, n) for n in range(1, latest + 1)]
        return [r for r in found if r is not None]

    def names(self) -> list[str]:
        return self.store.window_range(WF_NAMES.key())

    # -- executions ------------------------------------------------------------------------------------------------

    def create_execution(self, record: dict[str, Any]) -> bool:
        """Store a new execution; False when its id exists (a trigger's event delivered twice)."""
        if not self.store.put_if_absent(WF_EXECUTION.key(execution_id=record["id"]), json.dumps(record), ttl_s=_KEEP_S):
            return False
        executions = WF_EXECUTIONS.key(name=record["workflow"])
        self.store.window_add(executions, record["created_at"], record["id"])
        self.store.window_trim(executions, record["created_at"] - _KEEP_S)  # expired ones
        self.store.window_add(WF_ACTIVE.key(), record["created_at"], record["id"])
        return True

    def put_execution(self, record: dict[str, Any]) -> None:
        self.store.put(WF_EXECUTION.key(execution_id=record["id"]), json.dumps(record, default=str), ttl_s=_KEEP_S)
        if record["state"] not in ("queued", "running"):
            self._drop_active(record["id"])

    def _drop_active(self, execution_id: str) -> None:
        # The store has no "remove member": park finished executions below every score, then trim them.
        self.store.window_add(WF_ACTIVE.key(), float("-1e18"), execution_id)
        self.store.window_trim(WF_ACTIVE.key(), float("-1e17"))

    def execution(self, execution_id: str) -> dict[str, Any] | None:
        raw = self.store.get(WF_EXECUTION.key(execution_id=execution_id))
        return None if raw is None else dict(json.loads(raw))

    def executions(self, name: str, limit: int = 50) -> list[dict[str, Any]]:
        ids = self.store.window_range(WF_EXECUTIONS.key(name=name))[-limit:][::-1]  # newest first
        found = [self.execution(i) for i in ids]
        return [r for r in found if r is not None]

    def active(self) -> list[str]:
        return self.store.window_range(WF_ACTIVE.key())

    # -- journal ---------------------------------------------------------------------------------------------------

    def append_step(self, execution_id: str, entry: dict[str, Any]) -> None:
        journal = WF_JOURNAL.key(execution_id=execution_id)
        self.store.list_push(journal, json.dumps(entry, default=str), max_len=MAX_JOURNAL)

    def steps(self, execution_id: str) -> list[dict[str, Any]]:
        """Finished steps, oldest first."""
        rows = self.store.list_range(WF_JOURNAL.key(execution_id=execution_id), MAX_JOURNAL)
        if not rows:
            sealed = self.store.get(WF_JOURNAL_SEALED.key(execution_id=execution_id))
            return list(json.loads(sealed)) if sealed is not None else []
        return [json.loads(row) for row in reversed(rows)]

    def seal_journal(self, execution_id: str) -> None:
        """A finished execution's journal becomes one value that expires with the execution (lists cannot)."""
        entries = self.steps(execution_id)
        sealed = WF_JOURNAL_SEALED.key(execution_id=execution_id)
        self.store.put(sealed, json.dumps(entries, default=str), ttl_s=_KEEP_S)
        self.store.delete(WF_JOURNAL.key(execution_id=execution_id))

    # -- claims and cancel -----------------------------------------------------------------------------------------

    def claim(self, execution_id: str, owner: str, ttl_s: float) -> bool:
        key = WF_LEASE.key(execution_id=execution_id)
        return self.store.put_if_absent(key, owner, ttl_s=ttl_s) or self.store.get(key) == owner

    def renew(self, execution_id: str, owner: str, ttl_s: float) -> bool:
        key = WF_LEASE.key(execution_id=execution_id)
        if self.store.get(key) not in (None, owner):
            return False
        self.store.put(key, owner, ttl_s=ttl_s)
        return True

    def release(self, execution_id: str, owner: str) -> None:
        if self.store.get(WF_LEASE.key(execution_id=execution_id)) == owner:
            self.store.delete(WF_LEASE.key(execution_id=execution_id))

    def request_cancel(self, execution_id: str) -> None:
        self.store.put(WF_CANCEL.key(execution_id=execution_id), "1", ttl_s=_KEEP_S)

    def cancel_requested(self, execution_id: str) -> bool:
        return self.store.get(WF_CANCEL.key(execution_id=execution_id)) is not None


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()

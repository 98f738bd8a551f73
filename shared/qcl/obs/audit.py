"""The audit trail as a hash chain: an edited, deleted or reordered entry is detected by `verify`.

    qcl audit verify                 # ok, or the first broken entry and why
    qcl audit list --actor key:3f9c0a12 --action api_key.created

Each entry carries `seq` (1, 2, ...), `prev` (the hash of entry seq-1; 64 zeros for the first) and `hash`: sha256
over the entry's canonical JSON (sorted keys, no spaces, UTF-8) without `hash`. Editing an entry breaks its hash;
deleting or reordering one breaks the next entry's `seq` and `prev`; deleting the newest ones leaves the ledger's
head ahead of the chain (store backend). Whoever can rewrite the whole chain from an edit onwards can hide it: the
chain proves integrity against edits in place, an anchor kept elsewhere (the newest hash, copied out) proves more.
Entries are appended through a qcl.store.ledger (file under the state directory, or the store), whose append
gives every entry exactly one predecessor even with several processes appending at once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from qcl.config import Settings
from qcl.store.base import Store
from qcl.store.ledger import Ledger, open_ledger

GENESIS = "0" * 64


def entry_hash(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int
    broken_seq: int | None = None  # the first entry that does not hold
    reason: str | None = None
    head_hash: str | None = None  # the newest entry's hash: copy it elsewhere to anchor the chain


class AuditTrail:
    def __init__(self, ledger: Ledger, clock: Callable[[], datetime] | None = None) -> None:
        self.ledger = ledger
        self._clock = clock or (lambda: datetime.now(UTC))

    def append(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Chain `fields` (action, actor, target, outcome, details) after the newest entry; returns the entry."""
        at = self._clock().isoformat()

        def make(seq: int, previous: str | None) -> str:
            prev = GENESIS if previous is None else str(_parse(previous).get("hash", GENESIS))
            entry = {"seq": seq, "at": at, **fields, "prev": prev}
            entry["hash"] = entry_hash(entry)
            return json.dumps(entry, ensure_ascii=False, default=str)

        return _parse(self.ledger.append(make))

    def entries(
        self, *, since: datetime | None = None, actor: str | None = None, action: str | None = None
    ) -> list[dict[str, Any]]:
        """Entries, oldest first, at or after `since`, of `actor` and `action` when given (unparsable ones skipped)."""
        found = []
        for raw in self.ledger.records():
            try:
                entry = _parse(raw)
            except ValueError:
                continue
            if since is not None and _at(entry) < since:
                continue
            if (actor is None or entry.get("actor") == actor) and (action is None or entry.get("action") == action):
                found.append(entry)
        return found

    def verify(self) -> Verdict:
        prev, seq = GENESIS, 0
        for raw in self.ledger.records():
            seq += 1
            try:
                entry = _parse(raw)
            except ValueError:
                return Verdict(False, seq - 1, seq, f"entry {seq} is not a JSON object (edited)")
            if entry.get("seq") != seq:
                return Verdict(
                    False, seq - 1, seq, f"entry {seq} is numbered {entry.get('seq')!r} (an entry was deleted or moved)"
                )
            if entry.get("prev") != prev:
                return Verdict(
                    False, seq - 1, seq, f"entry {seq} does not follow entry {seq - 1}'s hash (deleted or reordered)"
                )
            if entry.get("hash") != entry_hash(entry):
                return Verdict(False, seq - 1, seq, f"entry {seq}'s hash does not match its content (edited)")
            prev = str(entry["hash"])
        head = self.ledger.head()
        if head > seq:
            return Verdict(False, seq, seq + 1, f"the ledger wrote {head} entries, the chain holds {seq} (deleted)")
        return Verdict(True, seq, head_hash=None if seq == 0 else prev)


def _parse(raw: str) -> dict[str, Any]:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _at(entry: dict[str, Any]) -> datetime:
    try:
        at = datetime.fromisoformat(str(entry.get("at")))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def open_audit_trail(settings: Settings, store: Store | None = None) -> AuditTrail:
    """The trail where the admin's records live: <state_dir>/audit.jsonl, or the store with QCL_API_KEYS=store."""
    return AuditTrail(open_ledger("audit", settings, store))

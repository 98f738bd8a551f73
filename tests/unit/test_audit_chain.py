"""The hash-chained audit trail (qcl.obs.audit): every way of tampering with a stored entry is caught by verify.

.venv/bin/pytest tests/unit/test_audit_chain.py
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qcl.obs.audit import GENESIS, AuditTrail, entry_hash
from qcl.store.keys import LEDGER_ENTRY
from qcl.store.ledger import FileLedger, StoreLedger
from qcl.store.memory import MemoryStore

Lines = list[str]


class FileTamper:
    """The trail in a file, and a hand that rewrites its lines."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "audit.jsonl"
        self.trail = AuditTrail(FileLedger(self.path))

    def rewrite(self, change: Callable[[Lines], Lines]) -> None:
        self.path.write_text("\n".join(change(self.path.read_text().splitlines())) + "\n")


class StoreTamper:
    """The trail in the store, rewritten entry by entry (what someone with store access could do)."""

    def __init__(self, tmp_path: Path) -> None:
        self.store = MemoryStore()
        self.trail = AuditTrail(StoreLedger(self.store, "audit"))

    def rewrite(self, change: Callable[[Lines], Lines]) -> None:
        keys = [LEDGER_ENTRY.key(ledger="audit", seq=n) for n in range(1, 6)]
        lines = [self.store.get(k) or "" for k in keys]
        changed = change(lines)
        for n, key in enumerate(keys):
            if n < len(changed):
                self.store.put(key, changed[n])
            else:
                self.store.delete(key)


@pytest.fixture(params=[FileTamper, StoreTamper], ids=["file", "store"])
def chain(request: pytest.FixtureRequest, tmp_path: Path) -> FileTamper | StoreTamper:
    tamper: FileTamper | StoreTamper = request.param(tmp_path)
    for n in range(1, 6):
        tamper.trail.append({"action": "api_key.created", "actor": f"key:{n}", "target": f"k{n}", "outcome": "ok"})
    return tamper


def _edit(n: int, **fields: str) -> Callable[[Lines], Lines]:
    def change(lines: Lines) -> Lines:
        entry = json.loads(lines[n - 1])
        entry.update(fields)
        lines[n - 1] = json.dumps(entry)
        return lines

    return change


def test_an_untouched_chain_verifies_and_links_every_entry(chain: FileTamper | StoreTamper) -> None:
    verdict = chain.trail.verify()
    entries = chain.trail.entries()
    assert verdict.ok and verdict.entries == 5 and verdict.head_hash == entries[-1]["hash"]
    assert entries[0]["prev"] == GENESIS
    assert all(b["prev"] == a["hash"] == entry_hash(a) for a, b in itertools.pairwise(entries))


def test_an_edited_entry_is_caught_at_that_entry(chain: FileTamper | StoreTamper) -> None:
    chain.rewrite(_edit(3, actor="key:someone-else"))
    verdict = chain.trail.verify()
    assert not verdict.ok and verdict.broken_seq == 3 and "edited" in (verdict.reason or "")


def test_an_edit_that_recomputes_its_own_hash_breaks_the_next_link(chain: FileTamper | StoreTamper) -> None:
    def forge(lines: Lines) -> Lines:
        entry = json.loads(lines[2])
        entry["actor"] = "key:someone-else"
        entry["hash"] = entry_hash(entry)
        lines[2] = json.dumps(entry)
        return lines

    chain.rewrite(forge)
    verdict = chain.trail.verify()
    assert not verdict.ok and verdict.broken_seq == 4 and verdict.entries == 3


def test_a_deleted_entry_is_caught(chain: FileTamper | StoreTamper) -> None:
    chain.rewrite(lambda lines: lines[:1] + lines[2:])
    verdict = chain.trail.verify()
    assert not verdict.ok and verdict.broken_seq == 2 and "deleted" in (verdict.reason or "")


def test_reordered_entries_are_caught(chain: FileTamper | StoreTamper) -> None:
    chain.rewrite(lambda lines: [lines[0], lines[2], lines[1], *lines[3:]])
    verdict = chain.trail.verify()
    assert not verdict.ok and verdict.broken_seq == 2


def test_an_entry_that_is_not_json_is_caught(chain: FileTamper | StoreTamper) -> None:
    chain.rewrite(lambda lines: [*lines[:4], "{not json"])
    verdict = chain.trail.verify()
    assert not verdict.ok and verdict.broken_seq == 5 and "JSON" in (verdict.reason or "")


def test_deleting_the_newest_entries_of_a_store_trail_is_caught() -> None:
    tamper = StoreTamper(Path("."))
    for n in range(3):
        tamper.trail.append({"action": "x", "actor": f"key:{n}", "outcome": "ok"})
    tamper.store.delete(LEDGER_ENTRY.key(ledger="audit", seq=3))
    verdict = tamper.trail.verify()
    assert not verdict.ok and verdict.entries == 2 and "deleted" in (verdict.reason or "")


def test_entries_filter_by_actor_action_and_time(chain: FileTamper | StoreTamper) -> None:
    chain.trail.append({"action": "api_key.revoked", "actor": "key:2", "target": "k1", "outcome": "ok"})
    assert [e["seq"] for e in chain.trail.entries(actor="key:2")] == [2, 6]
    assert [e["seq"] for e in chain.trail.entries(action="api_key.revoked")] == [6]
    assert chain.trail.entries(since=datetime.now(UTC) + timedelta(minutes=1)) == []

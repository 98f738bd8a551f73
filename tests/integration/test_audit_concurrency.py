"""Two processes appending to one audit trail at once still leave one valid chain: on Redis (the store ledger's
SET NX claims) and in the embedded file (its lock).

.venv/bin/pytest tests/integration/test_audit_concurrency.py
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qcl.obs.audit import AuditTrail
from qcl.store.ledger import FileLedger, StoreLedger
from qcl.store.redis import RedisStore
from tests.backends import unique

PER_PROCESS = 150
APPENDER = f"""
import sys
from pathlib import Path
from qcl.obs.audit import AuditTrail
from qcl.store.ledger import FileLedger, StoreLedger
from qcl.store.redis import RedisStore
where, name = sys.argv[1], sys.argv[2]
if where.startswith("redis"):
    ledger = StoreLedger(RedisStore(where, prefix=sys.argv[3]), "audit")
else:
    ledger = FileLedger(Path(where))
trail = AuditTrail(ledger)
print("ready", flush=True)
sys.stdin.readline()  # both start together
for n in range({PER_PROCESS}):
    trail.append({{"action": "test.append", "actor": name, "target": str(n), "outcome": "ok"}})
"""


def _race(*args: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, args[0], name, *args[1:]],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("proc:a", "proc:b")
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        assert proc.wait(timeout=120) == 0


def _assert_one_chain(trail: AuditTrail) -> None:
    verdict = trail.verify()
    assert verdict.ok, verdict.reason
    entries = trail.entries()
    assert verdict.entries == len(entries) == 2 * PER_PROCESS
    for actor in ("proc:a", "proc:b"):  # nothing lost, each process's entries in its own order
        assert [e["target"] for e in entries if e["actor"] == actor] == [str(n) for n in range(PER_PROCESS)]
    actors = [e["actor"] for e in entries]
    assert any(a != b for a, b in itertools.pairwise(actors))  # they did interleave


@pytest.mark.redis
def test_two_processes_appending_on_redis_keep_one_valid_chain(redis_server_url: str) -> None:
    prefix = unique("qcl-test-audit:") + ":"
    _race(redis_server_url, prefix)
    store = RedisStore(redis_server_url, prefix=prefix)
    try:
        _assert_one_chain(AuditTrail(StoreLedger(store, "audit")))
    finally:
        store.clear()
        store.close()


def test_two_processes_appending_to_the_file_keep_one_valid_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _race(str(path))
    _assert_one_chain(AuditTrail(FileLedger(path)))

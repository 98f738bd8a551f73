"""`qcl bench backup`: how long a backup and a restore take, and how big the file is, for N tasks.

    qcl bench backup --n 10000 --json                   # memory store
    qcl bench backup --n 100000 --store redis --json    # Redis (QCL_REDIS_URL), what a deployment runs on

The state: N finished tasks (the submitted task, its running step and its outcome, an attestation-sized result with
signature-like random hex that does not compress) under the store's task families, plus a state directory with a
real 4-member oracle committee and an admin key. `backup` is collect + seal + write to a local folder; `restore` is
read + verify + write into an empty namespace and an empty state directory; both are timed end to end, the way
`qcl backup create` and `qcl backup restore` run them, so they are the RPO/RTO inputs of
docs/runbooks/disaster-recovery.md.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qcl.backup.archive import KEY_BYTES, seal, unseal
from qcl.backup.destinations import LocalDestination
from qcl.backup.state import collect, restore
from qcl.config import available_cores
from qcl.oracle.setup import init_committee
from qcl.store.base import Store
from qcl.store.keys import TASK, TASK_STEP

WEEK_S = 7 * 24 * 3600  # the task families' time to live


def fill(store: Store, n: int, progress: Callable[[str], None]) -> None:
    for index in range(n):
        task_id = f"{index:08x}{secrets.token_hex(8)}"
        store.put(TASK.key(task_id=task_id), json.dumps({"id": task_id, "kind": "oracle"}), ttl_s=WEEK_S)
        store.put(TASK_STEP.key(task_id=task_id, step="running"), json.dumps({"worker": "oracle-0"}), ttl_s=WEEK_S)
        result = {"job_id": task_id, "value": 87.5, "signatures": [secrets.token_hex(64) for _ in range(3)]}
        store.put(TASK_STEP.key(task_id=task_id, step="outcome"), json.dumps({"result": result}), ttl_s=WEEK_S)
        if (index + 1) % 10_000 == 0:
            progress(f"bench backup: {index + 1}/{n} tasks written")


def run_backup_bench(
    source: Store, target: Store, *, n: int, progress: Callable[[str], None] = lambda line: None
) -> dict[str, Any]:
    """Back up `source` (filled with `n` tasks here) and restore into `target` (empty); both are cleared after."""
    key = os.urandom(KEY_BYTES)
    with tempfile.TemporaryDirectory(prefix="qcl-bench-backup-") as scratch:
        old, new, folder = Path(scratch) / "old", Path(scratch) / "new", LocalDestination(Path(scratch) / "backups")
        init_committee(old / "oracle" / "n4", n=4)
        (old / "admin.key").write_text(f"qcl_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}\n")
        source.clear()
        target.clear()
        try:
            fill(source, n, progress)
            progress("bench backup: backing up")
            started = time.perf_counter()
            records = collect(source, old)
            location = folder.put("bench.qclb", seal(records, key, source="bench"))
            backup_s = time.perf_counter() - started
            size = Path(location).stat().st_size
            progress("bench backup: restoring")
            started = time.perf_counter()
            _, verified = unseal(folder.get("bench.qclb"), key)
            restored = restore(verified, target, new)
            restore_s = time.perf_counter() - started
            keys = sum(1 for _ in target.scan())
        finally:
            source.clear()
            target.clear()
    assert keys == restored.keys == 3 * n, f"restored {keys} keys of {3 * n}"
    return {
        "store": source.backend,
        "tasks": n,
        "keys": restored.keys,
        "files": restored.files,
        "archive_bytes": size,
        "bytes_per_key": round(size / restored.keys, 1),
        "backup_s": round(backup_s, 3),
        "restore_s": round(restore_s, 3),
        "backup_keys_per_s": round(restored.keys / backup_s),
        "restore_keys_per_s": round(restored.keys / restore_s),
        # The whole process's peak: with Redis it is the backup's and restore's in-memory file and records (what the
        # Cloud Run job's memory limit must hold); with the memory store the N tasks too.
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "machine": {"platform": platform.platform(), "cpus": available_cores()},
    }

"""What a backup holds, read from a stack and written back into one.

    records = collect(store, state_dir)                        # the families keys.py marks `backup`, and the files
    restore(records, store, state_dir, force=False)            # into an empty target; all of it or nothing

The store part is every key whose family in qcl.store.keys says `backup=True` (API keys, tasks, jobs, workflows, the
oracle's results, ledger and sequence numbers, the analysis history). The file part is what the stack keeps under its
state directory and cannot rebuild: the admin key, the API keys file and the pepper their hashes are made with (an
old key authenticates again only with both), the audit trail, and the oracle committee's folder (member keys, each
member's signing state and attestations): the restored members go on numbering and signing where they stopped, so
the attestations restored still verify against the committee restored.
"""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qcl.api.keys import ADMIN_KEY_FILE, KEYS_FILE, PEPPER_FILE
from qcl.backup.archive import BackupError
from qcl.store.base import Entry, Store
from qcl.store.keys import family_of
from qcl.store.ledger import LEDGERS, ledger_file

# Under the state directory: files and folders a restored stack needs back (models, logs and ops/ it rebuilds).
STATE_PATHS = (ADMIN_KEY_FILE, KEYS_FILE, PEPPER_FILE, *map(ledger_file, LEDGERS), "oracle")
_STAGING = ".restore-"  # a restore writes its files beside the target first, then moves them in


@dataclass(frozen=True)
class Restored:
    keys: int
    files: int
    expired: int  # keys whose time to live ran out between the backup and the restore


def backed_up(key: str) -> str | None:
    """The family pattern of a key a backup keeps, or None (unregistered, or a family marked backup=False)."""
    family = family_of(key)
    return family.pattern if family is not None and family.backup else None


def collect(
    store: Store | None, state_dir: Path, progress: Callable[[str], None] = lambda line: None
) -> Iterator[dict[str, Any]]:
    """The records of a backup, one at a time: the store's kept keys (none when `store` is None), then the state
    files."""
    if store is not None:
        now = time.time()
        for read, entry in enumerate(store.scan(lambda key: backed_up(key) is not None), 1):
            expires_at = None if entry.ttl_s is None else now + entry.ttl_s  # wall clock: a restore may be days later
            record = {"family": backed_up(entry.key), "key": entry.key, "kind": entry.kind, "value": entry.value}
            yield {"store": {**record, "expires_at": expires_at}}
            if read % 10_000 == 0:
                progress(f"backup: {read} keys read")
    for path in state_files(state_dir):
        relative = path.relative_to(state_dir).as_posix()
        data = base64.b64encode(path.read_bytes()).decode()
        yield {"file": {"path": relative, "mode": path.stat().st_mode & 0o777, "data": data}}


def state_files(state_dir: Path) -> list[Path]:
    found = []
    for name in STATE_PATHS:
        path = state_dir / name
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file())
    return found


def restore(records: list[dict[str, Any]], store: Store | None, state_dir: Path, *, force: bool = False) -> Restored:
    """Write a verified backup's records into `store` and `state_dir`.

    Refuses a target that holds state unless `force` (then the store's namespace and the state paths are replaced).
    The files are staged beside the target, the store is written in one step, and only then are the files moved in:
    a failure before that leaves the target as it was.
    """
    entries, expired = _entries(records)
    files = [record["file"] for record in records if "file" in record]
    if entries and store is None:
        raise BackupError(
            f"the backup holds {len(entries)} store keys but the target store is memory (it lives inside `qcl up`): "
            "restore into a Redis store (QCL_STORE=redis)"
        )
    _check_empty(store, state_dir, force=force)
    staging = state_dir / f"{_STAGING}{uuid.uuid4().hex[:8]}"
    try:
        for file in files:
            _stage(staging, file)
        if store is not None:
            store.load(entries, replace=force)
        _move_in(staging, state_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Restored(keys=len(entries), files=len(files), expired=expired)


def _entries(records: list[dict[str, Any]]) -> tuple[list[Entry], int]:
    now, entries, expired = time.time(), [], 0
    for record in records:
        if "store" not in record:
            continue
        fields = record["store"]
        ttl_s = None if fields["expires_at"] is None else fields["expires_at"] - now
        if ttl_s is not None and ttl_s <= 0:
            expired += 1
            continue
        value = [tuple(item) for item in fields["value"]] if fields["kind"] == "window" else fields["value"]
        entries.append(Entry(fields["key"], fields["kind"], value, ttl_s))
    return entries, expired


def _check_empty(store: Store | None, state_dir: Path, *, force: bool) -> None:
    held = [name for name in STATE_PATHS if (state_dir / name).exists()]
    keys = 0 if store is None else sum(1 for _ in store.scan())
    if (held or keys) and not force:
        where = [f"{state_dir} holds {', '.join(held)}"] if held else []
        where += [f"the {store.backend} store holds {keys} keys"] if store is not None and keys else []
        raise BackupError(
            f"the target is not empty: {'; '.join(where)}. Restore into a fresh stack (a new QCL_STATE_DIR and "
            "QCL_REDIS_PREFIX), or pass --force to replace what is there. Nothing was restored."
        )


def _stage(staging: Path, file: dict[str, Any]) -> None:
    relative = Path(file["path"])
    if relative.is_absolute() or ".." in relative.parts or relative.parts[0] not in STATE_PATHS:
        raise BackupError(f"the backup holds a file outside the state paths: {file['path']!r}")
    try:
        data = base64.b64decode(file["data"], validate=True)
    except (binascii.Error, ValueError):
        raise BackupError(f"the backup's copy of {file['path']} is not base64") from None
    path = staging / relative
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, file["mode"] & 0o777)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _move_in(staging: Path, state_dir: Path) -> None:
    """Replace each state path by its staged copy (a rename each; with --force the old one goes after)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    for name in STATE_PATHS:
        target = state_dir / name
        if target.exists():  # only with --force: _check_empty refused otherwise
            old = staging.with_name(staging.name + "-old-" + name)
            target.rename(old)
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        if (staging / name).exists():
            (staging / name).rename(target)

"""The three operations behind `qcl backup`, on a stack's settings.

    made = create_backup(settings, progress=print)                       # to settings.backup_to
    for listed in list_backups(settings): print(listed.id, listed.manifest)
    manifest, restored = restore_backup(settings, "qcl-backup-20261205T080000Z-ab12cd34")   # an id or a file path

The store is the stack's (a replaying `qcl up` keeps its keys under <prefix>replay:, qcl.pipeline.stack); an embedded
memory store lives inside `qcl up`'s process, so a backup taken from another process holds the state files only.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from qcl.backup.archive import KEY_BYTES, BackupError, Manifest, read_manifest, seal, unseal
from qcl.backup.destinations import SUFFIX, Destination, open_destination
from qcl.backup.state import Restored, collect, restore
from qcl.config import Settings
from qcl.store import Store, open_store

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Made:
    id: str
    location: str
    manifest: Manifest
    size: int
    seconds: float


@dataclass(frozen=True)
class Listed:
    id: str
    manifest: Manifest | None
    problem: str | None  # why the manifest could not be read


def new_key() -> str:
    """A fresh backup key, base64, for QCL_BACKUP_KEY."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def load_key(settings: Settings) -> bytes:
    if settings.backup_key is not None and settings.backup_key.get_secret_value():  # set empty: not set
        text, origin = settings.backup_key.get_secret_value(), "QCL_BACKUP_KEY"
    elif settings.backup_key_file is not None:
        try:
            text, origin = settings.backup_key_file.read_text().strip(), str(settings.backup_key_file)
        except OSError as exc:
            raise BackupError(f"cannot read the backup key file {settings.backup_key_file}: {exc.strerror}") from None
    else:
        raise BackupError(
            "no backup key: set QCL_BACKUP_KEY (base64 of 32 bytes; `qcl backup keygen` prints one; on Google Cloud "
            "it comes from Secret Manager) or QCL_BACKUP_KEY_FILE"
        )
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BackupError(f"{origin} is not base64") from None
    if len(key) != KEY_BYTES:
        raise BackupError(f"{origin} must hold {KEY_BYTES} bytes (base64), got {len(key)}")
    return key


def backup_id(manifest: Manifest) -> str:
    return f"qcl-backup-{manifest.created_at:%Y%m%dT%H%M%SZ}-{manifest.payload_sha256[:8]}"


def open_stack_store(settings: Settings) -> Store | None:
    """The store `qcl up` runs on with these settings, or None for the embedded one (out of reach)."""
    from qcl.pipeline.stack import stack_settings

    return open_store(stack_settings(settings)) if settings.store == "redis" else None


def describe(settings: Settings, store: Store | None) -> str:
    from qcl.pipeline.stack import stack_settings

    where = f"redis {stack_settings(settings).redis_prefix}*" if store is not None else "memory store (not included)"
    return f"{where}, state {settings.state_dir.resolve()}"


def create_backup(settings: Settings, *, to: str | None = None, progress: Progress = lambda line: None) -> Made:
    key = load_key(settings)  # before any work: a missing key is the commonest mistake
    destination = open_destination(to or settings.backup_to, project=settings.project)
    started = time.perf_counter()
    with _reaching("backup"):
        store = open_stack_store(settings)
        try:
            progress(f"backup: reading and sealing {describe(settings, store)}")
            data = seal(collect(store, settings.state_dir, progress), key, source=describe(settings, store))
        finally:
            if store is not None:
                store.close()
        manifest = read_manifest(data)
        name = backup_id(manifest)
        progress(f"backup: writing {len(data)} bytes to {destination.where}")
        location = destination.put(name + SUFFIX, data)
    return Made(name, location, manifest, len(data), time.perf_counter() - started)


def list_backups(settings: Settings, *, source: str | None = None) -> list[Listed]:
    destination = open_destination(source or settings.backup_to, project=settings.project)
    listed = []
    with _reaching("list"):
        for name in destination.names():
            try:
                listed.append(Listed(name.removesuffix(SUFFIX), read_manifest(destination.head(name)), None))
            except BackupError as exc:
                listed.append(Listed(name.removesuffix(SUFFIX), None, str(exc)))
    return sorted(listed, key=lambda item: item.id)


def fetch(settings: Settings, ref: str, *, source: str | None = None) -> bytes:
    """A backup's bytes: `ref` is a file path, or an id (or file name) in the destination."""
    path = Path(ref)
    if path.is_file():
        return path.read_bytes()
    destination: Destination = open_destination(source or settings.backup_to, project=settings.project)
    name = ref if ref.endswith(SUFFIX) else ref + SUFFIX
    if name not in destination.names():
        raise BackupError(f"no backup {ref!r}: not a file, and not in {destination.where} (see `qcl backup list`)")
    return destination.get(name)


def restore_backup(
    settings: Settings,
    ref: str,
    *,
    source: str | None = None,
    force: bool = False,
    progress: Progress = lambda line: None,
) -> tuple[Manifest, Restored]:
    if settings.store == "redis" and settings.source == "replay":
        raise BackupError(
            "QCL_SOURCE=replay: `qcl up` clears a replay's store when it starts, so what is restored there would be "
            "lost; restore for the stack that will run it (QCL_SOURCE=rpc). Nothing was restored."
        )
    key = load_key(settings)
    with _reaching("restore"):
        data = fetch(settings, ref, source=source)
        progress(f"restore: verifying {len(data)} bytes")
        manifest, records = unseal(data, key)
        store = open_stack_store(settings)
        try:
            progress(f"restore: writing {len(records)} records into {describe(settings, store)}")
            restored = restore(records, store, settings.state_dir, force=force)
        finally:
            if store is not None:
                store.close()
    return manifest, restored


@contextmanager
def _reaching(operation: str) -> Iterator[None]:
    """A store, disk or Cloud Storage that fails becomes a BackupError naming it (the CLI prints it, no traceback);
    a restore that fails this way has not moved its files in (qcl.backup.state.restore)."""
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import GoogleAuthError
    from redis import RedisError

    try:
        yield
    except (RedisError, OSError, GoogleAPIError, GoogleAuthError) as exc:
        raise BackupError(f"{operation} failed: {type(exc).__name__}: {exc}") from None

"""API keys: create, verify, revoke, list. Only a keyed hash of each key is kept.

    qcl keys create --role operator --name dashboard     # prints the key once
    qcl keys list
    qcl keys revoke 3f9c0a12

A key reads `qcl_<id>_<secret>`: the id (8 hex digits) names the key in lists, logs and the audit trail; the
secret is 32 random bytes. What is stored per key: id, name, role, HMAC-SHA256(pepper, key), who created it and
when, when it was revoked, and its scope: an expiry time and the route tags it may reach (none: every tag its role
allows). The request gate (qcl.api.app) refuses an expired key with 401 and a route outside the key's tags with 403.

HMAC rather than argon2 or scrypt: slow hashes protect low-entropy passwords, while a key carries 256 random bits,
so guessing is hopeless anyway and a slow hash would only cost tens of milliseconds of CPU on every request. The
pepper lives apart from the stored hashes (a 0600 file in the state directory, or Secret Manager on GCP), so a copy
of the key storage alone cannot even confirm a guessed key.

Storage: a JSON file under the state directory (embedded), or the store (shared by every API instance; GCP).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from qcl.api.schemas import Role
from qcl.config import Settings
from qcl.errors import ConfigError, QclError
from qcl.obs.logging import audit
from qcl.store.base import Store
from qcl.store.keys import API_KEY_RECORD, API_KEYS_INDEX

_KEY = re.compile(r"^qcl_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
PEPPER_FILE = "api-key-pepper"
KEYS_FILE = "api-keys.json"
ADMIN_KEY_FILE = "admin.key"


class UnknownKeyError(QclError, KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


class RevokedKeyError(QclError):
    """A revoked key cannot be changed (it never verifies again)."""


class KeyRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    role: Role
    hash: str  # hex HMAC-SHA256(pepper, key)
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    expires_at: datetime | None = None  # refused from then on (401 key_expired)
    tags: list[str] | None = None  # route tags it may reach besides "auth"; None: every one its role may

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"hash"})

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def reaches(self, tag: str) -> bool:
        """Whether the key's scope covers a route of `tag` (whoami, tag "auth", is always in scope)."""
        return self.tags is None or tag in self.tags or tag == "auth"


class KeyStorage(ABC):
    @abstractmethod
    def get(self, key_id: str) -> KeyRecord | None: ...

    @abstractmethod
    def put(self, record: KeyRecord) -> None: ...

    @abstractmethod
    def all(self) -> list[KeyRecord]: ...

    @abstractmethod
    def delete(self, key_id: str) -> None: ...


class FileKeyStorage(KeyStorage):
    """A 0600 JSON file; writes take an exclusive lock so `qcl keys` and a running server never interleave."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cache: tuple[tuple[int, int], dict[str, KeyRecord]] | None = None

    def _read(self) -> dict[str, KeyRecord]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        version = (stat.st_mtime_ns, stat.st_size)
        if self._cache is None or self._cache[0] != version:  # another process may have written since
            body = json.loads(self.path.read_text(encoding="utf-8") or "{}")
            records = {r["id"]: KeyRecord.model_validate(r) for r in body.get("keys", [])}
            self._cache = (version, records)
        return self._cache[1]

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def get(self, key_id: str) -> KeyRecord | None:
        return self._read().get(key_id)

    def put(self, record: KeyRecord) -> None:
        with self._locked():
            self._cache = None
            records = dict(self._read())
            records[record.id] = record
            self._write(records)

    def all(self) -> list[KeyRecord]:
        return list(self._read().values())

    def delete(self, key_id: str) -> None:
        with self._locked():
            self._cache = None
            records = {k: r for k, r in self._read().items() if k != key_id}
            self._write(records)

    def _write(self, records: dict[str, KeyRecord]) -> None:
        body = {"keys": [r.model_dump(mode="json") for r in records.values()]}
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(body, handle, indent=1)
        os.replace(tmp, self.path)  # readers see the old file or the new one, never half of one
        self._cache = None


class StoreKeyStorage(KeyStorage):
    """Records under `api:keys:<id>`, ids in the capped list `api:keys:index`."""

    INDEX = API_KEYS_INDEX.key()

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, key_id: str) -> KeyRecord | None:
        raw = self.store.get(API_KEY_RECORD.key(key_id=key_id))
        return None if raw is None else KeyRecord.model_validate_json(raw)

    def put(self, record: KeyRecord) -> None:
        fresh = self.store.get(API_KEY_RECORD.key(key_id=record.id)) is None
        self.store.put(API_KEY_RECORD.key(key_id=record.id), record.model_dump_json())
        if fresh:
            self.store.list_push(self.INDEX, record.id, max_len=100_000)

    def all(self) -> list[KeyRecord]:
        ids = dict.fromkeys(self.store.list_range(self.INDEX, 100_000))
        return [r for r in (self.get(key_id) for key_id in ids) if r is not None]

    def delete(self, key_id: str) -> None:
        self.store.delete(API_KEY_RECORD.key(key_id=key_id))
        self.store.list_remove(self.INDEX, key_id)


class KeyService:
    def __init__(self, storage: KeyStorage, pepper: bytes, clock: Callable[[], datetime] | None = None) -> None:
        if len(pepper) < 16:
            raise ConfigError("the API key pepper must be at least 16 bytes")
        self.storage = storage
        self._pepper = pepper
        self._clock = clock or (lambda: datetime.now(UTC))

    def _hash(self, key: str) -> str:
        return hmac.new(self._pepper, key.encode(), hashlib.sha256).hexdigest()

    def now(self) -> datetime:
        return self._clock()

    def create(
        self,
        role: Role,
        name: str,
        *,
        created_by: str,
        expires_at: datetime | None = None,
        tags: list[str] | None = None,
    ) -> tuple[KeyRecord, str]:
        """A new key; returns its record and the key itself, which is never stored and cannot be shown again."""
        key_id = secrets.token_hex(4)
        while self.storage.get(key_id) is not None:
            key_id = secrets.token_hex(4)
        key = f"qcl_{key_id}_{secrets.token_urlsafe(32)}"
        record = KeyRecord(
            id=key_id,
            name=name,
            role=role,
            hash=self._hash(key),
            created_at=self._clock(),
            created_by=created_by,
            expires_at=expires_at,
            tags=tags,
        )
        self.storage.put(record)
        audit("api_key.created", actor=created_by, target=key_id, role=role.value, name=name, **_scope(record))
        return record, key

    def verify(self, presented: str) -> KeyRecord | None:
        """The live key's record, or None for a malformed, unknown, wrong or revoked key (an expired key's record is
        returned: the gate refuses it, saying it expired)."""
        match = _KEY.match(presented)
        if match is None:
            return None
        record = self.storage.get(match.group(1))
        if record is None or record.revoked_at is not None:
            return None
        return record if hmac.compare_digest(record.hash, self._hash(presented)) else None

    def revoke(self, key_id: str, *, revoked_by: str) -> KeyRecord:
        record = self.storage.get(key_id)
        if record is None:
            raise UnknownKeyError(f"no API key with id {key_id!r}")
        if record.revoked_at is None:
            record = record.model_copy(update={"revoked_at": self._clock()})
            self.storage.put(record)
            audit("api_key.revoked", actor=revoked_by, target=key_id, role=record.role.value)
        return record

    def get(self, key_id: str) -> KeyRecord:
        record = self.storage.get(key_id)
        if record is None:
            raise UnknownKeyError(f"no API key with id {key_id!r}")
        return record

    def erase(self, key_id: str) -> KeyRecord:
        """Forget a key altogether (a privacy erasure: its name and who made it go too); it never verifies again.
        The caller audits the erasure (qcl.privacy.subject), with what else went."""
        record = self.get(key_id)
        self.storage.delete(key_id)
        return record

    def update(self, key_id: str, changes: dict[str, Any], *, updated_by: str) -> KeyRecord:
        """Change a key's name, role or scope (`changes`: the fields to set, None clearing a scope field)."""
        record = self.storage.get(key_id)
        if record is None:
            raise UnknownKeyError(f"no API key with id {key_id!r}")
        if record.revoked_at is not None:
            raise RevokedKeyError(f"API key {key_id} was revoked at {record.revoked_at.isoformat()}; create a new one")
        changed = {name: value for name, value in changes.items() if getattr(record, name) != value}
        if changed:
            record = record.model_copy(update=changed)
            self.storage.put(record)
            shown = {name: value.value if isinstance(value, Role) else value for name, value in changed.items()}
            audit("api_key.updated", actor=updated_by, target=key_id, **{**shown, **_scope(record)})
        return record

    def list(self) -> list[KeyRecord]:
        return sorted(self.storage.all(), key=lambda r: r.created_at)

    def ensure_admin_key(self, state_dir: Path) -> tuple[Path, bool]:
        """The embedded stack's admin key file: reused while its key is live, else a new key; (path, created)."""
        path = state_dir / ADMIN_KEY_FILE
        record = self.verify(path.read_text(encoding="utf-8").strip()) if path.exists() else None
        if record is not None and not record.expired(self._clock()):
            return path, False
        _, key = self.create(Role.ADMIN, "admin (qcl up)", created_by="qcl up")
        state_dir.mkdir(parents=True, exist_ok=True)
        write_secret(path, key + "\n")
        return path, True


def _scope(record: KeyRecord) -> dict[str, Any]:
    """A key's scope as audit details."""
    expires = record.expires_at.isoformat() if record.expires_at else None
    return {"expires_at": expires, "tags": record.tags}


def write_secret(path: Path, text: str) -> None:
    """Write a file only its owner can read (mode 0600 from creation, never briefly wider)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def load_pepper(settings: Settings) -> bytes:
    if settings.api_key_pepper is not None:
        return settings.api_key_pepper.get_secret_value().encode()
    if settings.api_keys == "store":
        raise ConfigError("QCL_API_KEY_PEPPER must be set when API keys live in the store (on GCP: Secret Manager)")
    path = settings.state_dir / PEPPER_FILE
    if not path.exists():
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first; use theirs
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(secrets.token_hex(32))
    for _ in range(50):  # a process that lost the race to create the file may read it before it is written
        pepper = path.read_text(encoding="utf-8").strip()
        if pepper:
            return pepper.encode()
        time.sleep(0.02)
    raise ConfigError(f"{path} is empty; delete it to have a new pepper generated (existing keys stop verifying)")


def open_keys(settings: Settings, store: Store | None = None) -> KeyService:
    """The key service the settings describe: file under the state directory, or the store."""
    storage: KeyStorage
    if settings.api_keys == "store":
        if store is None:
            raise ConfigError("QCL_API_KEYS=store needs a store")
        storage = StoreKeyStorage(store)
    else:
        storage = FileKeyStorage(settings.state_dir / KEYS_FILE)
    return KeyService(storage, load_pepper(settings))

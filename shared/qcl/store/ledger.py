"""Append-only ledgers of numbered records: the audit trail's hash chain and the runtime settings' versions.

    ledger = open_ledger("audit", settings, store)
    ledger.append(lambda seq, previous: json.dumps({"seq": seq, "prev": ...}))   # -> the record written
    ledger.records()                                                              # oldest first

`make(seq, previous)` builds record `seq` from the record before it (None for the first); the ledger guarantees
that of concurrent appenders exactly one writes each number, so every record is built on the one really before it.
Two backends, chosen like the API keys' storage (QCL_API_KEYS) because they keep the admin's records together:

- file (embedded): JSON lines under the state directory, appended under an exclusive lock, so `qcl up` and a
  `qcl keys` in another shell never interleave; it outlives the restarts and replays that clear the store.
- store (GCP, every API instance): record N under `<name>:entry:N`, claimed with put_if_absent (an atomic SET NX
  on Redis: a loser re-reads and builds on the winner's record), and a head counter that may lag, never lead.
"""

from __future__ import annotations

import fcntl
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from qcl.config import Settings
from qcl.store.base import Store
from qcl.store.keys import LEDGER_ENTRY, LEDGER_HEAD

Make = Callable[[int, str | None], str]


class Ledger(ABC):
    @abstractmethod
    def append(self, make: Make) -> str:
        """Write the next record, built by `make(seq, previous record)`; returns it."""

    @abstractmethod
    def records(self) -> list[str]:
        """Every record, oldest first (a deleted one is simply absent: the records' own links tell)."""

    @abstractmethod
    def head(self) -> int:
        """The number of the newest record this ledger knows was written (0: none)."""


class FileLedger(Ledger):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._cache: tuple[tuple[int, int], list[str]] | None = None

    def append(self, make: Make) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                lines = self._read()
                record = make(len(lines) + 1, lines[-1] if lines else None)
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                with os.fdopen(fd, "a", encoding="utf-8") as handle:
                    handle.write(record + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                return record
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> list[str]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return []
        version = (stat.st_mtime_ns, stat.st_size)
        if self._cache is None or self._cache[0] != version:  # another process may have appended since
            lines = [line for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
            self._cache = (version, lines)
        return self._cache[1]

    def records(self) -> list[str]:
        return list(self._read())

    def head(self) -> int:
        return len(self._read())


class StoreLedger(Ledger):
    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.name = name

    def _entry(self, seq: int) -> str:
        return LEDGER_ENTRY.key(ledger=self.name, seq=seq)

    def head(self) -> int:
        """The head counter, then forward past records written since (their writers may not have bumped it yet)."""
        seq = int(self.store.get(LEDGER_HEAD.key(ledger=self.name)) or 0)
        while self.store.get(self._entry(seq + 1)) is not None:
            seq += 1
        return seq

    def append(self, make: Make) -> str:
        while True:
            seq = self.head()
            previous = self.store.get(self._entry(seq)) if seq else None
            record = make(seq + 1, previous)
            if self.store.put_if_absent(self._entry(seq + 1), record):
                self.store.put(LEDGER_HEAD.key(ledger=self.name), str(seq + 1))
                return record
            # another writer took seq + 1 first: build on its record instead

    def records(self) -> list[str]:
        found = (self.store.get(self._entry(seq)) for seq in range(1, self.head() + 1))
        return [record for record in found if record is not None]


LEDGERS = ("audit", "settings")  # the hash-chained audit trail, the runtime settings' versions


def ledger_file(name: str) -> str:
    """A file ledger's name under the state directory (backups carry these files)."""
    return f"{name}.jsonl"


def open_ledger(name: str, settings: Settings, store: Store | None) -> Ledger:
    """The ledger `name` where the settings keep the admin's records: <state_dir>/<name>.jsonl, or the store."""
    if settings.api_keys == "store" and store is not None:
        return StoreLedger(store, name)
    return FileLedger(settings.state_dir / ledger_file(name))

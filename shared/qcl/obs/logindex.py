"""One searchable store of every process's log lines: SQLite with full-text search locally, Cloud Logging on GCP.

    index = SqliteLogIndex(state_dir / "logs" / "index.sqlite3")
    collector = LogCollector(index, state_dir / "logs", retention_h=72).start()   # tails <service>.jsonl files
    index.search(parse_query(since="15m", request_id="3f2a..."))                   # newest first

Each process writes JSON lines to <log_dir>/<service>.jsonl (qcl.obs.logging), rotated to .jsonl.1, .2 ...; the
collector, in the API's process, reads what is new in each file about once a second, finishes a file that was
rotated away (found again by its inode) before starting the new one, and records each file's read offset in the
same transaction as its lines, so a restart neither loses nor repeats a line. Lines older than the retention are
deleted as new ones arrive. Why SQLite with FTS5: it is in the standard library, one file under the state
directory, and answers a request id or a phrase over a million lines in milliseconds, where scanning the files
takes seconds (`qcl bench logs`). On GCP, CloudLogIndex answers the same LogQuery from Cloud Logging.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from qcl.config import Settings
from qcl.obs.logquery import LEVELS, LogQuery, LogQueryError, cloud_filter

log = logging.getLogger(__name__)

_LEVEL_NUMBER = {name: 10 * (n + 1) for n, name in enumerate(LEVELS)}  # DEBUG 10 ... CRITICAL 50
READ_CHUNK = 4 * 1024 * 1024  # bytes read from one file per poll, so one busy file cannot hold up the others


class LogEntry(BaseModel):
    time: datetime
    severity: str
    service: str
    pid: int | None = None
    request_id: str | None = None
    logger: str | None = None
    message: str
    stack_trace: str | None = None


class LogIndex(Protocol):
    backend: str

    def search(self, query: LogQuery) -> list[LogEntry]: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS lines (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, level INTEGER NOT NULL, severity TEXT NOT NULL, service TEXT NOT NULL,
    pid INTEGER, request_id TEXT, logger TEXT, message TEXT NOT NULL, stack_trace TEXT);
CREATE INDEX IF NOT EXISTS lines_ts ON lines(ts);
CREATE INDEX IF NOT EXISTS lines_request ON lines(request_id) WHERE request_id IS NOT NULL;
CREATE VIRTUAL TABLE IF NOT EXISTS lines_text USING fts5(message, content='lines', content_rowid='id');
CREATE TRIGGER IF NOT EXISTS lines_added AFTER INSERT ON lines BEGIN
    INSERT INTO lines_text(rowid, message) VALUES (new.id, new.message); END;
CREATE TRIGGER IF NOT EXISTS lines_removed AFTER DELETE ON lines BEGIN
    INSERT INTO lines_text(lines_text, rowid, message) VALUES ('delete', old.id, old.message); END;
CREATE TABLE IF NOT EXISTS files (name TEXT PRIMARY KEY, inode INTEGER NOT NULL, offset INTEGER NOT NULL);
"""


def entry_from_line(raw: str, service: str) -> LogEntry | None:
    """A JSON line as qcl.obs.logging writes it; None for a line that is not (a crash's partial write, say)."""
    try:
        line = json.loads(raw)
        at = datetime.fromisoformat(line["time"])
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(line, dict):
        return None
    return LogEntry(
        time=at if at.tzinfo else at.replace(tzinfo=UTC),
        severity=str(line.get("severity", "DEFAULT")),
        service=str(line.get("service") or service),
        pid=line.get("pid") if isinstance(line.get("pid"), int) else None,
        request_id=line.get("request_id") or None,
        logger=line.get("logger"),
        message=str(line.get("message", "")),
        stack_trace=line.get("stack_trace"),
    )


def fts_match(terms: tuple[str, ...]) -> str:
    """Every term as an FTS5 phrase (so `-`, `:` or `OR` in what was typed are text, not operators), all required."""
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


class SqliteLogIndex:
    backend = "local"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()  # one connection, shared by the collector and the API's request threads

    def add(self, entries: list[LogEntry], *, file: tuple[str, int, int] | None = None) -> None:
        """Index `entries`; `file` (name, inode, offset) records how far that file has been read, atomically."""
        rows = [
            (
                e.time.timestamp(),
                _LEVEL_NUMBER.get(e.severity, 0),
                e.severity,
                e.service,
                e.pid,
                e.request_id,
                e.logger,
                e.message,
                e.stack_trace,
            )
            for e in entries
        ]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT INTO lines (ts, level, severity, service, pid, request_id, logger, message, stack_trace)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                if file is not None:
                    self._db.execute("INSERT OR REPLACE INTO files (name, inode, offset) VALUES (?, ?, ?)", file)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def position(self, name: str) -> tuple[int, int] | None:
        """(inode, offset) read so far of the file `name`, or None for a file never read."""
        with self._lock:
            row = self._db.execute("SELECT inode, offset FROM files WHERE name = ?", (name,)).fetchone()
        return (int(row[0]), int(row[1])) if row else None

    def expire(self, before: datetime) -> int:
        """Delete lines logged before `before`; returns how many."""
        with self._lock:
            return self._db.execute("DELETE FROM lines WHERE ts < ?", (before.timestamp(),)).rowcount

    def erase(self, terms: set[str]) -> int:
        """Delete the lines whose message holds any of `terms` as a word (an erasure, qcl.privacy); returns how many."""
        erased = 0
        with self._lock:
            for term in sorted(terms):
                match = "id IN (SELECT rowid FROM lines_text WHERE lines_text MATCH ?)"
                erased += self._db.execute(f"DELETE FROM lines WHERE {match}", (fts_match((term,)),)).rowcount  # noqa: S608 - constant
        return erased

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM lines").fetchone()[0])

    def search(self, query: LogQuery) -> list[LogEntry]:
        where: list[str] = ["1"]
        args: list[object] = []
        if query.since:
            where.append("ts >= ?")
            args.append(query.since.timestamp())
        if query.until:
            where.append("ts < ?")
            args.append(query.until.timestamp())
        if query.level:
            where.append("level >= ?")
            args.append(_LEVEL_NUMBER[query.level])
        if query.service:  # a process, or a family: "shard" is every shard-* process
            where.append("(service = ? OR service LIKE ? ESCAPE '\\')")
            args += [query.service, query.service.replace("_", "\\_").replace("%", "\\%") + "-%"]
        if query.request_id:
            where.append("request_id = ?")
            args.append(query.request_id)
        if query.terms:
            where.append("id IN (SELECT rowid FROM lines_text WHERE lines_text MATCH ?)")
            args.append(fts_match(query.terms))
        # The clauses are this method's constants; every value the caller gave is a ? parameter.
        select = "SELECT ts, severity, service, pid, request_id, logger, message, stack_trace FROM lines WHERE"
        sql = " ".join((select, " AND ".join(where), "ORDER BY ts DESC, id DESC LIMIT ?"))
        try:
            with self._lock:
                rows = self._db.execute(sql, [*args, query.limit]).fetchall()
        except sqlite3.OperationalError as exc:  # FTS5 refuses a few inputs even as phrases
            raise LogQueryError("q", f"the text search cannot run: {exc}") from None
        return [
            LogEntry(
                time=datetime.fromtimestamp(ts, UTC),
                severity=severity,
                service=service,
                pid=pid,
                request_id=request_id,
                logger=logger,
                message=message,
                stack_trace=stack_trace,
            )
            for ts, severity, service, pid, request_id, logger, message, stack_trace in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class LogCollector:
    """Tails every <service>.jsonl under `log_dir` into `index`, and deletes lines past the retention."""

    def __init__(
        self,
        index: SqliteLogIndex,
        log_dir: Path,
        *,
        retention_h: float,
        interval_s: float = 1.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.index = index
        self.log_dir = log_dir
        self.retention_s = retention_h * 3600
        self.interval_s = interval_s
        self.now = now
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="qcl-log-collector", daemon=True)

    def start(self) -> LogCollector:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.poll()  # the last lines written before the stop

    def _run(self) -> None:
        while not self._stopping.wait(self.interval_s):
            try:
                self.poll()
            except Exception:  # a bad poll (a disk hiccup) must not end collection; the next one retries
                log.exception("log collector: poll failed; retrying in %g s", self.interval_s)

    def poll(self) -> int:
        """Read what is new in every file, expire old lines; returns the lines indexed."""
        added = 0
        for path in sorted(self.log_dir.glob("*.jsonl")):
            added += self._collect(path)
        self.index.expire(datetime.fromtimestamp(self.now().timestamp() - self.retention_s, UTC))
        return added

    def _collect(self, path: Path) -> int:
        try:
            inode = path.stat().st_ino
        except FileNotFoundError:  # rotated between the listing and now: the next poll finds the new one
            return 0
        seen = self.index.position(path.name)
        if seen is not None and seen[0] == inode:
            return self._read(path, path, inode, seen[1])
        # Never read (a fresh index), or rotated since the last poll: the backups not read yet, oldest first (from
        # where the last poll stopped in the one it was reading), then the current file.
        added = 0
        backups = self._backups(path)
        start = next((n for n, (_, ino) in enumerate(backups) if seen is not None and ino == seen[0]), None)
        # Not found: never read, or rotated out of the kept backups already (its unread tail is gone).
        for n, (backup, backup_inode) in enumerate(backups[start or 0 :]):
            offset = seen[1] if seen is not None and start is not None and n == 0 else 0
            added += self._read(backup, path, backup_inode, offset)
        return added + self._read(path, path, inode, 0)

    @staticmethod
    def _backups(path: Path) -> list[tuple[Path, int]]:
        """<name>.1, .2 ... (RotatingFileHandler's backups) with their inodes, oldest (highest number) first."""
        found = []
        for candidate in path.parent.glob(path.name + ".*"):
            suffix = candidate.name.rsplit(".", 1)[1]
            try:
                found.append((int(suffix), candidate, candidate.stat().st_ino))
            except (ValueError, FileNotFoundError):
                continue
        return [(candidate, inode) for _, candidate, inode in sorted(found, reverse=True)]

    def _read(self, path: Path, current: Path, inode: int, offset: int) -> int:
        """Index the complete lines of `path` (the file `current` names, or one rotated from it) after `offset`;
        the position is kept under `current`'s name with the inode read, so a rotated file is finished first."""
        service = current.name.removesuffix(".jsonl")
        added = 0
        with path.open("rb") as handle:
            if os.fstat(handle.fileno()).st_size < offset:  # truncated in place: start again
                offset = 0
            while True:
                handle.seek(offset)
                chunk = handle.read(READ_CHUNK)
                end = chunk.rfind(b"\n") + 1  # a last line still being written waits for the next poll
                if end == 0:
                    return added
                entries = [
                    entry
                    for raw in chunk[:end].decode("utf-8", "replace").splitlines()
                    if (entry := entry_from_line(raw, service)) is not None
                ]
                offset += end
                self.index.add(entries, file=(current.name, inode, offset))
                added += len(entries)


class CloudLogIndex:  # pragma: no cover - needs Cloud Logging; the filter it sends is tested (cloud_filter)
    """The same search over Cloud Logging (google-cloud-logging's list_entries), for the deployed services."""

    backend = "cloud"

    def __init__(self, project: str) -> None:
        from google.cloud import logging as cloud_logging

        self._client = cloud_logging.Client(project=project)

    def search(self, query: LogQuery) -> list[LogEntry]:
        from google.cloud.logging import DESCENDING

        entries = self._client.list_entries(filter_=cloud_filter(query), order_by=DESCENDING, max_results=query.limit)
        return [_cloud_entry(entry) for entry in entries]


def _cloud_entry(entry: Any) -> LogEntry:  # pragma: no cover - see CloudLogIndex
    payload = entry.payload if isinstance(entry.payload, dict) else {"message": str(entry.payload)}
    labels = (entry.resource.labels if entry.resource else None) or {}
    return LogEntry(
        time=entry.timestamp,
        severity=entry.severity or "DEFAULT",
        service=labels.get("service_name") or labels.get("function_name") or entry.log_name or "",
        request_id=payload.get("request_id"),
        logger=payload.get("logger"),
        message=str(payload.get("message", "")),
        stack_trace=payload.get("stack_trace"),
    )


def open_log_index(settings: Settings) -> LogIndex | None:
    """Cloud Logging under QCL_LOG_SEARCH=cloud; else the local index of QCL_LOG_DIR; None without either."""
    if settings.log_search == "cloud":
        return CloudLogIndex(settings.project)
    if settings.log_dir is None:
        return None
    return SqliteLogIndex(settings.log_dir / "index.sqlite3")


def iter_files(log_dir: Path) -> Iterator[Path]:
    """Every log file of the folder, current and rotated (the bench's scan baseline reads them all)."""
    yield from sorted(p for p in log_dir.iterdir() if p.name.endswith(".jsonl") or ".jsonl." in p.name)


ERASED_LINE = b'{"erased":true}'


def redact_files(log_dir: Path, terms: set[str]) -> int:
    """Overwrite, in place, every line of the folder's log files that names one of `terms` (as a whole word) by
    `{"erased":true}` padded with spaces to the line's length; returns how many lines. In place and at the same
    length because processes keep appending to these files (O_APPEND) and the collector keeps byte offsets into
    them: neither notices. The collector skips such a line (it has no time)."""
    if not terms or not log_dir.is_dir():
        return 0
    pattern = re.compile(
        rb"(?<![0-9A-Za-z])(?:" + b"|".join(re.escape(t.encode()) for t in sorted(terms)) + rb")(?![0-9A-Za-z])"
    )
    redacted = 0
    for path in iter_files(log_dir):
        try:
            handle = path.open("r+b")
        except OSError:  # rotated away since the listing
            continue
        with handle:
            offset = 0
            for line in handle.read().splitlines(keepends=True):
                body = line.rstrip(b"\r\n")
                if pattern.search(body):
                    handle.seek(offset)
                    handle.write(ERASED_LINE.ljust(len(body)) if len(body) >= len(ERASED_LINE) else b" " * len(body))
                    redacted += 1
                offset += len(line)
    return redacted


def wait_indexed(index: SqliteLogIndex, count: int, timeout_s: float) -> bool:
    """True once the index holds at least `count` lines (tests and the bench wait on the collector with it)."""
    deadline = time.monotonic() + timeout_s
    while index.count() < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True

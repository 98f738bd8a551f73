"""`qcl bench logs --json`: how fast the collector indexes log lines, against how fast a process can write them, and
what the index buys a search over scanning the files.

    qcl bench logs --lines 100000 --rotate-kib 1024 --json

Three processes' worth of loggers (api and two shard stages, each through qcl.obs.logging's rotating JSON file
handler, one line in ten inside a request) write `lines` lines as fast as they can: the emit rate is the baseline
the collector must keep up with. Files rotate every `rotate_bytes`. The collector then indexes the folder (rotated
backups included) into SQLite with FTS5: the ingest rate. Then one request's lines and one phrase are searched in
the index and, as the baseline, by reading and parsing every file the way a grep over JSON would. Last, the newest
lines, as many as GET /api/ops/logs/patterns mines, go through Drain.
"""

from __future__ import annotations

import json
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qcl.obs.logging import bind_request, service_file_handler, unbind_request
from qcl.obs.logindex import LogCollector, SqliteLogIndex, iter_files
from qcl.obs.logquery import LogQuery
from qcl.obs.patterns import MAX_LINES, MiningWindow, mine

SERVICES = ("api", "shard-local-s0-r0", "shard-local-s1-r0")
MESSAGES = (  # the stack's commonest lines; `id` is a 128-bit id as uuid4().hex writes one
    "ingest: published tick {n} (epoch 186) as event {id:.8}-fdee-48f5-a686-e51c16d12a34",
    "analysis: tick {n} health 100 (healthy); findings: none",
    "shard local-s0-r0: session {id} opened on layers 0:1",
    "chatcmpl-{id} for user -: 31 prompt + 4 completion tokens, length, {n} ms",
)
SEARCHES = 20


def _id(n: int) -> str:
    """A well-spread 128-bit id for line `n` (Fibonacci hashing), so ids look random as uuid4's do."""
    return f"{n * 0x9E3779B97F4A7C15F39CC0605CEDC835 % 2**128:032x}"


def _loggers(log_dir: Path, rotate_bytes: int) -> list[logging.Logger]:
    loggers = []
    for service in SERVICES:
        logger = logging.getLogger(f"qcl.bench.logs.{service}")
        # Enough backups that nothing is rotated away: every written line must be indexed.
        logger.handlers[:] = [service_file_handler(log_dir, service, max_bytes=rotate_bytes, backups=1000)]
        logger.setLevel(logging.INFO)
        logger.propagate = False
        loggers.append(logger)
    return loggers


def _emit(loggers: list[logging.Logger], lines: int) -> float:
    started = time.perf_counter()
    for n in range(lines):
        logger = loggers[n % len(loggers)]
        if n % 10 == 0:
            token = bind_request(f"req-{n // 30:06d}")
            logger.info(MESSAGES[n % len(MESSAGES)].format(n=n, id=_id(n)))
            unbind_request(token)
        else:
            logger.info(MESSAGES[n % len(MESSAGES)].format(n=n, id=_id(n)))
    return time.perf_counter() - started


def _scan(log_dir: Path, keep: Callable[[dict[str, Any]], bool]) -> int:
    """The baseline search: read and parse every file, current and rotated."""
    found = 0
    for path in iter_files(log_dir):
        with path.open(encoding="utf-8") as handle:
            found += sum(1 for raw in handle if keep(json.loads(raw)))
    return found


def _timed_ms(run: Callable[[], int], times: int) -> tuple[float, int]:
    samples, found = [], 0
    for _ in range(times):
        started = time.perf_counter()
        found = run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), found


def run_logs_bench(
    lines: int, *, rotate_bytes: int = 1024 * 1024, progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="qcl-bench-logs-") as folder:
        log_dir = Path(folder) / "logs"
        loggers = _loggers(log_dir, rotate_bytes)
        progress(f"bench logs: writing {lines} lines from {len(SERVICES)} services")
        emit_s = _emit(loggers, lines)
        for logger in loggers:
            for handler in logger.handlers:
                handler.close()
        files = list(iter_files(log_dir))
        size = sum(p.stat().st_size for p in files)
        index = SqliteLogIndex(Path(folder) / "index.sqlite3")
        progress("bench logs: indexing")
        started = time.perf_counter()
        indexed = LogCollector(index, log_dir, retention_h=24).poll()
        ingest_s = time.perf_counter() - started
        request = f"req-{lines // 60:06d}"
        progress("bench logs: searching")
        by_id_ms, by_id = _timed_ms(lambda: len(index.search(LogQuery(request_id=request, limit=1000))), SEARCHES)
        phrase = ("session", "opened")
        text_ms, by_text = _timed_ms(lambda: len(index.search(LogQuery(terms=phrase, limit=100))), SEARCHES)
        scan_id_ms, scanned = _timed_ms(lambda: _scan(log_dir, lambda line: line.get("request_id") == request), 3)
        progress("bench logs: mining patterns")
        recent = index.search(LogQuery(limit=MAX_LINES))  # what GET /api/ops/logs/patterns mines at most
        started = time.perf_counter()
        templates = mine(recent, MiningWindow(now=datetime.now(UTC)))
        mine_s = time.perf_counter() - started
        index.close()
    return {
        "lines": lines,
        "services": len(SERVICES),
        "files": len(files),  # current and rotated
        "megabytes": round(size / 1e6, 1),
        "emit_lines_per_s": round(lines / emit_s),
        "ingest_lines_per_s": round(indexed / ingest_s),
        "ingest_over_emit": round((indexed / ingest_s) / (lines / emit_s), 2),  # > 1: the collector keeps up
        "indexed": indexed,
        "search_request_id_ms_p50": round(by_id_ms, 2),
        "search_text_ms_p50": round(text_ms, 2),
        "scan_request_id_ms_p50": round(scan_id_ms, 1),
        "search_speedup_over_scan": round(scan_id_ms / by_id_ms),
        "request_lines": by_id,
        "request_lines_scanned": scanned,
        "text_hits": by_text,
        "patterns_lines": len(recent),
        "patterns_ms": round(mine_s * 1000),  # one GET /api/ops/logs/patterns at its line limit
        "patterns": len(templates),
    }

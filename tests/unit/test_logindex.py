"""The local log store: the collector tails every process's rotated JSON files into SQLite (no line lost or repeated
across rotation and restarts), search filters by time, level, service, request id and text, and lines past the
retention go."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qcl.obs.logging import bind_request, service_file_handler, unbind_request
from qcl.obs.logindex import LogCollector, SqliteLogIndex
from qcl.obs.logquery import LogQuery, LogQueryError, parse_query


@pytest.fixture
def index(tmp_path: Path) -> Iterator[SqliteLogIndex]:
    store = SqliteLogIndex(tmp_path / "index.sqlite3")
    yield store
    store.close()


def process_logger(log_dir: Path, service: str, max_bytes: int = 1 << 20) -> logging.Logger:
    """A logger writing as a stack process does (qcl.obs.logging's file handler), without touching the root."""
    logger = logging.getLogger(f"test.logs.{service}.{id(log_dir)}")
    logger.handlers[:] = [service_file_handler(log_dir, service, max_bytes=max_bytes, backups=5)]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger


def messages(index: SqliteLogIndex, **fields: str) -> list[str]:
    return [e.message for e in index.search(parse_query(**fields, limit=100_000))]  # type: ignore[arg-type]


def test_lines_of_several_processes_are_searchable_by_service_request_level_and_text(
    tmp_path: Path, index: SqliteLogIndex
) -> None:
    logs = tmp_path / "logs"
    api, stage = process_logger(logs, "api"), process_logger(logs, "shard-local-s0-r0")
    token = bind_request("req-42")
    api.info("chat completion for user alice")
    stage.info("session 9f opened on layers 0:1")
    unbind_request(token)
    stage.error("stage failed: CUDA out of memory")
    api.debug("tick 7 published")
    assert LogCollector(index, logs, retention_h=1).poll() == 4

    assert messages(index, request_id="req-42") == ["session 9f opened on layers 0:1", "chat completion for user alice"]
    assert messages(index, service="shard") == ["stage failed: CUDA out of memory", "session 9f opened on layers 0:1"]
    assert len(messages(index, service="shard-local-s0")) == 2  # a family ends at a dash ...
    assert messages(index, service="shard-local-s") == []  # ... it is not any prefix
    assert messages(index, level="ERROR") == ["stage failed: CUDA out of memory"]
    assert messages(index, text='"out of memory" stage') == ["stage failed: CUDA out of memory"]
    assert messages(index, text="OR") == []  # an FTS operator typed is a word, not syntax
    [entry] = index.search(parse_query(request_id="req-42", service="api"))
    assert entry.service == "api" and entry.pid is not None and str(entry.logger).startswith("test.logs.api")


def test_a_rotated_file_is_finished_before_the_new_one_and_nothing_is_read_twice(
    tmp_path: Path, index: SqliteLogIndex
) -> None:
    logs = tmp_path / "logs"
    logger = process_logger(logs, "api", max_bytes=64 * 1024)
    collector = LogCollector(index, logs, retention_h=1)
    logger.info("line %05d", 0)
    assert collector.poll() == 1
    for n in range(1, 2000):  # ~130 bytes a line: the file rotates several times between two polls
        logger.info("line %05d", n)
    assert len(list(logs.glob("api.jsonl.*"))) >= 2
    collector.poll()
    collector.poll()
    found = sorted(messages(index))
    # The lines still on disk are all indexed once; lines rotated out of the kept backups before a poll are gone.
    on_disk = sorted(
        json.loads(line)["message"] for path in logs.glob("api.jsonl*") for line in path.read_text().splitlines()
    )
    assert set(on_disk) <= set(found) and len(found) == len(set(found))
    assert found[0] == "line 00000" and found[-1] == "line 01999"


def test_a_restarted_collector_goes_on_where_the_last_one_stopped(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logger = process_logger(logs, "api")
    logger.info("before the restart")
    first = SqliteLogIndex(tmp_path / "index.sqlite3")
    LogCollector(first, logs, retention_h=1).poll()
    first.close()
    logger.info("after the restart")
    again = SqliteLogIndex(tmp_path / "index.sqlite3")
    assert LogCollector(again, logs, retention_h=1).poll() == 1
    assert messages(again) == ["after the restart", "before the restart"]
    again.close()


def test_a_line_still_being_written_waits_and_a_broken_line_is_skipped(tmp_path: Path, index: SqliteLogIndex) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    at = datetime.now(UTC).isoformat()
    whole = json.dumps({"severity": "INFO", "message": "whole", "time": at, "service": "api"})
    (logs / "api.jsonl").write_text(f"{whole}\nnot json at all\n" + whole[:20])
    collector = LogCollector(index, logs, retention_h=1)
    assert collector.poll() == 1
    with (logs / "api.jsonl").open("a") as handle:
        handle.write(whole[20:] + "\n")
    assert collector.poll() == 1
    assert messages(index) == ["whole", "whole"]


def test_lines_older_than_the_retention_are_deleted(tmp_path: Path, index: SqliteLogIndex) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    now = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    lines = [
        {"severity": "INFO", "message": f"{age} h old", "time": (now - timedelta(hours=age)).isoformat()}
        for age in (1, 5, 30)
    ]
    (logs / "api.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    clock = [now]
    collector = LogCollector(index, logs, retention_h=24, now=lambda: clock[0])
    collector.poll()
    assert sorted(messages(index)) == ["1 h old", "5 h old"]
    clock[0] = now + timedelta(hours=20)
    collector.poll()
    assert messages(index) == ["1 h old"]


def test_search_is_newest_first_within_the_time_range_and_limit(tmp_path: Path, index: SqliteLogIndex) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    now = datetime.now(UTC)
    lines = [
        {"severity": "INFO", "message": f"m{n}", "time": (now - timedelta(minutes=n)).isoformat()} for n in range(10)
    ]
    (logs / "api.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    LogCollector(index, logs, retention_h=1).poll()
    assert messages(index, since="330s", until="90s") == ["m2", "m3", "m4", "m5"]
    assert [e.message for e in index.search(LogQuery(limit=3))] == ["m0", "m1", "m2"]


def test_an_unsearchable_text_is_a_query_error(index: SqliteLogIndex) -> None:
    with pytest.raises(LogQueryError) as raised:
        index.search(LogQuery(terms=("\x00",)))
    assert raised.value.field == "q"


def test_a_fresh_index_reads_the_backups_a_process_rotated_before_it_started(
    tmp_path: Path, index: SqliteLogIndex
) -> None:
    logs = tmp_path / "logs"
    logger = process_logger(logs, "api", max_bytes=64 * 1024)
    for n in range(1000):
        logger.info("line %05d", n)
    assert list(logs.glob("api.jsonl.*"))
    assert LogCollector(index, logs, retention_h=1).poll() == 1000
    assert sorted(messages(index))[0] == "line 00000"


def test_configured_logging_writes_the_console_as_before_and_json_with_service_and_pid_to_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from qcl.obs.logging import configure_logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("INFO", service="api", log_dir=tmp_path / "logs")
        logging.getLogger("qcl.test").info("ingest: published tick %d", 7)
        configure_logging("INFO")  # reconfigured: the file is let go of
    finally:
        root.handlers[:], root.level = saved
    assert capsys.readouterr().err.rstrip().endswith("INFO    ingest: published tick 7")
    [line] = (tmp_path / "logs" / "api.jsonl").read_text().splitlines()
    written = json.loads(line)
    assert (written["service"], written["severity"], written["message"]) == ("api", "INFO", "ingest: published tick 7")
    assert written["pid"] > 0

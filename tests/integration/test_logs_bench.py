"""`qcl bench logs`: every written line is indexed (rotated files included), and the index finds a request's lines
exactly as a scan of the files does."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from qcl.cli import app


def test_the_log_bench_indexes_every_line_and_agrees_with_a_scan() -> None:
    result = CliRunner().invoke(app, ["bench", "logs", "--lines", "3000", "--rotate-kib", "64", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)  # progress lines go to stderr
    assert figures["files"] > 3  # the files rotated, and the backups were indexed too
    assert figures["indexed"] == figures["lines"] == 3000
    assert figures["request_lines"] == figures["request_lines_scanned"] == 3  # one request spans three services
    assert figures["text_hits"] == 100  # the limit: a quarter of the lines open a session
    assert (figures["patterns_lines"], figures["patterns"]) == (3000, 4)  # the four message shapes, ids masked
    assert figures["ingest_lines_per_s"] > 0 and figures["search_speedup_over_scan"] >= 1

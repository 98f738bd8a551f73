"""Structured logs for the API: request id and trace on every line of a request, and the audit trail."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from qcl.obs.audit import open_audit_trail
from qcl.obs.logging import CloudLoggingFormatter, audit, bind_request, configure_audit_trail, unbind_request
from tests.integration.test_api_fixtures import api_settings


def record(message: str = "hello") -> logging.LogRecord:
    return logging.LogRecord("qcl.test", logging.INFO, __file__, 1, message, None, None)


def test_a_line_inside_a_request_carries_its_id_and_trace() -> None:
    token = bind_request("req-1", trace="projects/p/traces/abc", span_id="42")
    try:
        entry = json.loads(CloudLoggingFormatter().format(record()))
    finally:
        unbind_request(token)
    assert entry["request_id"] == "req-1"
    assert entry["logging.googleapis.com/trace"] == "projects/p/traces/abc"
    assert entry["logging.googleapis.com/spanId"] == "42"


def test_a_line_outside_a_request_has_no_request_fields() -> None:
    entry = json.loads(CloudLoggingFormatter().format(record()))
    assert "request_id" not in entry and entry["severity"] == "INFO"


def test_an_audit_line_says_who_did_what_to_what(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="qcl.audit"):
        audit("api_key.revoked", actor="key:0a1b2c3d", target="deadbeef", role="viewer")
    line = caplog.records[-1]
    assert line.audit == {
        "action": "api_key.revoked",
        "actor": "key:0a1b2c3d",
        "target": "deadbeef",
        "outcome": "ok",
        "role": "viewer",
    }
    entry = json.loads(CloudLoggingFormatter().format(line))
    assert entry["logging.googleapis.com/labels"]["audit"] == "true" and entry["audit"]["target"] == "deadbeef"


def test_audit_lines_are_chained_into_the_configured_trail(tmp_path: Path) -> None:
    trail = open_audit_trail(api_settings(tmp_path))
    configure_audit_trail(trail)
    try:
        audit("task.submitted", actor="key:1", target="t-1")
    finally:
        configure_audit_trail(None)
    audit("task.submitted", actor="key:2", target="t-2")  # no trail configured: logged only
    lines = (tmp_path / "state" / "audit.jsonl").read_text().splitlines()
    assert [(json.loads(line)["seq"], json.loads(line)["actor"]) for line in lines] == [(1, "key:1")]

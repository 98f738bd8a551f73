"""Logging set-up: JSON lines in Cloud Logging's structured format on servers, one readable line per event locally.

Cloud Logging reads `severity`, `message`, `time` and `logging.googleapis.com/labels` from a JSON line on stdout
(https://cloud.google.com/logging/docs/structured-logging); anything passed as `extra={"labels": {...}}` lands
in the labels. On Cloud Run and Cloud Functions (K_SERVICE or FUNCTION_TARGET set) google-cloud-logging's
StructuredLogHandler writes the lines instead. Inside an HTTP request every line carries the request id and, when
the request came through Google's front end, its trace (`bind_request`). `audit(...)` records a privileged action
(who, what, on what, when) on the `qcl.audit` logger; `configure_audit_file` also keeps those lines in a file.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SEVERITY = {"WARNING": "WARNING", "ERROR": "ERROR", "CRITICAL": "CRITICAL", "INFO": "INFO", "DEBUG": "DEBUG"}
_TRACE = "logging.googleapis.com/trace"
_SPAN = "logging.googleapis.com/spanId"

# The HTTP request being answered on this thread: {"request_id", "trace"?, "span_id"?}; empty outside requests.
_request: ContextVar[dict[str, str]] = ContextVar("qcl_request", default={})  # noqa: B039 - never mutated
audit_log = logging.getLogger("qcl.audit")


def bind_request(request_id: str, *, trace: str | None = None, span_id: str | None = None) -> Token[dict[str, str]]:
    """Tag this thread's log lines with a request; `trace` as Cloud Logging wants it, projects/P/traces/ID."""
    fields = {"request_id": request_id}
    if trace:
        fields["trace"] = trace
    if span_id:
        fields["span_id"] = span_id
    return _request.set(fields)


def unbind_request(token: Token[dict[str, str]]) -> None:
    _request.reset(token)


def current_request() -> dict[str, str]:
    return _request.get()


def audit(action: str, *, actor: str, target: str | None = None, outcome: str = "ok", **details: Any) -> None:
    """Record a privileged action: `action` (e.g. "api_key.created") by `actor` (a key id, or a local command)."""
    entry = {"action": action, "actor": actor, "target": target, "outcome": outcome, **details}
    audit_log.info(
        "audit: %s by %s%s (%s)",
        action,
        actor,
        f" on {target}" if target else "",
        outcome,
        extra={"labels": {"audit": "true", "action": action, "actor": actor}, "audit": entry},
    )


def configure_audit_file(path: Path) -> None:
    """Also append audit lines, as JSON, to `path` (the embedded stack's trail under its state directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if any(getattr(h, "baseFilename", None) == str(path.resolve()) for h in audit_log.handlers):
        return
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(CloudLoggingFormatter())
    audit_log.addHandler(handler)
    audit_log.setLevel(logging.INFO)


class CloudLoggingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "severity": _SEVERITY.get(record.levelname, "DEFAULT"),
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        labels = getattr(record, "labels", None)
        if isinstance(labels, dict):
            entry["logging.googleapis.com/labels"] = {str(k): str(v) for k, v in labels.items()}
        request = _request.get()
        if request:
            entry["request_id"] = request["request_id"]
            if "trace" in request:
                entry[_TRACE] = request["trace"]
            if "span_id" in request:
                entry[_SPAN] = request["span_id"]
        for field, key in (("audit", "audit"), ("http_request", "httpRequest")):
            value = getattr(record, field, None)
            if isinstance(value, dict):
                entry[key] = value
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO", *, structured: bool = False) -> None:
    """Send the library's logs to stderr: JSON for Cloud Logging when `structured`, else `HH:MM:SS level message`."""
    handler: logging.Handler = logging.StreamHandler(sys.stderr)
    if structured and (os.environ.get("K_SERVICE") or os.environ.get("FUNCTION_TARGET")):
        handler = _gcp_handler()
    elif structured:
        handler.setFormatter(CloudLoggingFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("google", "grpc", "urllib3", "httpx", "httpcore", "werkzeug"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


class _RequestFields(logging.Filter):
    """Hands the request id and trace to google-cloud-logging's handler, which reads them from the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = _request.get()
        if request:
            record.json_fields = {**getattr(record, "json_fields", {}), "request_id": request["request_id"]}
            if "trace" in request:
                record.trace = request["trace"]
            if "span_id" in request:
                record.span_id = request["span_id"]
        audit_entry = getattr(record, "audit", None)
        if isinstance(audit_entry, dict):
            record.json_fields = {**getattr(record, "json_fields", {}), "audit": audit_entry}
        return True


def _gcp_handler() -> logging.Handler:  # pragma: no cover - runs on Cloud Run / Cloud Functions only
    from google.cloud.logging.handlers import StructuredLogHandler

    handler = StructuredLogHandler(stream=sys.stdout, project_id=os.environ.get("GOOGLE_CLOUD_PROJECT"))
    handler.filters.insert(0, _RequestFields())  # before the handler's own filter, which reads these fields
    return handler

"""Logging set-up: JSON lines in Cloud Logging's structured format on servers, one readable line per event locally.

Cloud Logging reads `severity`, `message`, `time` and `logging.googleapis.com/labels` from a JSON line on stdout
(https://cloud.google.com/logging/docs/structured-logging); anything passed as `extra={"labels": {...}}` lands
in the labels. On Cloud Run and Cloud Functions (K_SERVICE or FUNCTION_TARGET set) google-cloud-logging's
StructuredLogHandler writes the lines instead. Inside an HTTP request every line carries the request id and, when
the request came through Google's front end, its trace, and the client's address as the gate recorded it: cut to its
network unless QCL_ANONYMIZE_IP=false (`bind_request`; qcl.privacy.anonymize). `audit(...)` records a privileged
action (who, what, on what, when, from which network) on the `qcl.audit` logger and, once `configure_audit_trail`
names one, in the hash-chained audit trail (qcl.obs.audit) that `qcl audit verify` checks.

Given a folder (QCL_LOG_DIR; `qcl up` sets <state_dir>/logs), every process also appends the same JSON lines, with
its service name and pid, to <folder>/<service>.jsonl, rotated by size: the stack's API indexes that folder for
`qcl logs search` (qcl.obs.logindex) while the console shows what it showed before.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qcl.config import Settings
    from qcl.obs.audit import AuditTrail

_SEVERITY = {"WARNING": "WARNING", "ERROR": "ERROR", "CRITICAL": "CRITICAL", "INFO": "INFO", "DEBUG": "DEBUG"}
_TRACE = "logging.googleapis.com/trace"
_SPAN = "logging.googleapis.com/spanId"

# The HTTP request being answered on this thread: {"request_id", "trace"?, "span_id"?, "client_ip"?}; empty outside
# requests. client_ip is already anonymised (or not) by whoever binds it: nothing here sees the whole address.
_request: ContextVar[dict[str, str]] = ContextVar("qcl_request", default={})  # noqa: B039 - never mutated
audit_log = logging.getLogger("qcl.audit")
_trail: AuditTrail | None = None  # this process's hash-chained trail, once configured


def bind_request(
    request_id: str, *, trace: str | None = None, span_id: str | None = None, client_ip: str | None = None
) -> Token[dict[str, str]]:
    """Tag this thread's log lines with a request; `trace` as Cloud Logging wants it, projects/P/traces/ID;
    `client_ip` as it may be written (qcl.privacy.anonymize.client_address)."""
    fields = {"request_id": request_id}
    if client_ip:
        fields["client_ip"] = client_ip
    if trace:
        fields["trace"] = trace
    if span_id:
        fields["span_id"] = span_id
    return _request.set(fields)


def unbind_request(token: Token[dict[str, str]]) -> None:
    _request.reset(token)


def current_request() -> dict[str, str]:
    return _request.get()


def audit(
    action: str, *, actor: str, target: str | None = None, outcome: str = "ok", **details: Any
) -> dict[str, Any] | None:
    """Record a privileged action: `action` (e.g. "api_key.created") by `actor` (a key id, or a local command); inside
    a request also the client's network (`ip`). Returns the entry as chained (seq, hash), None without a trail."""
    entry = {"action": action, "actor": actor, "target": target, "outcome": outcome, **details}
    client_ip = _request.get().get("client_ip")
    if client_ip:
        entry["ip"] = client_ip
    chained = None
    if _trail is not None:  # chained first: an action the trail cannot record is not reported as recorded
        chained = _trail.append(entry)
    audit_log.info(
        "audit: %s by %s%s (%s)",
        action,
        actor,
        f" on {target}" if target else "",
        outcome,
        extra={"labels": {"audit": "true", "action": action, "actor": actor}, "audit": entry},
    )
    return chained


def configure_audit_trail(trail: AuditTrail | None) -> None:
    """Chain every audit line of this process into `trail` (None: stop); the last call wins."""
    global _trail
    _trail = trail


class CloudLoggingFormatter(logging.Formatter):
    def __init__(self, service: str | None = None) -> None:
        super().__init__()
        self.service = service  # names the process in a file several processes' lines are searched together with

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "severity": _SEVERITY.get(record.levelname, "DEFAULT"),
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        if self.service:
            entry["service"] = self.service
            entry["pid"] = record.process
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
            if "client_ip" in request:
                entry["client_ip"] = request["client_ip"]
        for field, key in (("audit", "audit"), ("http_request", "httpRequest")):
            value = getattr(record, field, None)
            if isinstance(value, dict):
                entry[key] = value
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(
    level: str = "INFO",
    *,
    structured: bool = False,
    service: str | None = None,
    log_dir: Path | None = None,
    max_bytes: int = 10 * 1024 * 1024,
    backups: int = 3,
) -> None:
    """Send the library's logs to stderr: JSON for Cloud Logging when `structured`, else `HH:MM:SS level message`;
    with `log_dir` and `service`, also as JSON lines to <log_dir>/<service>.jsonl, rotated at `max_bytes`."""
    handler: logging.Handler = logging.StreamHandler(sys.stderr)
    if structured and (os.environ.get("K_SERVICE") or os.environ.get("FUNCTION_TARGET")):
        handler = _gcp_handler()
    elif structured:
        handler.setFormatter(CloudLoggingFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    for replaced in root.handlers:
        if isinstance(replaced, logging.FileHandler):  # a file of an earlier configuration: let go of it
            replaced.close()
    root.handlers[:] = [handler]
    if log_dir is not None and service:
        root.handlers.append(service_file_handler(log_dir, service, max_bytes=max_bytes, backups=backups))
    root.setLevel(level)
    for noisy in ("google", "grpc", "urllib3", "httpx", "httpcore", "werkzeug"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def configure_process_logging(settings: Settings, service: str) -> None:
    """A long-running process's logging: the console at QCL_LOG_LEVEL and, under QCL_LOG_DIR, `service`'s file."""
    configure_logging(
        settings.log_level,
        service=service,
        log_dir=settings.log_dir,
        max_bytes=settings.log_file_max_bytes,
        backups=settings.log_file_backups,
    )


def service_file_handler(log_dir: Path, service: str, *, max_bytes: int, backups: int) -> logging.Handler:
    """<log_dir>/<service>.jsonl, one JSON line per record; at `max_bytes` it becomes <service>.jsonl.1 and so on."""
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        log_dir / f"{service}.jsonl", maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
    )
    handler.setFormatter(CloudLoggingFormatter(service))
    return handler


class _RequestFields(logging.Filter):
    """Hands the request id and trace to google-cloud-logging's handler, which reads them from the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = _request.get()
        if request:
            fields = {name: request[name] for name in ("request_id", "client_ip") if name in request}
            record.json_fields = {**getattr(record, "json_fields", {}), **fields}
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

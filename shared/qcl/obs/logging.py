"""Logging set-up: JSON lines in Cloud Logging's structured format on servers, one readable line per event locally.

Cloud Logging reads `severity`, `message`, `time` and `logging.googleapis.com/labels` from a JSON line on stdout
(https://cloud.google.com/logging/docs/structured-logging); anything passed as `extra={"labels": {...}}` lands
in the labels.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_SEVERITY = {"WARNING": "WARNING", "ERROR": "ERROR", "CRITICAL": "CRITICAL", "INFO": "INFO", "DEBUG": "DEBUG"}


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
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO", *, structured: bool = False) -> None:
    """Send the library's logs to stderr: JSON for Cloud Logging when `structured`, else `HH:MM:SS level message`."""
    handler = logging.StreamHandler(sys.stderr)
    if structured:
        handler.setFormatter(CloudLoggingFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("google", "grpc", "urllib3", "httpx", "httpcore", "werkzeug"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))

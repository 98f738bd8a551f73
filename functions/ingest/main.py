"""Cloud Function (2nd gen, HTTP): take one observation from the configured source and publish it to qubic-ticks.

    functions-framework --source functions/ingest/main.py --target ingest --port 8081

Cloud Scheduler calls it on a period. 200: published or a duplicate (JSON summary); 409: the observation is behind
one already published; 422: the observation is invalid; 503: the source failed (the reason in the body).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import flask
import functions_framework

from qcl.bus import open_bus
from qcl.config import settings
from qcl.errors import SourceError
from qcl.obs.logging import configure_logging
from qcl.pipeline.ingest import Ingestor, source_failure
from qcl.qubic.source import ObservationSource, open_source
from qcl.store import open_store


@cache
def _service() -> tuple[Ingestor, ObservationSource]:
    config = settings()
    configure_logging(config.log_level, structured=True)
    store = open_store(config)
    return Ingestor(open_bus(config), store), open_source(config)


@functions_framework.http
def ingest(request: flask.Request) -> tuple[dict[str, Any], int]:
    ingestor, source = _service()
    try:
        result = ingestor.ingest_once(source)
    except SourceError as exc:
        return source_failure(exc)
    return result.to_json(), result.http_status

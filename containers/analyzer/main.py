"""The analyzer service: qubic-ticks in, network-analysis out.

python containers/analyzer/main.py          # Cloud Run: Pub/Sub push endpoint on $PORT (POST /)
python containers/analyzer/main.py pull     # a pull worker (local, or a VM)
"""

from __future__ import annotations

import sys
from typing import Any

import flask

from qcl.api.server import serve_until_stopped
from qcl.bus import open_bus
from qcl.bus.push import handle_push
from qcl.config import settings
from qcl.events import QUBIC_TICKS
from qcl.lifecycle import wait_for_stop
from qcl.obs.logging import configure_logging
from qcl.pipeline.analyzer import Analyzer
from qcl.store import open_store


def build() -> Analyzer:
    config = settings()
    configure_logging(config.log_level, structured=True)
    return Analyzer(open_bus(config), open_store(config), window_s=config.window_s)


def create_app(analyzer: Analyzer) -> flask.Flask:
    app = flask.Flask("analyzer")

    @app.post("/")
    def push() -> tuple[dict[str, Any], int]:
        body = flask.request.get_json(silent=True)
        return handle_push(body, QUBIC_TICKS, "analyzer", analyzer.handle, analyzer.bus)

    @app.get("/healthz")
    @app.get("/api/health")  # the probes' path on Cloud Run, whose front end reserves paths ending in z
    def healthz() -> tuple[dict[str, Any], int]:
        ok = analyzer.store.ping()
        return {"status": "ok" if ok else "store unreachable"}, 200 if ok else 503

    return app


def pull(analyzer: Analyzer) -> None:
    subscription = analyzer.bus.subscribe(QUBIC_TICKS, "analyzer", analyzer.handle)
    try:
        wait_for_stop()
    finally:
        subscription.close()
        analyzer.bus.close()


if __name__ == "__main__":
    service = build()
    if sys.argv[1:] == ["pull"]:
        pull(service)
    else:
        serve_until_stopped(create_app(service))

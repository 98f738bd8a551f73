"""Cloud Function (2nd gen, HTTP): the HTTP API, the same Flask app `qcl up` serves.

    functions-framework --source functions/api/main.py --target api --port 8082

Stateless: it reads the store (Memorystore) the api consumer and the analyzer fill, and publishes tasks on the
bus. Keys live in the store (QCL_API_KEYS=store) with the pepper from Secret Manager (QCL_API_KEY_PEPPER). The
consumer and the WebSocket need a long-lived process: containers/api/main.py on Cloud Run.
"""

from __future__ import annotations

from functools import cache

import flask
import functions_framework

from qcl.api import build_services, create_app, default_narrator
from qcl.bus import open_bus
from qcl.config import settings
from qcl.obs.logging import configure_logging
from qcl.store import open_store


@cache
def _app() -> flask.Flask:
    config = settings()
    configure_logging(config.log_level, structured=True)
    narrator = default_narrator(config)
    services = build_services(config, store=open_store(config), bus=open_bus(config), narrator=narrator)
    return create_app(services, start_stream=False)


@functions_framework.http
def api(request: flask.Request) -> flask.Response:
    app = _app()
    with app.request_context(request.environ):  # route the platform's request through the API app's own routing
        response: flask.Response = app.full_dispatch_request()
        return response

"""The API service on Cloud Run: the HTTP API and WebSocket on $PORT, and the `api` consumer (pull).

    python containers/api/main.py          # serves on 0.0.0.0:$PORT (Cloud Run sets PORT; 8080 otherwise)

The same app as functions/api and `qcl up`; this one also runs the consumer that fills the store from
network-analysis, ai-insights, oracle-results and node-events, and the WebSocket stream, so it needs a
long-lived instance (Cloud Run with CPU always allocated, min instances 1). SIGTERM drains gracefully.
"""

from __future__ import annotations

from qcl.api import ApiIngest, build_services, context, create_app, default_narrator
from qcl.api.server import serve_until_stopped
from qcl.bus import open_bus
from qcl.config import settings
from qcl.obs.logging import configure_logging
from qcl.store import open_store


def main() -> None:
    config = settings()
    configure_logging(config.log_level, structured=True)
    narrator = default_narrator(config)
    services = build_services(config, store=open_store(config), bus=open_bus(config), narrator=narrator)
    app = create_app(services)
    ingest = ApiIngest(services, context(app).broadcaster)
    ingest.start()
    try:
        serve_until_stopped(app)  # $PORT; SIGTERM drains (Cloud Run sends SIGKILL 10 s later)
    finally:
        ingest.stop()
        if services.bus is not None:
            services.bus.close()
        services.store.close()


if __name__ == "__main__":
    main()

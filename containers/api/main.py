"""The API service on Cloud Run: the HTTP API and WebSocket on $PORT, and the `api` consumer (pull).

    python containers/api/main.py          # serves on 0.0.0.0:$PORT (Cloud Run sets PORT; 8080 otherwise)

The same app as functions/api and `qcl up`; this one also runs the consumer that fills the store from
network-analysis, ai-insights, oracle-results and node-events, and the WebSocket stream, so it needs a
long-lived instance (Cloud Run with CPU always allocated, min instances 1). SIGTERM drains gracefully.
"""

from __future__ import annotations

import os
import signal
import threading

from qcl.api import ApiIngest, build_services, context, create_app, default_narrator
from qcl.api.server import ApiServer
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
    server = ApiServer(app, "0.0.0.0", int(os.environ.get("PORT", "8080")))  # Cloud Run routes to the container
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # Cloud Run sends SIGTERM, then SIGKILL 10 s later
    ingest.start()
    server.start()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        ingest.stop()
        if services.bus is not None:
            services.bus.close()
        services.store.close()


if __name__ == "__main__":
    main()

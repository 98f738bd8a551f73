"""Serving the app: a threaded WSGI server in this process, with graceful shutdown.

    server = ApiServer(app, "127.0.0.1", 8080); server.start(); ...; server.stop()

Why Werkzeug's threaded server and not waitress or gunicorn: `qcl up` must serve from the process that holds the
embedded memory bus and store (gunicorn forks workers, each of which would hold its own copy), and /api/ws needs
a server that hands the connection's socket over to the WebSocket (simple-websocket supports Werkzeug, gunicorn,
eventlet and gevent; waitress and cheroot keep the socket to themselves). It runs one thread per connection; the
listen backlog is raised from Python's 128 to 1024 so that a burst of a thousand clients waits in the queue
instead of being refused. `qcl bench api` measures what it sustains at 100 and 1,000 concurrent clients.

Graceful shutdown: /readyz turns 503 and WebSocket clients are told to go (close 1001; they resume elsewhere
with last_seq), the listener stops accepting, and requests in flight get up to `grace_s` to finish.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

import flask
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from qcl.api.app import shutdown

log = logging.getLogger(__name__)


class _Handler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "qcl"  # no software versions in the Server header


class _Server(ThreadedWSGIServer):
    request_queue_size = 1024
    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections = 0
        self._count = threading.Lock()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._count:
            self.connections += 1
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._count:
                self.connections -= 1


class ApiServer:
    def __init__(self, app: flask.Flask, host: str, port: int, *, grace_s: float = 10.0) -> None:
        self.app = app
        self.grace_s = grace_s
        self._server = _Server(host, port, app, handler=_Handler)
        self._server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = str(self._server.server_address[0])
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="api-server", daemon=True)
        self._thread.start()

    def serve_forever(self) -> None:
        """Serve on this thread until `stop()` is called from another."""
        self._server.serve_forever()

    def stop(self) -> None:
        shutdown(self.app)
        self._server.shutdown()  # no new connections from here on
        deadline = time.monotonic() + self.grace_s
        while self._server.connections and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._server.connections:
            log.warning("api: %d connection(s) still open after %g s; closing", self._server.connections, self.grace_s)
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

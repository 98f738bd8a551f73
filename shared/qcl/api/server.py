"""Serving a Flask app in production: uvicorn's event loop in this process, the views on a pool of worker threads.

    server = ApiServer(app, "127.0.0.1", 8080); server.start(); ...; server.stop()
    serve_until_stopped(app)          # a container's entry point: $PORT, until SIGTERM, then a graceful drain
    serve_metrics(app, 9464)          # /metrics without a key on 127.0.0.1:9464 (QCL_METRICS_PORT), for a sidecar

Why uvicorn with the Flask app bridged (qcl.api.bridge) and not Werkzeug's threaded server or gunicorn: measured by
`qcl bench api` (README, "API server"): a thread per connection spends the two cores on switching between a
thousand threads, and gunicorn forks workers while `qcl up` must serve from the one process that holds the
embedded memory bus and store. Here connections are cheap (the event loop holds them; HTTP parsed by httptools),
at most THREADS views run at once, and /api/ws subscribers are coroutines fed by one log reader (qcl.api.live).

Overload: past MAX_PENDING requests waiting for or holding a view thread, a request is answered 503 `overloaded`
with Retry-After at once, on the loop, instead of queueing: without it a load above capacity queued for seconds and
throughput fell as load rose (README, "A thousand users"). Health paths are never shed, so probes do not restart an
instance for being busy.

Timeouts: a connection that sends no complete request headers within `idle_s` (a silent client, or slowloris
sending a byte at a time) is closed, as is a keep-alive connection idle for `idle_s`; request bodies are read by
the loop before a worker thread is taken, so a slow upload holds no thread (it holds only its connection).

Graceful shutdown (`stop`, on SIGTERM): /readyz turns 503 and WebSocket clients are told to go (close 1001; they
resume elsewhere with last_seq), the listener stops accepting, idle connections are closed, and requests in
flight get up to `grace_s` to finish.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import flask
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from qcl.api.app import context, shutdown
from qcl.api.bridge import GONE, call_wsgi
from qcl.api.live import LiveHub
from qcl.api.routes_ops import refresh_gauges
from qcl.api.security import SECURITY_HEADERS
from qcl.lifecycle import wait_for_stop
from qcl.obs import metrics

log = logging.getLogger(__name__)

THREADS = 32  # views at once: enough to overlap store round trips, few enough that the GIL is not fought over
IDLE_S = 5.0  # a connection's time to send its request headers, and a keep-alive connection's idle time
BACKLOG = 2048  # a burst of a thousand clients waits in the queue instead of being refused
WS_PING_S = 25.0  # keeps idle WebSockets open through proxies (Cloud Run's front end); finds dead clients
WS_MAX_MESSAGE_BYTES = 64 * 1024  # clients send nothing but close frames: a larger message is closed 1009, unread
# No permessage-deflate: an event is a few hundred bytes of JSON, and compressing it once per subscriber (each
# connection keeps its own compressor) cost a thousand subscribers' fan-out a quarter of its time: p95 290-308 ms
# with it, 216-238 ms without (`qcl bench api --cases ws_fanout --concurrency 1000`, 2-core VM, alternating runs).
WS_DEFLATE = False
WS_CLOSE_WAIT_S = 2.0  # how long a client gets to answer our close frame before the TCP connection ends
MAX_PENDING = THREADS * 4  # about half a second of work at the few hundred requests/s one process serves
NEVER_SHED = ("/healthz", "/readyz", "/api/health")
_OVERLOADED = json.dumps(
    {"error": {"code": "overloaded", "message": "the server is at capacity; retry in a second"}}
).encode()
# What the answers made here, not by the app (503 overloaded, uvicorn's 400 for an unparsable request), carry: the
# headers of every API answer (qcl.api.security), as JSON that is not cached.
_ERROR_HEADERS = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
    *((name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()),
]


class _Http(HttpToolsProtocol):
    """uvicorn's protocol plus a deadline for request headers: uvicorn times out idle keep-alive connections only,
    so a client that connects and sends nothing, or its headers a byte at a time, would be held forever. It also
    marks a request whose client went away (uvicorn then drops what the app sends without telling it)."""

    def connection_lost(self, exc: Exception | None) -> None:
        if self.cycle is not None and not self.cycle.response_complete:
            scope: Any = self.cycle.scope
            scope[GONE] = True
        super().connection_lost(exc)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # asyncio sets TCP_NODELAY only on sockets made with proto=IPPROTO_TCP, and a listener from
        # socket.create_server has proto 0: without it the body, written after the head, waits for the client's
        # delayed ACK (40 ms a request).
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._expect_headers()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._expect_headers()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request it cannot parse, in the API's error shape and headers (not plain text)."""
        body = json.dumps({"error": {"code": "bad_request", "message": msg}}).encode()
        headers = [*self.server_state.default_headers, *_ERROR_HEADERS, (b"content-length", str(len(body)).encode())]
        head = [b"HTTP/1.1 400 Bad Request", *(name + b": " + value for name, value in headers), b"connection: close"]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        self.transport.close()

    def _expect_headers(self) -> None:
        waiting_since = self.cycle  # a new request's headers replace the cycle

        def expire() -> None:
            upgraded = self.transport.get_protocol() is not self  # a WebSocket now owns the connection
            if self.cycle is waiting_since and not upgraded and not self.transport.is_closing():
                self.transport.close()

        self.loop.call_later(self.timeout_keep_alive, expire)


class _WebSocket(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.close_timeout = WS_CLOSE_WAIT_S


class _Asgi:
    """HTTP to the Flask app on the worker threads; the WebSocket /api/ws to the hub, when the app has one."""

    def __init__(self, app: flask.Flask, executor: ThreadPoolExecutor, hub: LiveHub | None, max_pending: int) -> None:
        self.app = app
        self.executor = executor
        self.hub = hub
        self.max_pending = max_pending
        self.pending = 0  # only the loop's thread counts: no lock

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.pending >= self.max_pending and scope["path"] not in NEVER_SHED:
            metrics.API_SHED.inc()
            headers = [*_ERROR_HEADERS, (b"retry-after", b"1")]
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": _OVERLOADED})
        elif scope["type"] == "http":
            self.pending += 1
            try:
                await call_wsgi(self.app, self.executor, scope, receive, send)
            finally:
                self.pending -= 1
        elif scope["type"] == "websocket" and self.hub is not None and scope["path"] == "/api/ws":
            await self.hub.serve(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # refuses the handshake with 403


class ApiServer:
    def __init__(
        self,
        app: flask.Flask,
        host: str,
        port: int,
        *,
        grace_s: float = 8.0,  # Cloud Run kills 10 s after SIGTERM
        idle_s: float = IDLE_S,
        threads: int = THREADS,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.app = app
        self.grace_s = grace_s
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.create_server((host, port), family=family, backlog=BACKLOG)
        self._address: tuple[str, int] = self._socket.getsockname()[:2]
        executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="api-view")
        qcl = app.extensions.get("qcl")
        self.hub = (
            LiveHub(app, qcl.broadcaster, executor, max_per_caller=qcl.services.settings.ws_per_key_max)
            if qcl is not None
            else None
        )
        config = uvicorn.Config(
            _Asgi(app, executor, self.hub, max_pending),
            http=_Http,
            ws=_WebSocket,
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,  # no software versions in the Server header
            headers=[("server", "qcl")],
            timeout_keep_alive=int(idle_s) or 1,
            timeout_graceful_shutdown=int(grace_s) or 1,
            ws_ping_interval=WS_PING_S,
            ws_ping_timeout=WS_PING_S,
            ws_max_size=WS_MAX_MESSAGE_BYTES,
            ws_per_message_deflate=WS_DEFLATE,
            backlog=BACKLOG,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._address[1])

    @property
    def url(self) -> str:
        host = str(self._address[0])
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="api-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._server.started:
            raise RuntimeError(f"the API server did not start on {self.url}")

    def _serve(self) -> None:
        self._server.run(sockets=[self._socket])  # off the main thread: uvicorn leaves signals to the caller

    def stop(self) -> None:
        if self.hub is not None:
            shutdown(self.app)  # readyz 503; the stream's subscribers are sent 1001
            deadline = time.monotonic() + WS_CLOSE_WAIT_S + 1
            while self.hub.subscribers and time.monotonic() < deadline:
                time.sleep(0.02)
        self._server.should_exit = True  # stops accepting; idle connections close; in-flight requests finish
        if self._thread is not None:
            self._thread.join(timeout=self.grace_s + 5)
        self._socket.close()


def serve_until_stopped(app: flask.Flask, host: str = "0.0.0.0") -> None:  # noqa: S104 - a container's interface
    """Serve `app` on $PORT (8080 when unset: Cloud Run sets it) until SIGTERM or Ctrl-C, then drain; and /metrics
    on QCL_METRICS_PORT (loopback) when it is set."""
    qcl = app.extensions.get("qcl")  # a plain Flask app has no settings of ours
    port = qcl.services.settings.metrics_port if qcl is not None else None
    exporter = serve_metrics(app, port) if port is not None else None
    server = ApiServer(app, host, int(os.environ.get("PORT", "8080")))
    server.start()
    try:
        wait_for_stop()
    finally:
        server.stop()
        if exporter is not None:
            exporter.shutdown()


class _MetricsServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """A scrape every interval is not worth a log line."""


def serve_metrics(app: flask.Flask, port: int, host: str = "127.0.0.1") -> WSGIServer:
    """/metrics without a key on a loopback port, served on a daemon thread (`shutdown()` stops it).

    For a collector in the same instance: Cloud Run's Managed Service for Prometheus sidecar shares the instance's
    network, scrapes localhost and cannot present a key, while outside traffic reaches only $PORT. The figures are
    the API's own /metrics, gauges refreshed at each scrape; every other path is a 404."""
    ctx = context(app)

    def exposition(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"only /metrics is served here\n"]
        refresh_gauges(ctx)
        body, content_type = metrics.render()
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    server = make_server(host, port, exposition, server_class=_MetricsServer, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="api-metrics", daemon=True).start()
    log.info("metrics for a local collector on %s:%d/metrics", host, server.server_port)
    return server

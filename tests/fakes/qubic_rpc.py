"""A fake Qubic RPC on 127.0.0.1: golden bodies by default, scripted failures per endpoint.

    with FakeQubicRpc() as rpc:                       # or the `fake_qubic_rpc` fixture below
        rpc.script(TICK_INFO, [rpc_error(503)] * 2)   # two 503s, then the golden body again
        client = QubicRpcClient(rpc.url, backoff_s=0.001)
        client.tick_info()
        assert rpc.calls_to(TICK_INFO) == 3

A real HTTP server (werkzeug, one thread per request) serves the four endpoints of a health view with the
bodies in tests/fixtures/rpc/, byte for byte (64-bit integers as strings, `9.12e-7`). Scripted replies are
served first, in order, per path; then the endpoint goes back to its default. Unknown paths answer like the
grpc-gateway: 404 with {"code":5,"message":"Not Found","details":[]}.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rpc"

LATEST_STATS = "/v1/latest-stats"
TICK_INFO = "/live/v1/tick-info"
LAST_PROCESSED_TICK = "/query/v1/getLastProcessedTick"
TICK_INTERVALS = "/query/v1/getProcessedTickIntervals"
GOLDEN_FILES = {
    LATEST_STATS: "latest-stats.json",
    TICK_INFO: "tick-info.json",
    LAST_PROCESSED_TICK: "get-last-processed-tick.json",
    TICK_INTERVALS: "get-processed-tick-intervals.json",
}
# grpc-gateway's code for an HTTP status (reference §3.2), for error bodies built by rpc_error().
GRPC_CODE_FOR_STATUS = {400: 3, 404: 5, 429: 8, 500: 13, 501: 12, 502: 14, 503: 14, 504: 4}
DEFAULT_ARCHIVE_LAG = 13  # golden live tick 36695873 − golden last processed tick 36695860


def fixture_bytes(name: str) -> bytes:
    """A file of tests/fixtures/rpc, exactly as stored."""
    return (FIXTURES / name).read_bytes()


def golden_json(path: str) -> Any:
    """The golden body of an endpoint, parsed (for tests that change one field)."""
    return json.loads(fixture_bytes(GOLDEN_FILES[path]))


def patched(value: Any, changes: Mapping[str, Any]) -> Any:
    """A copy of a JSON value with fields replaced by dotted path: {"data.price": "cheap", "1.lastTick": 0}."""
    copy = json.loads(json.dumps(value))
    for dotted, new in changes.items():
        *parents, last = dotted.split(".")
        node = copy
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = new
        else:
            node[last] = new
    return copy


@dataclass(frozen=True)
class Reply:
    """One scripted answer. body=None serves the endpoint's default body with this status and headers."""

    status: int = 200
    body: bytes | None = None
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0  # seconds before answering; more than the client's timeout is a hang


def golden(path: str) -> Reply:
    return Reply(body=fixture_bytes(GOLDEN_FILES[path]))


def json_reply(value: Any, status: int = 200) -> Reply:
    return Reply(status=status, body=json.dumps(value, separators=(",", ":")).encode())


def rpc_error(
    status: int,
    message: str | None = None,
    *,
    code: int | None = None,
    details: Iterable[Mapping[str, Any]] = (),
    retry_after: str | None = None,
) -> Reply:
    """A grpc-gateway error body {code, message, details} with its HTTP status (and Retry-After if given)."""
    body = {
        "code": GRPC_CODE_FOR_STATUS.get(status, 2) if code is None else code,
        "message": message if message is not None else f"scripted HTTP {status}",
        "details": list(details),
    }
    headers = (("Retry-After", retry_after),) if retry_after is not None else ()
    return replace(json_reply(body, status), headers=headers)


def cloudflare_page(status: int = 502) -> Reply:
    """The HTML page a proxy in front of the RPC answers with (not the gateway's JSON)."""
    return Reply(status=status, body=fixture_bytes("cloudflare-502.html"), content_type="text/html; charset=UTF-8")


def hang(seconds: float) -> Reply:
    """The default body, but only after `seconds` (or when the server stops, whichever is first)."""
    return Reply(delay_s=seconds)


def truncated(path: str, keep: int | None = None) -> Reply:
    """The golden body cut short (half of it by default), with a Content-Length that matches the cut."""
    body = fixture_bytes(GOLDEN_FILES[path]).rstrip()
    return Reply(body=body[: len(body) // 2 if keep is None else keep])


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    at: float  # time.monotonic() when the request arrived


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # one line per request would bury the test output


class FakeQubicRpc:
    """The fake server. `tick_step` > 0 advances the live tick by that much on each tick-info call, and
    getLastProcessedTick / getProcessedTickIntervals follow it `archive_lag` ticks behind."""

    def __init__(self, *, tick_step: int = 0, archive_lag: int = DEFAULT_ARCHIVE_LAG) -> None:
        self.tick_step = tick_step
        self.archive_lag = archive_lag
        self.calls: list[Call] = []
        self._scripts: dict[str, deque[Reply]] = {}
        self._tick_info_served = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- control ----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake RPC is not running; use it as a context manager")
        return f"http://127.0.0.1:{self._server.server_port}"

    def script(self, path: str, replies: Iterable[Reply]) -> None:
        """Queue replies for a path; they are served in order before the default comes back."""
        with self._lock:
            self._scripts.setdefault(path, deque()).extend(replies)

    def calls_to(self, path: str) -> int:
        with self._lock:
            return sum(1 for call in self.calls if call.path == path)

    @property
    def live_tick(self) -> int:
        """The tick of the latest tick-info answer (the golden tick before the first)."""
        with self._lock:
            return self._live_tick(max(self._tick_info_served - 1, 0))

    def start(self) -> FakeQubicRpc:
        self._stopping.clear()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_QuietHandler)
        server = self._server
        self._thread = threading.Thread(
            # A short poll interval lets stop() return at once instead of after serve_forever's 0.5 s default.
            target=lambda: server.serve_forever(poll_interval=0.01),
            name="fake-qubic-rpc",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # hanging replies end now
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeQubicRpc:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- serving ----------------------------------------------------------------------------------------

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        reply = self._reply_for(request.method, request.path)
        if reply.delay_s:
            self._stopping.wait(reply.delay_s)
        response = Response(reply.body, status=reply.status, content_type=reply.content_type)
        for name, value in reply.headers:
            response.headers[name] = value
        return response(environ, start_response)

    def _reply_for(self, method: str, path: str) -> Reply:
        with self._lock:
            self.calls.append(Call(method, path, time.monotonic()))
            if path not in GOLDEN_FILES:
                return json_reply({"code": 5, "message": "Not Found", "details": []}, 404)
            if method != "GET":
                return json_reply({"code": 12, "message": "Method Not Allowed", "details": []}, 501)
            script = self._scripts.get(path)
            reply = script.popleft() if script else Reply()
            if reply.body is None:
                default = self._default(path)
                reply = replace(reply, body=default.body, content_type=default.content_type)
            if path == TICK_INFO:
                self._tick_info_served += 1
            return reply

    def _default(self, path: str) -> Reply:
        # Called under the lock. With tick_step 0 the golden bytes go out untouched.
        if self.tick_step == 0:
            return golden(path)
        if path == TICK_INFO:
            return json_reply(patched(golden_json(path), {"tickInfo.tick": self._live_tick(self._tick_info_served)}))
        processed = self._live_tick(max(self._tick_info_served - 1, 0)) - self.archive_lag
        if path == LAST_PROCESSED_TICK:
            return json_reply(patched(golden_json(path), {"tickNumber": processed}))
        if path == TICK_INTERVALS:
            intervals = golden_json(path)
            return json_reply(patched(intervals, {f"{len(intervals) - 1}.lastTick": processed}))
        return golden(path)  # latest-stats: the stats service caches and scrapes once a minute anyway

    def _live_tick(self, served: int) -> int:
        return int(golden_json(TICK_INFO)["tickInfo"]["tick"]) + served * self.tick_step


@pytest.fixture
def fake_qubic_rpc() -> Iterator[FakeQubicRpc]:
    """A running FakeQubicRpc with golden defaults, stopped after the test."""
    with FakeQubicRpc() as server:
        yield server

"""/api/ws on the server's event loop: every subscriber is a coroutine, fed by the instance's one log reader.

    hub = LiveHub(app, broadcaster, executor, max_per_caller=16)  # the server builds it
    await hub.serve(scope, receive, send)

No thread per client and no store read per client: the Broadcaster's reader wakes the hub when events arrive,
and each subscriber sends what it has not sent yet (of what its key may see: not another key's tasks) from the
encoded events kept in memory (a subscriber that is further behind than memory reads the store once, on a worker
thread). A slow client only slows itself.

The handshake passes the same gate as every request: it is given to the Flask app on a worker thread, where the
/api/ws view decides (refuse with 4401/4403 and the reason, or accept from sequence N) and leaves its decision
under WS_DECISION in the WSGI environ. An answer without a decision (403 ip_refused, 429 rate_limited, ...) is
sent as the handshake's HTTP answer. Once accepted, the connection ends in a close frame whatever happens:
1001 when the server shuts down (clients resume elsewhere with last_seq), 1011 when the stream fails.

A key (or dashboard session) holds at most `max_per_caller` streams at once on an instance: one more is accepted
and closed at once with 4429 and the reason, so one leaked key cannot hold every connection (a browser, which
cannot read a refused upgrade's status, learns why from the close frame and retries later).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any

from a2wsgi.wsgi import build_environ

from qcl.api.access import sees
from qcl.api.bridge import run_whole
from qcl.api.stream import Broadcaster
from qcl.obs import metrics

log = logging.getLogger(__name__)

WS_DECISION = "qcl.websocket"  # the environ key under which the /api/ws view leaves its decision
WS_SUBPROTOCOL = "qcl.v1"
WS_CLOSE_TOO_MANY = 4429
_CLOSE_REASON_BYTES = 123  # a close frame's reason is at most 123 bytes of UTF-8
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class LiveHub:
    def __init__(self, app: Any, broadcaster: Broadcaster, executor: Executor, *, max_per_caller: int) -> None:
        self.app = app  # the WSGI app that answers the handshake
        self.broadcaster = broadcaster
        self.executor = executor
        self.max_per_caller = max_per_caller
        self._open: Counter[str] = Counter()  # streams per caller id; only the loop's thread counts
        self._wakers: set[asyncio.Event] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        broadcaster.listen(self._from_reader)

    @property
    def subscribers(self) -> int:
        return len(self._wakers)

    def _from_reader(self) -> None:  # on the reader's thread
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake_all)

    def _wake_all(self) -> None:
        for wake in self._wakers:
            wake.set()

    async def serve(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        self._loop = asyncio.get_running_loop()
        decision: dict[str, Any] = {}
        environ: Any = build_environ({**scope, "method": "GET"}, io.BytesIO())  # type: ignore[typeddict-item,arg-type]
        environ[WS_DECISION] = decision
        status, headers, body = await self._loop.run_in_executor(self.executor, run_whole, self.app, environ)
        if not decision:  # refused before the view (or the view raised): the HTTP answer is the handshake's
            await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
            return
        if (await receive())["type"] != "websocket.connect":
            return
        offered = scope.get("subprotocols", [])
        await send({"type": "websocket.accept", "subprotocol": WS_SUBPROTOCOL if WS_SUBPROTOCOL in offered else None})
        if "refusal" in decision:
            await _close(send, *decision["refusal"])
            return
        caller_id = decision["caller"].id
        if self._open[caller_id] >= self.max_per_caller:
            why = f"this key already holds {self.max_per_caller} open streams here; close one, or retry later"
            await _close(send, WS_CLOSE_TOO_MANY, why)
            return
        self._open[caller_id] += 1
        try:
            for text in decision["first"]:
                await send({"type": "websocket.send", "text": text})
            await self._stream(receive, send, decision["last"], decision["caller"])
        finally:
            self._open[caller_id] -= 1
            if not self._open[caller_id]:
                del self._open[caller_id]

    async def _stream(self, receive: Receive, send: Send, last: int, caller: Any) -> None:
        wake = asyncio.Event()
        gone = False

        async def watch() -> None:  # the client's frames: pings are answered by the protocol; a close ends it
            nonlocal gone
            while (await receive())["type"] != "websocket.disconnect":
                pass
            gone = True
            wake.set()

        watcher = asyncio.create_task(watch())
        self._wakers.add(wake)
        metrics.WEBSOCKET_CONNECTIONS.inc()
        code, reason = 1001, "server shutting down; reconnect with last_seq"
        try:
            while not gone and not self.broadcaster.stopping:
                wake.clear()  # before looking: an event from now on sets it again
                entries = self.broadcaster.after(last)
                if entries is None:
                    assert self._loop is not None
                    entries = await self._loop.run_in_executor(self.executor, self.broadcaster.from_store, last)
                for entry in entries:
                    if sees(caller, entry.owner):  # another key's task is not this subscriber's to see
                        await send({"type": "websocket.send", "text": entry.text})
                    last = entry.seq
                if not entries:
                    await wake.wait()
        except OSError:  # the client went away mid-send (uvicorn's ClientDisconnected)
            gone = True
        except Exception as exc:  # the store is down, or a bug: the client is told and may reconnect
            log.exception("websocket: stream failed")
            code, reason = 1011, f"stream failed ({type(exc).__name__}); reconnect with last_seq"
        finally:
            metrics.WEBSOCKET_CONNECTIONS.dec()
            self._wakers.discard(wake)
            watcher.cancel()
        if not gone:
            with contextlib.suppress(OSError):
                await _close(send, code, reason)


async def _close(send: Send, code: int, reason: str) -> None:
    encoded = reason.encode()
    if len(encoded) > _CLOSE_REASON_BYTES:
        reason = encoded[: _CLOSE_REASON_BYTES - 3].decode(errors="ignore") + "..."
    await send({"type": "websocket.close", "code": code, "reason": reason})

"""A WSGI app (the Flask API) under an ASGI server: the view runs on a worker thread, the loop does the I/O.

    await call_wsgi(app, executor, scope, receive, send)

Each hop between the loop and a thread waits for the GIL, so an answer of known length (Content-Length: every
non-streamed Flask answer) crosses back in one hop, whole; only a streamed answer (server-sent events from /v1
chat completions) is sent chunk by chunk. A chunk for a client that went away raises in the view's thread
(`ClientGone`), which closes the view's generator: a streamed generation stops at its next token. The request body
is read on the loop first, so a slow upload holds no thread; one over the app's MAX_CONTENT_LENGTH (declared, or
counted as it arrives) is not read further, and the app answers it from its length (413).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any

from a2wsgi.wsgi import build_environ

GONE = "qcl.client_gone"  # the server sets it in the request's scope when the client disconnects
Send = Callable[[dict[str, Any]], Awaitable[None]]


class ClientGone(ConnectionResetError):
    pass


async def call_wsgi(app: Any, executor: Executor, scope: Any, receive: Any, send: Send) -> None:
    limit = app.config.get("MAX_CONTENT_LENGTH") if hasattr(app, "config") else None
    declared = _content_length(scope)
    too_large = limit is not None and declared is not None and declared > limit
    body = bytearray()
    while not too_large:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        too_large = limit is not None and len(body) > limit
        if not message.get("more_body", False):
            break
    environ: Any = build_environ(scope, io.BytesIO(b"" if too_large else bytes(body)))  # type: ignore[arg-type]
    if too_large:
        # The app refuses it from its length alone, in its own error shape (the API: 413 JSON, with its headers);
        # the rest of the body is never read, and the connection closes after the answer.
        environ["CONTENT_LENGTH"] = str(max(declared or 0, len(body)))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
    loop = asyncio.get_running_loop()

    def emit(message: dict[str, Any]) -> None:  # on the view's thread: one chunk of a streamed answer
        if scope.get(GONE):
            raise ClientGone("the client went away")
        asyncio.run_coroutine_threadsafe(_send(send, message), loop).result()

    try:
        whole = await loop.run_in_executor(executor, _run, app, environ, emit)
    except ClientGone:
        return
    if whole is not None:
        status, headers, content = whole
        await _answer(send, status, [*headers, (b"connection", b"close")] if too_large else headers, content)


def _content_length(scope: Any) -> int | None:
    """The request's Content-Length, None when absent or not a number (a chunked body's length is counted)."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _start(app: Any, environ: Any) -> tuple[int, list[tuple[bytes, bytes]], Any]:
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started["status"] = int(status.split(" ", 1)[0])
        started["headers"] = [(k.lower().encode("latin1"), v.encode("latin1")) for k, v in headers]
        return lambda data: None  # the legacy write() callable; Flask never uses it

    chunks = app(environ, start_response)
    return started["status"], started["headers"], chunks


def run_whole(app: Any, environ: Any) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Run a WSGI app to the end of its answer: (status, headers, body)."""
    status, headers, chunks = _start(app, environ)
    try:
        return status, headers, b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()


def _run(app: Any, environ: Any, emit: Callable[[dict[str, Any]], None]) -> tuple[int, Any, bytes] | None:
    """Run the view; (status, headers, body) when the answer's length is known, else stream it through `emit`."""
    status, headers, chunks = _start(app, environ)
    try:
        if any(name == b"content-length" for name, _ in headers):
            return status, headers, b"".join(chunks)
        emit({"type": "http.response.start", "status": status, "headers": headers})
        for chunk in chunks:
            if chunk:
                emit({"type": "http.response.body", "body": chunk, "more_body": True})
        emit({"type": "http.response.body", "body": b""})
        return None
    finally:
        getattr(chunks, "close", lambda: None)()


async def _send(send: Send, message: dict[str, Any]) -> None:
    await send(message)


async def _answer(send: Send, status: int, headers: Any, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

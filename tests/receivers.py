"""Real receivers for what the stack sends out: an HTTP inbox (webhooks) and an SMTP server (email)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from qcl.bus.emulator import free_port


class Inbox:
    """POSTed JSON bodies, in arrival order; `status` is what the inbox answers."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.status = 200
        self.arrived = threading.Condition()
        self.url = ""

    def wait_for(self, count: int, timeout_s: float) -> list[Any]:
        deadline = time.monotonic() + timeout_s
        with self.arrived:
            while len(self.bodies) < count and time.monotonic() < deadline:
                self.arrived.wait(max(0.0, deadline - time.monotonic()))
            return list(self.bodies)


@contextmanager
def http_inbox() -> Iterator[Inbox]:
    inbox = Inbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            with inbox.arrived:
                inbox.bodies.append(body)
                inbox.arrived.notify_all()
            self.send_response(inbox.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    inbox.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield inbox
    finally:
        server.shutdown()
        server.server_close()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook name
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[tuple[str, list[Message]]]:
    """A real SMTP server on a free loopback port: ("host:port", the messages it received)."""
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield f"127.0.0.1:{controller.port}", mailbox.messages
    finally:
        controller.stop()

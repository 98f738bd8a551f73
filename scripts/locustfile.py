"""Locust scenario for the qcl API: many concurrent users reading, asking, submitting jobs and subscribing.

    QCL_LOCUST_KEY=$(cat .qcl/admin.key) locust -f scripts/locustfile.py --host http://127.0.0.1:8080 \\
        --headless -u 1000 -r 50 -t 10m --processes -1 --csv .qcl/bench/locust
    locust -f scripts/locustfile.py --host https://qcl.example.com     # the web UI on :8089, key from QCL_LOCUST_KEY

The mix, by share of users (each user waits a few seconds between two actions, as a person between two clicks):
  Reader      70 %  cached reads: GET /api/network/latest, /api/ai/status, /api/insights, /api/nodes
  Subscriber  15 %  a WebSocket on /api/ws held open, reconnecting every minute or so; each message received counts
                    as a request named "/api/ws message" (its time: the wait for it), the handshake as "/api/ws connect"
  Asker       10 %  POST /api/ai/question, half of them a question asked before (a cache hit)
  Submitter    5 %  POST /api/jobs (a short interactive completion), then GET the job once; where no model runs
                    (GET /api/ai/status says so) the user stops instead of filling a queue nobody works
Keys: QCL_LOCUST_KEY, or QCL_LOCUST_KEYS (comma-separated; users take them in turn). The API's limits apply per
key (20 requests/s and 16 open WebSockets by default) and per address: load the stack with its limits raised
(QCL_RATE_LIMIT_KEY_PER_S, QCL_RATE_LIMIT_KEY_BURST, QCL_RATE_LIMIT_IP_PER_S, QCL_RATE_LIMIT_IP_BURST,
QCL_WS_PER_KEY_MAX) or with enough keys, or the 429s and 4429 closes are what is measured. The WebSocket client is
the `websockets` library's synchronous one (the API's own dependency), which runs on gevent's patched sockets and
threads like locust's HTTP clients.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from typing import Any

from locust import FastHttpUser, User, between, events, task
from locust.exception import StopUser
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.sync.client import ClientConnection, connect

_KEYS = [k.strip() for k in (os.environ.get("QCL_LOCUST_KEYS") or os.environ.get("QCL_LOCUST_KEY", "")).split(",")]
_KEYS = [k for k in _KEYS if k]
_turn = itertools.count()
WS_CYCLE_S = 60.0  # a subscriber reconnects after about this long (connection churn, as browsers reload)


def _key() -> str:
    if not _KEYS:
        raise RuntimeError("set QCL_LOCUST_KEY (or QCL_LOCUST_KEYS) to an API key for the target")
    return _KEYS[next(_turn) % len(_KEYS)]


class _ApiUser(FastHttpUser):
    abstract = True

    def __init__(self, environment: Any) -> None:
        self.default_headers = {"Authorization": f"Bearer {_key()}"}  # on every request of this user's client
        super().__init__(environment)


class Reader(_ApiUser):
    weight = 70
    wait_time = between(1, 5)

    @task(5)
    def latest(self) -> None:
        self.client.get("/api/network/latest")

    @task(2)
    def status(self) -> None:
        self.client.get("/api/ai/status")

    @task(1)
    def insights(self) -> None:
        self.client.get("/api/insights?limit=10", name="/api/insights")

    @task(1)
    def nodes(self) -> None:
        self.client.get("/api/nodes")


class Asker(_ApiUser):
    weight = 10
    wait_time = between(2, 10)

    @task
    def ask(self) -> None:
        n = random.randrange(1_000_000)  # noqa: S311 - a different question, not a secret
        question = "Is the network healthy?" if n % 2 else f"How did the price move? ({n})"
        self.client.post("/api/ai/question", json={"question": question, "language": "en"})


class Submitter(_ApiUser):
    weight = 5
    wait_time = between(5, 15)

    def on_start(self) -> None:
        with self.client.get("/api/ai/status", catch_response=True) as answer:
            if answer.status_code == 200 and answer.json().get("models") is None:
                answer.success()
                raise StopUser()  # no model runs jobs here

    @task
    def submit(self) -> None:
        body = {"kind": "completion", "prompt": "Summarise the network's health.", "max_tokens": 8,
                "priority": "interactive"}  # fmt: skip
        with self.client.post("/api/jobs", json=body, catch_response=True) as answer:
            if answer.status_code != 202:
                answer.failure(f"{answer.status_code}: {answer.text[:200]}")
                return
            job_id = answer.json()["jobs"][0]
        time.sleep(1)
        self.client.get(f"/api/jobs/{job_id}", name="/api/jobs/{job_id}")


class Subscriber(User):
    """A dashboard left open: one WebSocket, messages read as they come."""

    weight = 15
    wait_time = between(0, 0)  # reading is the waiting

    def on_start(self) -> None:
        self.key = _key()
        self.ws: ClientConnection | None = None
        self.until = 0.0

    def on_stop(self) -> None:
        self._close()

    def _fire(self, name: str, started: float, length: int, exc: Exception | None = None) -> None:
        events.request.fire(
            request_type="WS",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=exc,
            context={},
        )

    def _close(self) -> None:
        if self.ws is not None:
            self.ws.close()
            self.ws = None

    def _connect(self) -> None:
        assert self.host, "give --host"
        url = self.host.replace("http://", "ws://", 1).replace("https://", "wss://", 1).rstrip("/") + "/api/ws"
        started = time.perf_counter()
        try:
            self.ws = connect(url, additional_headers={"Authorization": f"Bearer {self.key}"}, open_timeout=30)
            hello = self.ws.recv(timeout=30)
        except (OSError, TimeoutError, WebSocketException) as exc:
            self._fire("/api/ws connect", started, 0, exc)
            self.ws = None
            time.sleep(1)
            return
        self._fire("/api/ws connect", started, len(hello))
        self.until = time.monotonic() + WS_CYCLE_S * random.uniform(0.5, 1.5)  # noqa: S311 - spread reconnections

    @task
    def listen(self) -> None:
        if self.ws is None:
            self._connect()
            return
        if time.monotonic() >= self.until:
            self._close()
            return
        started = time.perf_counter()
        try:
            message: Any = self.ws.recv(timeout=max(0.1, self.until - time.monotonic()))
        except TimeoutError:
            return  # quiet until the cycle's end
        except ConnectionClosed as exc:
            self._fire("/api/ws message", started, 0, exc)
            self.ws = None
            return
        kind = json.loads(message).get("type", "?")
        self._fire("/api/ws message", started, len(message))
        if kind == "resync":  # events were missed: a dashboard reloads its REST views
            self._close()

"""The production server (qcl.api.server) over loopback: drain on SIGTERM, timeouts for silent and slow clients."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import flask
import httpx
import pytest

from qcl.api.server import ApiServer, serve_metrics
from qcl.bus.emulator import free_port
from qcl.obs import metrics
from tests.integration.test_api_fixtures import make_api

ROOT = Path(__file__).resolve().parents[2]

# A service as the containers run one: a view that takes a second, served until SIGTERM (serve_until_stopped).
SLOW_SERVICE = """
import time, flask
from qcl.api.server import serve_until_stopped
app = flask.Flask("slow")

@app.get("/api/health")
def health():
    return {"status": "ok"}

@app.get("/slow")
def slow():
    time.sleep(1.0)
    return {"done": True}

serve_until_stopped(app, "127.0.0.1")
print("drained", flush=True)
"""


def test_sigterm_lets_a_request_in_flight_finish_then_the_process_exits() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_SERVICE], env={**os.environ, "PORT": str(port)}, stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        answers: list[httpx.Response] = []
        in_flight = threading.Thread(target=lambda: answers.append(httpx.get(f"{url}/slow", timeout=10)))
        in_flight.start()
        time.sleep(0.3)  # the view is sleeping
        process.send_signal(signal.SIGTERM)
        in_flight.join()
        assert answers[0].status_code == 200 and answers[0].json() == {"done": True}
        assert process.wait(timeout=15) == 0
        assert process.stdout is not None and "drained" in process.stdout.read()
    finally:
        process.kill()


@pytest.fixture
def server() -> Iterator[ApiServer]:
    app = flask.Flask("plain")
    app.get("/api/health")(lambda: {"status": "ok"})  # the one route: its endpoint name is "<lambda>"
    served = ApiServer(app, "127.0.0.1", 0, grace_s=2, idle_s=1)
    served.start()
    yield served
    served.stop()


def closed_within(raw: socket.socket, seconds: float) -> bool:
    """True when the server ends the connection within `seconds` (what it sends before that is ignored)."""
    raw.settimeout(seconds)
    try:
        while raw.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def test_a_connection_that_sends_nothing_is_closed_after_the_idle_time(server: ApiServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as raw:
        assert closed_within(raw, 4)


def test_headers_sent_a_byte_at_a_time_do_not_hold_the_connection(server: ApiServer) -> None:
    """Slowloris: every byte is on time for a read timeout, but the request never completes."""
    with socket.create_connection(("127.0.0.1", server.port)) as raw:
        raw.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 4 and not closed:
            try:
                raw.sendall(b"X")
            except OSError:
                closed = True
                break
            raw.settimeout(0.3)
            with contextlib.suppress(TimeoutError):
                closed = raw.recv(4096) == b""
        assert closed and time.monotonic() - started < 3


def test_a_keep_alive_connection_serves_requests_one_after_another(server: ApiServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        answers = [client.get("/api/health") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].headers["server"] == "qcl"


def test_past_max_pending_a_request_is_answered_overloaded_at_once_and_health_still_answers() -> None:
    release, entered = threading.Event(), threading.Semaphore(0)
    app = flask.Flask("busy")
    app.get("/api/health")(lambda: {"status": "ok"})

    @app.get("/hold")
    def hold() -> dict[str, bool]:
        entered.release()
        release.wait(10)
        return {"done": True}

    served = ApiServer(app, "127.0.0.1", 0, grace_s=2, threads=3, max_pending=2)
    served.start()
    answers: list[httpx.Response] = []
    holders = [
        threading.Thread(target=lambda: answers.append(httpx.get(f"{served.url}/hold", timeout=10))) for _ in range(2)
    ]
    try:
        for holder in holders:
            holder.start()
        assert entered.acquire(timeout=5) and entered.acquire(timeout=5)  # both views hold a thread
        shed = httpx.get(f"{served.url}/hold", timeout=5)
        assert shed.status_code == 503 and shed.headers["retry-after"] == "1"
        assert shed.json()["error"]["code"] == "overloaded"
        assert httpx.get(f"{served.url}/api/health", timeout=5).status_code == 200
    finally:
        release.set()
        for holder in holders:
            holder.join(timeout=10)
        served.stop()
    assert [a.status_code for a in answers] == [200, 200]


def wait_answering(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1).status_code < 500:
                return
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout_s} s")


def test_the_api_container_serves_metrics_without_a_key_on_its_loopback_port_only(tmp_path: Path) -> None:
    """containers/api/main.py as Cloud Run runs it, with QCL_METRICS_PORT for the Managed Prometheus sidecar."""
    port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "QCL_METRICS_PORT": str(metrics_port),
        "QCL_STATE_DIR": str(tmp_path / "state"),
        "QCL_NARRATE_MODEL": "false",  # templates: this test is about the ports, not the model
    }
    process = subprocess.Popen([sys.executable, str(ROOT / "containers" / "api" / "main.py")], env=env)
    try:
        wait_answering(f"http://127.0.0.1:{port}/api/health")
        wait_answering(f"http://127.0.0.1:{metrics_port}/metrics")
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
        assert 'qcl_nodes{role="shard",state="up"} 0.0' in scraped.text  # gauges refreshed at the scrape
        assert httpx.get(f"http://127.0.0.1:{metrics_port}/api/health").status_code == 404
        assert httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 401  # the API's own still needs a key
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()


def test_the_metrics_port_listens_on_loopback_and_refreshes_gauges_at_each_scrape(tmp_path: Path) -> None:
    api = make_api(tmp_path)
    exporter = serve_metrics(api.app, 0)
    try:
        assert exporter.server_address[0] == "127.0.0.1"
        metrics.NODES.labels(role="oracle", state="down").set(7)  # stale: the store holds no oracle node
        scraped = httpx.get(f"http://127.0.0.1:{exporter.server_port}/metrics")
        assert scraped.status_code == 200
        assert 'qcl_nodes{role="oracle",state="down"} 0.0' in scraped.text
    finally:
        exporter.shutdown()

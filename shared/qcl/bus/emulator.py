"""The Pub/Sub emulator as a managed process: started by the test fixture and by `qcl up --bus pubsub`.

with PubSubEmulator("127.0.0.1:8085") as emulator:
    os.environ.update(emulator.env)   # PUBSUB_EMULATOR_HOST for google-cloud-pubsub
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from qcl.errors import QclError


def unavailable_reason() -> str | None:
    """Why the emulator cannot run here, or None when it can."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        return "gcloud is not installed (the Pub/Sub emulator ships with the Google Cloud CLI)"
    sdk_root = Path(os.path.realpath(gcloud)).parent.parent
    roots = (sdk_root, Path("/usr/lib/google-cloud-sdk"))
    if not any((root / "platform" / "pubsub-emulator").is_dir() for root in roots):
        return "the gcloud component pubsub-emulator is not installed (gcloud components install pubsub-emulator)"
    if shutil.which("java") is None:
        return "java is not installed (the Pub/Sub emulator is a Java program)"
    return None


def is_listening(host_port: str, timeout_s: float = 0.5) -> bool:
    host, port = host_port.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return True
    except OSError:
        return False


FREE_PORT_FLOOR = 20000  # free_port picks from here up to the kernel's ephemeral range
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
PORT_LEASES = Path(tempfile.gettempdir()) / "qcl-port-leases.json"
PORT_LEASE_S = 300.0  # a port handed out is not handed out again, to any process here, for this long
_leases_here: dict[str, float] = {}  # where the shared lease file cannot be written


@contextmanager
def _port_leases() -> Iterator[dict[str, float]]:
    """The ports handed out in the last PORT_LEASE_S seconds, by any process on this machine (a file under an
    exclusive lock); changes are written back on exit."""
    try:
        book = PORT_LEASES.open("a+", encoding="utf-8")
    except OSError:
        yield _leases_here
        return
    with book:
        fcntl.flock(book, fcntl.LOCK_EX)
        book.seek(0)
        try:
            leases = {port: float(at) for port, at in json.loads(book.read() or "{}").items()}
        except (ValueError, TypeError, AttributeError):  # a torn or foreign file: start again
            leases = {}
        now = time.time()
        leases = {port: at for port, at in leases.items() if now - at < PORT_LEASE_S}
        yield leases
        book.seek(0)
        book.truncate()
        book.write(json.dumps(leases))


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:  # listening, or still in TIME_WAIT
            return False
        return True


def free_port() -> int:
    """A loopback port nothing listens on, for a server to bind: one below the kernel's ephemeral range where there is
    room. A port from that range can be taken by any outgoing connection's source port before the server binds it,
    or while a server restarts on its port (a killed shard stage comes back at its address): with many processes
    connecting to the emulator, Redis and each other, a restarted stage was refused its port for good.

    A port is free only until its server binds it, seconds later for a stage that first loads torch: each port handed
    out is leased for PORT_LEASE_S, so no other caller on this machine (another test worker, the other server of a
    pair drawn back to back) is given it in that time."""
    try:
        ephemeral_low = int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):  # not Linux: the kernel's choice
        ephemeral_low = FREE_PORT_FLOOR
    if ephemeral_low - FREE_PORT_FLOOR > 1000:
        with _port_leases() as leases:
            for _ in range(100):
                port = random.randrange(FREE_PORT_FLOOR, ephemeral_low)  # noqa: S311  (a port, not a secret)
                if str(port) not in leases and _bindable(port):
                    leases[str(port)] = time.time()
                    return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PubSubEmulator:
    """Starts `gcloud beta emulators pubsub start` on `host_port` and stops it (and its Java child) on exit."""

    def __init__(self, host_port: str | None = None, *, start_timeout_s: float = 90.0) -> None:
        self.host_port = host_port or f"127.0.0.1:{free_port()}"
        self._start_timeout_s = start_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._data_dir = tempfile.TemporaryDirectory(prefix="qcl-pubsub-")
        self.log_path = Path(self._data_dir.name) / "emulator.log"

    @property
    def env(self) -> dict[str, str]:
        return {"PUBSUB_EMULATOR_HOST": self.host_port}

    def start(self) -> PubSubEmulator:
        reason = unavailable_reason()
        if reason:
            raise QclError(f"cannot start the Pub/Sub emulator: {reason}")
        if is_listening(self.host_port):
            raise QclError(f"cannot start the Pub/Sub emulator: {self.host_port} is already in use")
        with self.log_path.open("wb") as log_file:
            self._process = subprocess.Popen(
                [  # noqa: S607 - the user's gcloud, from PATH on purpose
                    "gcloud",
                    "beta",
                    "emulators",
                    "pubsub",
                    "start",
                    f"--host-port={self.host_port}",
                    f"--data-dir={self._data_dir.name}",
                    "--quiet",
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own group: stop kills Java too
            )
        deadline = time.monotonic() + self._start_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise QclError(f"the Pub/Sub emulator exited at start: {self.log_path.read_text()[-2000:]}")
            if is_listening(self.host_port) and b"Server started" in self.log_path.read_bytes():
                return self
            time.sleep(0.2)
        self.stop()
        raise QclError(f"the Pub/Sub emulator did not start within {self._start_timeout_s:.0f} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self._data_dir.cleanup()

    def __enter__(self) -> PubSubEmulator:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def ensure_emulator(host_port: str = "127.0.0.1:8085") -> tuple[PubSubEmulator | None, str]:
    """Point google-cloud-pubsub at an emulator: PUBSUB_EMULATOR_HOST if set, one already on `host_port`, or a
    new one started there (returned, so the caller stops it). The string says which."""
    if "PUBSUB_EMULATOR_HOST" in os.environ:
        return None, f"emulator at {os.environ['PUBSUB_EMULATOR_HOST']} (PUBSUB_EMULATOR_HOST)"
    if is_listening(host_port):
        os.environ["PUBSUB_EMULATOR_HOST"] = host_port
        return None, f"emulator already running at {host_port}"
    emulator = PubSubEmulator(host_port).start()
    os.environ.update(emulator.env)
    return emulator, f"emulator started at {host_port}"

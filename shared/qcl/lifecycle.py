"""How a long-running process stops: SIGTERM (Cloud Run, Kubernetes, systemd) and Ctrl-C take the same path.

    stop_on_sigterm()          # before a slow start, so that SIGTERM during it stops the process cleanly
    ...start...
    wait_for_stop()            # blocks the main thread until SIGTERM or Ctrl-C; then the caller cleans up

SIGTERM is turned into KeyboardInterrupt in the main thread (Python's own Ctrl-C handler), so one `except
KeyboardInterrupt` / `finally` cleans up after both. Cloud Run sends SIGTERM and SIGKILL 10 s later.
`kill -USR1 PID` prints every thread's stack to stderr: a process slow to stop can say where it waits.

The kernel may deliver a process's signal to any thread. Python runs the handler in the main thread, but only once
that thread runs again: a main thread asleep for an hour would not notice a Ctrl-C that landed on one of the bus's
gRPC threads (a CI run waited 60 s for `qcl up` to stop, until SIGUSR1 happened to wake it). So the main thread
sleeps in short slices.
"""

from __future__ import annotations

import faulthandler
import signal
import time

# How long a signal delivered to another thread can wait before the main thread handles it.
WAKE_EVERY_S = 0.5


def stop_on_sigterm() -> None:
    """From now on SIGTERM raises KeyboardInterrupt in the main thread, as Ctrl-C does; SIGUSR1 dumps stacks."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    faulthandler.register(signal.SIGUSR1, all_threads=True)


def wait_for_stop() -> None:
    """Block until SIGTERM or Ctrl-C (call it from the main thread: signals are delivered there)."""
    stop_on_sigterm()
    try:
        while True:
            time.sleep(WAKE_EVERY_S)
    except KeyboardInterrupt:
        pass

"""How a process waits to be stopped: a Ctrl-C or SIGTERM stops it wherever the kernel delivers the signal."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator

import pytest

from qcl.lifecycle import wait_for_stop


@pytest.fixture
def restored_handlers() -> Iterator[None]:
    """wait_for_stop installs process-wide handlers: the test worker gets its own back."""
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR2)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


def _stopped_after(send: signal.Signals, to_main: bool) -> float:
    """Seconds wait_for_stop() blocks when `send` reaches the process through a worker thread (or the main one).

    A signal with a handler of its own wakes the main thread after 10 s, so a wait that missed `send` handles it
    then and the test fails on time rather than hanging for good."""
    main = threading.get_ident()
    signal.signal(signal.SIGUSR2, lambda number, frame: None)

    def send_later() -> None:
        time.sleep(0.2)
        signal.pthread_kill(main if to_main else threading.get_ident(), send)

    fallback = threading.Timer(10, lambda: signal.pthread_kill(main, signal.SIGUSR2))
    fallback.start()
    threading.Thread(target=send_later, daemon=True).start()
    started = time.monotonic()
    try:
        wait_for_stop()
    finally:
        fallback.cancel()
    return time.monotonic() - started


@pytest.mark.usefixtures("restored_handlers")
@pytest.mark.parametrize("send", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_that_lands_on_another_thread_still_stops_the_wait(send: signal.Signals) -> None:
    # The C handler runs on the worker; the main thread handles the signal when it next wakes (within 0.5 s).
    assert _stopped_after(send, to_main=False) < 3


@pytest.mark.usefixtures("restored_handlers")
def test_a_signal_to_the_main_thread_stops_the_wait_at_once() -> None:
    assert _stopped_after(signal.SIGINT, to_main=True) < 3

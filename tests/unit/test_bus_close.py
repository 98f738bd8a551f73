"""Closing many subscriptions at once (a stack's stop must fit between SIGTERM and SIGKILL)."""

from __future__ import annotations

import threading

import pytest

from qcl.bus.base import Subscription, close_all


class WaitsForTheOthers(Subscription):
    """Its close returns only once every other close has started: closes in sequence would break the barrier."""

    def __init__(self, barrier: threading.Barrier) -> None:
        self.name, self.barrier, self.closed = "s", barrier, False

    def close(self) -> None:
        self.barrier.wait()
        self.closed = True


def test_close_all_closes_subscriptions_side_by_side() -> None:
    barrier = threading.Barrier(3, timeout=5)
    subscriptions = [WaitsForTheOthers(barrier) for _ in range(3)]
    close_all(subscriptions)
    assert all(s.closed for s in subscriptions)


def test_close_all_passes_on_a_failed_close() -> None:
    class Broken(Subscription):
        name = "broken"

        def close(self) -> None:
            raise RuntimeError("stream gone")

    with pytest.raises(RuntimeError, match="stream gone"):
        close_all([Broken(), Broken()])

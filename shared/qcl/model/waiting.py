"""The generation service's waiting line: bounded, ordered by priority class, then by arrival.

    line = WaitingLine(maxsize=16)
    line.put_nowait(request)                 # queue.Full when `maxsize` requests wait (the service: ModelBusyError)
    first = line.get(timeout=0.1)            # the most urgent, oldest request; queue.Empty after the timeout
    more = line.get(0.005, rank=first.params.rank)   # only a request of that same class, else queue.Empty
    urgent = line.take_before(rank=3, limit=4)       # waiting requests more urgent than class 3, oldest first

A heap of (rank, arrival number, request) under one condition variable; the arrival number keeps requests of a
class first-come first-served and makes the heap never compare two requests.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
import time

from qcl.model.batch import Request


class WaitingLine:
    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._heap: list[tuple[int, int, Request]] = []
        self._arrivals = itertools.count()
        self._ready = threading.Condition()

    def qsize(self) -> int:
        with self._ready:
            return len(self._heap)

    def counts(self) -> dict[int, int]:
        """Waiting requests per class rank."""
        with self._ready:
            found: dict[int, int] = {}
            for rank, _, _ in self._heap:
                found[rank] = found.get(rank, 0) + 1
            return found

    def put_nowait(self, request: Request) -> None:
        with self._ready:
            if len(self._heap) >= self.maxsize:
                raise queue.Full
            heapq.heappush(self._heap, (request.params.rank, next(self._arrivals), request))
            self._ready.notify()

    def get(self, timeout: float, *, rank: int | None = None) -> Request:
        """The most urgent waiting request, waiting up to `timeout` seconds for one (when `rank` is given: for one of
        that class; queue.Empty at once when a request of another class is first in line)."""
        ends = time.monotonic() + timeout
        with self._ready:
            while not self._heap:
                remaining = ends - time.monotonic()
                if remaining <= 0:
                    raise queue.Empty
                self._ready.wait(remaining)
            if rank is not None and self._heap[0][0] != rank:
                raise queue.Empty
            return heapq.heappop(self._heap)[2]

    def get_nowait(self, *, rank: int | None = None) -> Request:
        """The most urgent waiting request (when `rank` is given: only if it is of that class)."""
        with self._ready:
            if not self._heap or (rank is not None and self._heap[0][0] != rank):
                raise queue.Empty
            return heapq.heappop(self._heap)[2]

    def take_before(self, rank: int, limit: int) -> list[Request]:
        """Up to `limit` waiting requests of a class more urgent than `rank`, most urgent and oldest first."""
        with self._ready:
            taken: list[Request] = []
            while self._heap and self._heap[0][0] < rank and len(taken) < limit:
                taken.append(heapq.heappop(self._heap)[2])
            return taken

"""The embedded bus: Pub/Sub's delivery semantics in one process.

Every subscription in the registry exists from the start (as Terraform creates them on Google Cloud), so events
published before a consumer attaches wait for it. One worker thread per attached subscription delivers messages;
a nacked message comes back after a short exponential backoff; messages that share an ordering key are handed
to the handler one at a time, in publish order (a retried one comes back after the backoff, as with Pub/Sub).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from qcl.bus.base import (
    Bus,
    DeadLetter,
    DeadLetterMessage,
    Delivery,
    Handler,
    Nack,
    Subscription,
    T,
    dead_letter_attributes,
    dead_letter_message,
    decide,
)
from qcl.errors import UnknownTopicError
from qcl.events import TOPICS, Topic

log = logging.getLogger(__name__)

_DLQ_HOLD = "hold"  # the subscription that keeps each dead-letter topic's messages until someone drains them


@dataclass
class _Message:
    data: bytes
    attributes: dict[str, str]
    message_id: str
    ordering_key: str
    attempt: int = 0
    not_before: float = 0.0


@dataclass
class _Queue:
    """A subscription's backlog."""

    name: str
    messages: deque[_Message] = field(default_factory=deque)
    in_flight_keys: set[str] = field(default_factory=set)
    in_flight: int = 0


class MemoryBus(Bus):
    backend = "memory"

    def __init__(self, *, max_attempts: int = 5, min_backoff_s: float = 0.01, max_backoff_s: float = 1.0) -> None:
        self.max_attempts = max_attempts
        self._min_backoff_s = min_backoff_s
        self._max_backoff_s = max_backoff_s
        self._ids = itertools.count(1)
        self._changed = threading.Condition()
        self._queues: dict[str, dict[str, _Queue]] = {}  # topic name -> subscription name -> queue
        self._closed = False
        self._subscriptions: list[_MemorySubscription] = []
        for registered in TOPICS.values():
            self._queues[registered.name] = {
                registered.subscription(c): _Queue(registered.subscription(c)) for c in registered.consumers
            }
            hold = f"{registered.dead_letter}.{_DLQ_HOLD}"
            self._queues[registered.dead_letter] = {hold: _Queue(hold)}

    def publish_bytes(self, topic_name: str, data: bytes, attributes: dict[str, str], *, ordering_key: str = "") -> str:
        if topic_name not in self._queues:
            raise UnknownTopicError(f"topic '{topic_name}' is not registered; registered: {', '.join(self._queues)}")
        message_id = str(next(self._ids))
        with self._changed:
            for queue in self._queues[topic_name].values():
                queue.messages.append(_Message(data, dict(attributes), message_id, ordering_key))
            self._changed.notify_all()
        return message_id

    def subscribe(self, topic: Topic[T], consumer: str, handler: Handler[T]) -> Subscription:
        queue = self._queues[topic.name][topic.subscription(consumer)]
        subscription = _MemorySubscription(self, topic, queue, handler)
        self._subscriptions.append(subscription)
        return subscription

    def drain_dead_letters(self, topic: Topic[Any], *, timeout_s: float = 5.0) -> list[DeadLetterMessage]:
        queue = self._queues[topic.dead_letter][f"{topic.dead_letter}.{_DLQ_HOLD}"]
        with self._changed:
            drained = [dead_letter_message(m.data, m.attributes) for m in queue.messages]
            queue.messages.clear()
        return drained

    def backlog(self) -> int:
        """Messages not yet acked on consumer subscriptions (dead-letter holds excluded)."""
        with self._changed:
            return sum(
                len(q.messages) + q.in_flight
                for name, subs in self._queues.items()
                if not name.endswith("-dlq")
                for q in subs.values()
            )

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Block until every attached subscription has nothing left to deliver; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                busy = any(s.queue.messages or s.queue.in_flight for s in self._subscriptions if s.running)
                if not busy:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.05))

    def ping(self) -> bool:
        return not self._closed

    def close(self) -> None:
        for subscription in list(self._subscriptions):
            subscription.close()
        self._closed = True

    # -- used by the subscriptions' workers ------------------------------------------------------------

    def _next(self, queue: _Queue) -> _Message | None:
        """The first deliverable message, honouring ordering keys and backoff; caller holds the lock."""
        now = time.monotonic()
        for message in queue.messages:
            if message.not_before > now or (message.ordering_key and message.ordering_key in queue.in_flight_keys):
                continue
            queue.messages.remove(message)
            queue.in_flight += 1
            if message.ordering_key:
                queue.in_flight_keys.add(message.ordering_key)
            return message
        return None

    def _settle(self, queue: _Queue, message: _Message, requeue: bool) -> None:
        with self._changed:
            queue.in_flight -= 1
            queue.in_flight_keys.discard(message.ordering_key)
            if requeue:
                backoff = min(self._max_backoff_s, self._min_backoff_s * 2 ** (message.attempt - 1))
                message.not_before = time.monotonic() + backoff
                # Like Pub/Sub, a nacked message comes back after a backoff; later messages do not wait for it.
                queue.messages.append(message)
            self._changed.notify_all()


class _MemorySubscription(Subscription):
    def __init__(self, bus: MemoryBus, topic: Topic[Any], queue: _Queue, handler: Handler[Any]) -> None:
        self.name = queue.name
        self.queue = queue
        self.running = True
        self._bus = bus
        self._topic = topic
        self._handler = handler
        self._thread = threading.Thread(target=self._run, name=f"bus:{queue.name}", daemon=True)
        self._thread.start()

    def _take(self) -> _Message | None:
        """Wait for the next deliverable message; None once the subscription is closed."""
        with self._bus._changed:
            while self.running:
                message = self._bus._next(self.queue)
                if message is not None:
                    return message
                self._bus._changed.wait(0.05)  # also wakes for messages whose backoff has passed
        return None

    def _run(self) -> None:
        bus = self._bus
        while (message := self._take()) is not None:
            message.attempt += 1
            delivery = Delivery(
                message.data, message.attributes, message.message_id, message.attempt, message.ordering_key
            )
            outcome = decide(self._topic, self._handler, delivery, bus.max_attempts)
            if isinstance(outcome, DeadLetter):
                attributes = dead_letter_attributes(delivery, self.name, outcome.reason)
                bus.publish_bytes(self._topic.dead_letter, message.data, attributes)
                log.warning("%s: message %s dead-lettered: %s", self.name, message.message_id, outcome.reason)
            bus._settle(self.queue, message, requeue=isinstance(outcome, Nack))

    def close(self) -> None:
        with self._bus._changed:
            self.running = False
            self._bus._changed.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

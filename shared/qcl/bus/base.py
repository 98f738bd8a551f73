"""The bus interface and the delivery rules both backends share.

Semantics (those of Pub/Sub): at-least-once delivery; a handler that returns acks, one that raises nacks and the
event comes back; a handler may return the future of a `publish_nowait` (its output), and is then acked only once
that publish is confirmed (nacked like a failure if it is not), so a backend can confirm a run of them together;
after `max_attempts` deliveries, or at once for bytes that are not a valid event (a poison
message), the message goes to the topic's dead-letter topic with the reason attached, and is acked. Messages that
share an ordering key are delivered in publish order, one at a time.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from qcl.errors import EventDecodeError
from qcl.events import Envelope, Topic

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)
Handler = Callable[[Envelope[T]], Future[str] | None]  # the future: see the module docstring

# Attributes on a dead-lettered message: why it went there and where it came from.
DLQ_REASON = "qcl_dead_letter_reason"
DLQ_SUBSCRIPTION = "qcl_source_subscription"
DLQ_ATTEMPTS = "qcl_delivery_attempts"
DLQ_MESSAGE_ID = "qcl_source_message_id"


@dataclass(frozen=True)
class Delivery:
    """One delivery of a message to a subscription, as any backend sees it."""

    data: bytes
    attributes: dict[str, str]
    message_id: str
    attempt: int  # 1 on first delivery
    ordering_key: str = ""


@dataclass(frozen=True)
class Ack:
    pending: Future[str] | None = None  # the handler's output, to be confirmed before the ack


@dataclass(frozen=True)
class Nack:
    reason: str


@dataclass(frozen=True)
class DeadLetter:
    reason: str


Outcome = Ack | Nack | DeadLetter


@dataclass(frozen=True)
class DeadLetterMessage:
    """A message read back from a dead-letter topic."""

    data: bytes
    reason: str
    subscription: str
    attempts: int
    source_message_id: str


def decide(
    topic: Topic[Any], handler: Handler[Any], delivery: Delivery, max_attempts: int, *, confirmed: bool = True
) -> Outcome:
    """Run `handler` on one delivery and say what to do with the message. Never raises. With confirmed=False an
    Ack may still carry the handler's pending output: pass it to `confirm` before acking."""
    try:
        event = topic.decode(delivery.data)
    except EventDecodeError as exc:
        return DeadLetter(f"undecodable event: {exc}")
    try:
        pending = handler(event)
    except Exception as exc:
        log.warning("%s event %s: handler failed: %s", topic.name, event.id, exc)
        return _failed("handler failed", exc, delivery, max_attempts)
    outcome = Ack(pending if isinstance(pending, Future) else None)
    return confirm(outcome, delivery, max_attempts) if confirmed else outcome


def confirm(outcome: Outcome, delivery: Delivery, max_attempts: int, *, timeout_s: float = 60.0) -> Outcome:
    """Wait for an Ack's pending output; a publish that failed turns it into a Nack (a DeadLetter at the last try)."""
    if not isinstance(outcome, Ack) or outcome.pending is None:
        return outcome
    try:
        outcome.pending.result(timeout=timeout_s)
    except Exception as exc:
        return _failed("publishing the handler's output failed", exc, delivery, max_attempts)
    return Ack()


def _failed(what: str, exc: Exception, delivery: Delivery, max_attempts: int) -> Nack | DeadLetter:
    reason = f"{what} on attempt {delivery.attempt} of {max_attempts}: {type(exc).__name__}: {exc}"
    return DeadLetter(reason) if delivery.attempt >= max_attempts else Nack(reason)


def dead_letter_attributes(delivery: Delivery, subscription: str, reason: str) -> dict[str, str]:
    return {
        **delivery.attributes,
        DLQ_REASON: reason[:1024],
        DLQ_SUBSCRIPTION: subscription,
        DLQ_ATTEMPTS: str(delivery.attempt),
        DLQ_MESSAGE_ID: delivery.message_id,
    }


def settles(bus: Bus, topic: Topic[Any], subscription: str, outcome: Outcome, delivery: Delivery) -> bool:
    """Whether a backend that moves messages itself may ack: a dead letter is published first, with its reason
    (a failure to do so leaves the message to be redelivered); a nack never acks."""
    if isinstance(outcome, Nack):
        return False
    if isinstance(outcome, DeadLetter):
        attributes = dead_letter_attributes(delivery, subscription, outcome.reason)
        try:
            bus.publish_bytes(topic.dead_letter, delivery.data, attributes)
        except Exception:
            log.exception("%s: could not dead-letter message %s; redelivered", subscription, delivery.message_id)
            return False
        log.warning("%s: message %s dead-lettered: %s", subscription, delivery.message_id, outcome.reason)
    return True


def dead_letter_message(data: bytes, attributes: dict[str, str]) -> DeadLetterMessage:
    return DeadLetterMessage(
        data=data,
        reason=attributes.get(DLQ_REASON, "(dead-lettered by the bus: delivery attempts exhausted)"),
        subscription=attributes.get(DLQ_SUBSCRIPTION, ""),
        attempts=int(attributes.get(DLQ_ATTEMPTS, "0")),
        source_message_id=attributes.get(DLQ_MESSAGE_ID, ""),
    )


class Subscription(ABC):
    """A running subscription; `close()` stops delivery."""

    name: str

    @abstractmethod
    def close(self) -> None: ...


def close_all(subscriptions: Iterable[Subscription]) -> None:
    """Close subscriptions side by side: each close waits for its stream and in-flight handler to settle (up to
    seconds under load), and a stack holds about fifteen, so one after another could outlast the 10 s between Cloud
    Run's SIGTERM and its SIGKILL."""
    pending = list(subscriptions)
    if len(pending) < 2:
        for subscription in pending:
            subscription.close()
        return
    with ThreadPoolExecutor(max_workers=len(pending), thread_name_prefix="bus-close") as pool:
        for future in [pool.submit(s.close) for s in pending]:
            future.result()


class Bus(ABC):
    """Publishes events to topics and delivers them to subscribed handlers."""

    backend: str
    max_attempts: int

    def publish(self, topic: Topic[T], event: Envelope[T], *, ordering_key: str = "") -> str:
        """Publish `event`; returns the message id once the bus has accepted it."""
        attributes = {"event_id": event.id, "event_type": event.type}
        return self.publish_bytes(topic.name, topic.encode(event), attributes, ordering_key=ordering_key)

    def publish_nowait(self, topic: Topic[T], event: Envelope[T], *, ordering_key: str = "") -> Future[str]:
        """Publish without waiting: the future gives the message id once the bus has accepted the event. Backends
        that batch override this; the default publishes at once."""
        published: Future[str] = Future()
        try:
            published.set_result(self.publish(topic, event, ordering_key=ordering_key))
        except Exception as exc:
            published.set_exception(exc)
        return published

    @abstractmethod
    def publish_bytes(self, topic_name: str, data: bytes, attributes: dict[str, str], *, ordering_key: str = "") -> str:
        """Publish raw bytes (dead letters, and tests that need a poison message)."""

    @abstractmethod
    def subscribe(self, topic: Topic[T], consumer: str, handler: Handler[T]) -> Subscription:
        """Deliver `topic`'s events to `handler` as `consumer` until the subscription is closed."""

    @abstractmethod
    def drain_dead_letters(self, topic: Topic[Any], *, timeout_s: float = 5.0) -> list[DeadLetterMessage]:
        """Take every message waiting on `topic`'s dead-letter topic (they are removed)."""

    @abstractmethod
    def ping(self) -> bool:
        """True when the bus answers (for readiness checks); never raises."""

    @abstractmethod
    def close(self) -> None: ...

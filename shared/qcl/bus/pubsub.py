"""The Google Cloud Pub/Sub bus (google-cloud-pubsub), against Google Cloud or the emulator.

On Google Cloud, Terraform creates topics and subscriptions; against the emulator (PUBSUB_EMULATOR_HOST set), or
with `create_missing=True`, the bus creates what the registry lists. The delivery rules are the shared ones in
base.py: this module only moves bytes. Dead-lettering is done here, not by Pub/Sub, so that the dead letter carries
the reason; the subscription's own dead-letter policy stays as the backstop for a consumer that dies mid-delivery.

Ordered topics (`Topic.ordered`: one ordering key) are read by batched pull, not streaming pull: the client library
releases the next message of a key only after the previous one's ack went out (acks leave in 10 ms batches), which
held a key to a few dozen messages a second. A batch is pulled, handled in order, the handlers' publishes are
confirmed together, and the batch is acked in one call; Pub/Sub sends a key's next messages only after that.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1  # type: ignore[attr-defined]  # google.cloud is a namespace package
from google.cloud.pubsub_v1.types import BatchSettings, DeadLetterPolicy, FlowControl, PublisherOptions, RetryPolicy
from google.protobuf.duration_pb2 import Duration

from qcl.bus.base import (
    Ack,
    Bus,
    DeadLetterMessage,
    Delivery,
    Handler,
    Outcome,
    Subscription,
    T,
    close_all,
    confirm,
    dead_letter_message,
    decide,
    settles,
)
from qcl.events import TOPICS, Envelope, Topic

log = logging.getLogger(__name__)

_DLQ_HOLD = "hold"
_PUBLISH_TIMEOUT_S = 30.0
_MAX_TRACKED = 10_000  # message ids whose handler runs are remembered
# A lone publish waits at most 1 ms for company (the default 10 ms doubled a one-at-a-time publish); under load a
# key's messages queue behind its batch in flight and go out together anyway.
_BATCH = BatchSettings(max_messages=100, max_latency=0.001)
_PULL_WAIT_S = 2.0  # a pull with nothing to deliver returns after this; also how long closing can take to settle


class PubSubBus(Bus):
    backend = "pubsub"

    def __init__(
        self,
        project: str,
        *,
        max_attempts: int = 5,
        create_missing: bool | None = None,
        ack_deadline_s: int = 60,
        max_outstanding: int = 100,
    ) -> None:
        self.project = project
        self.max_attempts = max_attempts
        self._ack_deadline_s = ack_deadline_s
        self._max_outstanding = max_outstanding
        self._publisher = pubsub_v1.PublisherClient(
            batch_settings=_BATCH, publisher_options=PublisherOptions(enable_message_ordering=True)
        )
        self._subscriber = pubsub_v1.SubscriberClient()
        self._subscriptions: list[Subscription] = []
        if create_missing is None:
            create_missing = "PUBSUB_EMULATOR_HOST" in os.environ
        if create_missing:
            self.ensure_topology()

    def _topic_path(self, name: str) -> str:
        return str(self._publisher.topic_path(self.project, name))

    def _subscription_path(self, name: str) -> str:
        return str(self._subscriber.subscription_path(self.project, name))

    def ensure_topology(self) -> None:
        """Create every registered topic, its dead-letter topic and their subscriptions, where missing."""
        for registered in TOPICS.values():
            for name in (registered.name, registered.dead_letter):
                with contextlib.suppress(gexc.AlreadyExists):
                    self._publisher.create_topic(name=self._topic_path(name))
            for consumer in registered.consumers:
                self._create_subscription(
                    registered.subscription(consumer), registered.name, dead_letter_topic=registered.dead_letter
                )
            self._create_subscription(f"{registered.dead_letter}.{_DLQ_HOLD}", registered.dead_letter)

    def _create_subscription(self, name: str, topic_name: str, *, dead_letter_topic: str | None = None) -> None:
        request: dict[str, Any] = {
            "name": self._subscription_path(name),
            "topic": self._topic_path(topic_name),
            "ack_deadline_seconds": self._ack_deadline_s,
            "enable_message_ordering": True,
            "retry_policy": RetryPolicy(minimum_backoff=Duration(seconds=1), maximum_backoff=Duration(seconds=60)),
        }
        if dead_letter_topic:
            # One attempt more than ours: the consumer dead-letters with a reason first; this is the backstop
            # for a consumer that dies while handling the message.
            request["dead_letter_policy"] = DeadLetterPolicy(
                dead_letter_topic=self._topic_path(dead_letter_topic),
                max_delivery_attempts=min(100, self.max_attempts + 1),
            )
        with contextlib.suppress(gexc.AlreadyExists):
            self._subscriber.create_subscription(request=request)

    def publish_bytes(self, topic_name: str, data: bytes, attributes: dict[str, str], *, ordering_key: str = "") -> str:
        return self._publish(topic_name, data, attributes, ordering_key).result(timeout=_PUBLISH_TIMEOUT_S)

    def publish_nowait(self, topic: Topic[T], event: Envelope[T], *, ordering_key: str = "") -> Future[str]:
        attributes = {"event_id": event.id, "event_type": event.type}
        return self._publish(topic.name, topic.encode(event), attributes, ordering_key)

    def _publish(self, topic_name: str, data: bytes, attributes: dict[str, str], ordering_key: str) -> Future[str]:
        path = self._topic_path(topic_name)
        future: Future[str] = self._publisher.publish(path, data, ordering_key=ordering_key, **attributes)

        def resume_if_failed(done: Future[str]) -> None:  # a failed keyed publish pauses the key
            if ordering_key and done.exception() is not None:
                self._publisher.resume_publish(path, ordering_key)

        future.add_done_callback(resume_if_failed)
        return future

    def subscribe(self, topic: Topic[T], consumer: str, handler: Handler[T]) -> Subscription:
        kind = _BatchSubscription if topic.ordered else _PubSubSubscription
        subscription = kind(self, topic, topic.subscription(consumer), handler)
        self._subscriptions.append(subscription)
        return subscription

    def drain_dead_letters(self, topic: Topic[Any], *, timeout_s: float = 5.0) -> list[DeadLetterMessage]:
        path = self._subscription_path(f"{topic.dead_letter}.{_DLQ_HOLD}")
        drained: list[DeadLetterMessage] = []
        while True:
            response = self._subscriber.pull(request={"subscription": path, "max_messages": 100}, timeout=timeout_s)
            if not response.received_messages:
                return drained
            for received in response.received_messages:
                drained.append(dead_letter_message(received.message.data, dict(received.message.attributes)))
            self._subscriber.acknowledge(
                request={"subscription": path, "ack_ids": [r.ack_id for r in response.received_messages]}
            )

    def ping(self) -> bool:
        try:
            self._publisher.get_topic(topic=self._topic_path(next(iter(TOPICS))), timeout=5)
        except Exception:  # unreachable, unauthorised or missing topology: not ready either way
            return False
        return True

    def close(self) -> None:
        close_all(self._subscriptions)
        self._publisher.stop()
        self._subscriber.close()


class _Delivering:
    """What both kinds of subscription share: counting attempts and settling an outcome to ack or not."""

    def __init__(self, bus: PubSubBus, topic: Topic[Any], name: str, handler: Handler[Any]) -> None:
        self.name = name
        self._bus = bus
        self._topic = topic
        self._handler = handler
        # Pub/Sub counts delivery attempts only where a dead-letter policy is set; count locally elsewhere.
        self._local_attempts: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def _delivery(self, message: Any, delivery_attempt: int) -> Delivery:
        return Delivery(
            data=message.data,
            attributes=dict(message.attributes),
            message_id=message.message_id,
            attempt=self._attempt(message.message_id, delivery_attempt),
            ordering_key=message.ordering_key,
        )

    def _attempt(self, message_id: str, delivery_attempt: int) -> int:
        if delivery_attempt:
            return int(delivery_attempt)
        with self._lock:
            attempt = self._local_attempts.pop(message_id, 0) + 1
            self._local_attempts[message_id] = attempt
            while len(self._local_attempts) > _MAX_TRACKED:
                self._local_attempts.popitem(last=False)
            return attempt

    def _acks(self, outcome: Outcome, delivery: Delivery) -> bool:
        if not settles(self._bus, self._topic, self.name, outcome, delivery):
            return False
        with self._lock:
            self._local_attempts.pop(delivery.message_id, None)
        return True


class _PubSubSubscription(_Delivering, Subscription):
    """Streaming pull: the client library's flow control and leases, handlers run concurrently."""

    def __init__(self, bus: PubSubBus, topic: Topic[Any], name: str, handler: Handler[Any]) -> None:
        super().__init__(bus, topic, name, handler)
        self._future = bus._subscriber.subscribe(
            bus._subscription_path(name),
            self._on_message,
            flow_control=FlowControl(max_messages=bus._max_outstanding),
        )

    def _on_message(self, message: Any) -> None:
        delivery = self._delivery(message, message.delivery_attempt)
        if self._acks(decide(self._topic, self._handler, delivery, self._bus.max_attempts), delivery):
            message.ack()
        else:
            message.nack()

    def close(self) -> None:
        self._future.cancel()
        with contextlib.suppress(Exception):  # a cancelled future raises on result(); closing is best effort
            self._future.result(timeout=10)


class _BatchSubscription(_Delivering, Subscription):
    """Batched pull for an ordered topic (see the module docstring): one worker, messages handled in order."""

    def __init__(self, bus: PubSubBus, topic: Topic[Any], name: str, handler: Handler[Any]) -> None:
        super().__init__(bus, topic, name, handler)
        self._path = bus._subscription_path(name)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"bus:{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        subscriber = self._bus._subscriber
        while not self._closed.is_set():
            try:
                request = {"subscription": self._path, "max_messages": self._bus._max_outstanding}
                received = list(subscriber.pull(request=request, timeout=_PULL_WAIT_S).received_messages)
            except gexc.DeadlineExceeded:
                continue
            except Exception:
                if self._closed.is_set():
                    return  # the bus closed the client under a pull
                log.exception("%s: pull failed; retrying in 1 s", self.name)
                self._closed.wait(1.0)
                continue
            if received:
                self._handle(received)

    def _handle(self, received: list[Any]) -> None:
        deadline_s = self._bus._ack_deadline_s
        extended_at = time.monotonic()
        handled: list[tuple[Any, Delivery, Outcome]] = []
        for index, item in enumerate(received):
            if self._closed.is_set():
                break
            if time.monotonic() - extended_at > deadline_s / 2:  # slow handlers: keep the rest of the batch leased
                self._modify([r.ack_id for r in received[index:]], deadline_s)
                extended_at = time.monotonic()
            delivery = self._delivery(item.message, item.delivery_attempt)
            outcome = decide(self._topic, self._handler, delivery, self._bus.max_attempts, confirmed=False)
            handled.append((item, delivery, outcome))
        acked: list[str] = []
        nacked = [r.ack_id for r in received[len(handled) :]]  # left unhandled at close: redeliver
        for item, delivery, outcome in handled:
            settled = confirm(outcome, delivery, self._bus.max_attempts) if isinstance(outcome, Ack) else outcome
            (acked if self._acks(settled, delivery) else nacked).append(item.ack_id)
        try:
            if acked:
                self._bus._subscriber.acknowledge(request={"subscription": self._path, "ack_ids": acked})
            self._modify(nacked, 0)
        except Exception:  # unacked messages come back after the ack deadline: at-least-once holds
            if not self._closed.is_set():  # closing the bus closes the client under the settling worker
                log.exception("%s: could not settle %d message(s); redelivered later", self.name, len(received))

    def _modify(self, ack_ids: list[str], deadline_s: int) -> None:
        if ack_ids:
            request = {"subscription": self._path, "ack_ids": ack_ids, "ack_deadline_seconds": deadline_s}
            self._bus._subscriber.modify_ack_deadline(request=request)

    def close(self) -> None:
        self._closed.set()  # no handler runs after this; the worker leaves when its pull returns

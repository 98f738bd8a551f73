"""The Google Cloud Pub/Sub bus (google-cloud-pubsub), against Google Cloud or the emulator.

On Google Cloud, Terraform creates topics and subscriptions; against the emulator (PUBSUB_EMULATOR_HOST set), or
with `create_missing=True`, the bus creates what the registry lists. The delivery rules are the shared ones in
base.py: this module only moves bytes. Dead-lettering is done here, not by Pub/Sub, so that the dead letter carries
the reason; the subscription's own dead-letter policy stays as the backstop for a consumer that dies mid-delivery.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import OrderedDict
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1  # type: ignore[attr-defined]  # google.cloud is a namespace package
from google.cloud.pubsub_v1.types import DeadLetterPolicy, FlowControl, PublisherOptions, RetryPolicy
from google.protobuf.duration_pb2 import Duration

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
from qcl.events import TOPICS, Topic

log = logging.getLogger(__name__)

_DLQ_HOLD = "hold"
_PUBLISH_TIMEOUT_S = 30.0
_MAX_TRACKED = 10_000  # message ids whose handler runs are remembered


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
        self._publisher = pubsub_v1.PublisherClient(publisher_options=PublisherOptions(enable_message_ordering=True))
        self._subscriber = pubsub_v1.SubscriberClient()
        self._subscriptions: list[_PubSubSubscription] = []
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
        path = self._topic_path(topic_name)
        future = self._publisher.publish(path, data, ordering_key=ordering_key, **attributes)
        try:
            return str(future.result(timeout=_PUBLISH_TIMEOUT_S))
        except Exception:
            if ordering_key:
                self._publisher.resume_publish(path, ordering_key)  # a failed keyed publish pauses the key
            raise

    def subscribe(self, topic: Topic[T], consumer: str, handler: Handler[T]) -> Subscription:
        subscription = _PubSubSubscription(self, topic, topic.subscription(consumer), handler)
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
        for subscription in list(self._subscriptions):
            subscription.close()
        self._publisher.stop()
        self._subscriber.close()


class _PubSubSubscription(Subscription):
    def __init__(self, bus: PubSubBus, topic: Topic[Any], name: str, handler: Handler[Any]) -> None:
        self.name = name
        self._bus = bus
        self._topic = topic
        self._handler = handler
        # Pub/Sub counts delivery attempts only where a dead-letter policy is set; count locally elsewhere.
        self._local_attempts: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()
        self._future = bus._subscriber.subscribe(
            bus._subscription_path(name),
            self._on_message,
            flow_control=FlowControl(max_messages=bus._max_outstanding),
        )

    def _attempt(self, message: Any) -> int:
        if message.delivery_attempt:
            return int(message.delivery_attempt)
        with self._lock:
            attempt = self._local_attempts.pop(message.message_id, 0) + 1
            self._local_attempts[message.message_id] = attempt
            while len(self._local_attempts) > _MAX_TRACKED:
                self._local_attempts.popitem(last=False)
            return attempt

    def _on_message(self, message: Any) -> None:
        delivery = Delivery(
            data=message.data,
            attributes=dict(message.attributes),
            message_id=message.message_id,
            attempt=self._attempt(message),
            ordering_key=message.ordering_key,
        )
        outcome = decide(self._topic, self._handler, delivery, self._bus.max_attempts)
        if isinstance(outcome, Nack):
            message.nack()
            return
        if isinstance(outcome, DeadLetter):
            attributes = dead_letter_attributes(delivery, self.name, outcome.reason)
            try:
                self._bus.publish_bytes(self._topic.dead_letter, message.data, attributes)
            except Exception:
                log.exception(
                    "%s: could not dead-letter message %s; it will be redelivered", self.name, message.message_id
                )
                message.nack()
                return
            log.warning("%s: message %s dead-lettered: %s", self.name, message.message_id, outcome.reason)
        with self._lock:
            self._local_attempts.pop(message.message_id, None)
        message.ack()

    def close(self) -> None:
        self._future.cancel()
        with contextlib.suppress(Exception):  # a cancelled future raises on result(); closing is best effort
            self._future.result(timeout=10)

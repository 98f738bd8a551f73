"""The AWS bus: each topic is an SNS FIFO topic fanned out to one SQS FIFO queue per consumer (boto3).

On AWS, Terraform creates the topics, queues and subscriptions (infra/aws); against a local endpoint
(AWS_ENDPOINT_URL set, e.g. moto's server), or with `create_missing=True`, the bus creates what the registry lists.
boto3 reads the region and credentials its usual way (AWS_DEFAULT_REGION, AWS_ENDPOINT_URL, the task role).

The delivery rules are the shared ones in base.py; this module maps them onto SQS:
- an ordering key is the message group (FIFO queues hand out a group's messages one at a time, in order); an event
  without a key gets a group of its own, so unkeyed events do not wait for each other;
- the attempt is SQS's receive count; a nack makes the message visible again after a backoff that grows with it;
- dead-lettering is done here, with the reason attached, onto the topic's dead-letter topic, whose `hold` queue
  keeps the messages until someone drains them; each queue's redrive policy (one receive more than ours) is the
  backstop for a consumer that dies mid-delivery;
- SNS carries text: an event's bytes go as UTF-8, other bytes as base64 with an attribute that says so.

Names: topic `<prefix><topic>.fifo`, queue `<prefix><topic>--<consumer>.fifo` (SQS allows no dots but the suffix).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import threading
import time
import uuid
from typing import Any

from qcl.bus.base import (
    Ack,
    Bus,
    DeadLetterMessage,
    Delivery,
    Handler,
    Nack,
    Outcome,
    Subscription,
    T,
    close_all,
    confirm,
    dead_letter_message,
    decide,
    settles,
)
from qcl.events import TOPICS, Topic

log = logging.getLogger(__name__)

_DLQ_HOLD = "hold"
_ENCODING = "qcl_encoding"  # attribute set to "base64" on a message whose bytes are not UTF-8
_UNKEYED = "~"  # message groups of events without an ordering key start with this
_RECEIVE_WAIT_S = 1  # a receive with nothing to deliver returns after this; also how long closing can take
_BATCH = 10  # SQS hands out at most 10 messages per receive


def _queue_name(prefix: str, subscription: str) -> str:
    topic, _, consumer = subscription.partition(".")
    return f"{prefix}{topic}--{consumer}.fifo"


class SqsBus(Bus):
    backend = "sqs"

    def __init__(
        self,
        prefix: str = "qcl-",
        *,
        max_attempts: int = 5,
        create_missing: bool | None = None,
        visibility_timeout_s: int = 60,
        retry_backoff_s: float = 1.0,
        max_backoff_s: int = 60,
    ) -> None:
        import boto3  # here: only the sqs bus needs it, and it takes a while to import
        from botocore.config import Config

        self.prefix = prefix
        self.max_attempts = max_attempts
        self._visibility_timeout_s = visibility_timeout_s
        self._retry_backoff_s = retry_backoff_s
        self._max_backoff_s = max_backoff_s
        self._session = boto3.session.Session()
        # A connection per subscription worker and publishing thread, kept: botocore's default pool of 10 discarded
        # and reopened connections under a committee's message storm.
        config = Config(max_pool_connections=64)
        self._sns = self._session.client("sns", config=config)
        self._sqs = self._session.client("sqs", config=config)
        self._arns: dict[str, str] = {}  # topic name -> ARN
        self._account: str | None = None
        self._urls: dict[str, str] = {}  # queue name -> URL
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []
        if create_missing is None:
            create_missing = "AWS_ENDPOINT_URL" in os.environ
        if create_missing:
            self.ensure_topology()

    # -- names and addresses ----------------------------------------------------------------------------

    def _topic_arn(self, name: str) -> str:
        with self._lock:
            if name not in self._arns:
                if self._account is None:
                    self._account = str(self._session.client("sts").get_caller_identity()["Account"])
                region = self._sns.meta.region_name
                self._arns[name] = f"arn:aws:sns:{region}:{self._account}:{self.prefix}{name}.fifo"
            return self._arns[name]

    def _queue_url(self, queue: str) -> str:
        with self._lock:
            if queue not in self._urls:
                self._urls[queue] = self._sqs.get_queue_url(QueueName=queue)["QueueUrl"]
            return self._urls[queue]

    def _queue_arn(self, url: str) -> str:
        return str(self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])

    def ensure_topology(self) -> None:
        """Create every registered topic, its dead-letter topic and their queues, where missing (all idempotent)."""
        for registered in TOPICS.values():
            for name in (registered.name, registered.dead_letter):
                attributes = {"FifoTopic": "true", "ContentBasedDeduplication": "false"}
                arn = self._sns.create_topic(Name=f"{self.prefix}{name}.fifo", Attributes=attributes)["TopicArn"]
                with self._lock:
                    self._arns[name] = arn
            hold = _queue_name(self.prefix, f"{registered.dead_letter}.{_DLQ_HOLD}")
            self._create_queue(hold, registered.dead_letter, backstop=None)
            for consumer in registered.consumers:
                self._create_queue(_queue_name(self.prefix, registered.subscription(consumer)), registered.name, hold)

    def _create_queue(self, queue: str, topic_name: str, backstop: str | None) -> None:
        topic_arn = self._topic_arn(topic_name)
        attributes = {"FifoQueue": "true", "VisibilityTimeout": str(self._visibility_timeout_s)}
        url = self._sqs.create_queue(QueueName=queue, Attributes=attributes)["QueueUrl"]
        queue_arn = self._queue_arn(url)
        policy = {  # SNS may deliver into the queue from this topic only
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
        settings = {"Policy": json.dumps(policy)}
        if backstop is not None:
            # One receive more than our attempts: the consumer dead-letters with a reason first.
            redrive = {
                "deadLetterTargetArn": self._queue_arn(self._queue_url(backstop)),
                "maxReceiveCount": self.max_attempts + 1,
            }
            settings["RedrivePolicy"] = json.dumps(redrive)
        self._sqs.set_queue_attributes(QueueUrl=url, Attributes=settings)
        with self._lock:
            self._urls[queue] = url
        self._sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
        )

    # -- publishing -------------------------------------------------------------------------------------

    def publish_bytes(self, topic_name: str, data: bytes, attributes: dict[str, str], *, ordering_key: str = "") -> str:
        attributes = dict(attributes)
        try:
            message = data.decode("utf-8")
        except UnicodeDecodeError:
            message, attributes[_ENCODING] = base64.b64encode(data).decode("ascii"), "base64"
        deduplication = uuid.uuid4().hex  # every publish is a message of its own, as with Pub/Sub
        response = self._sns.publish(
            TopicArn=self._topic_arn(topic_name),
            Message=message,
            # SNS refuses an empty attribute value; such an attribute is left out.
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items() if v},
            MessageGroupId=ordering_key or f"{_UNKEYED}{deduplication}",
            MessageDeduplicationId=deduplication,
        )
        return str(response["MessageId"])

    # -- delivering -------------------------------------------------------------------------------------

    def subscribe(self, topic: Topic[T], consumer: str, handler: Handler[T]) -> Subscription:
        name = topic.subscription(consumer)  # raises KeyError naming the consumers for an unknown one
        subscription = _SqsSubscription(self, topic, name, handler)
        self._subscriptions.append(subscription)
        return subscription

    def _receive(self, url: str, wait_s: int) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=_BATCH,
            WaitTimeSeconds=wait_s,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["ApproximateReceiveCount", "MessageGroupId"],
        )
        return list(response.get("Messages", []))

    def drain_dead_letters(self, topic: Topic[Any], *, timeout_s: float = 5.0) -> list[DeadLetterMessage]:
        url = self._queue_url(_queue_name(self.prefix, f"{topic.dead_letter}.{_DLQ_HOLD}"))
        drained: list[DeadLetterMessage] = []
        wait_s = max(0, min(20, int(timeout_s)))
        while messages := self._receive(url, wait_s):
            for message in messages:
                delivery = _delivery(message)
                drained.append(dead_letter_message(delivery.data, delivery.attributes))
            self._delete(url, messages)
            wait_s = 0
        return drained

    def _delete(self, url: str, messages: list[dict[str, Any]]) -> None:
        if messages:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
            self._sqs.delete_message_batch(QueueUrl=url, Entries=entries)

    def _backoff_s(self, attempt: int) -> int:
        return int(min(self._max_backoff_s, self._retry_backoff_s * 2 ** (attempt - 1)))

    def ping(self) -> bool:
        try:
            self._sns.get_topic_attributes(TopicArn=self._topic_arn(next(iter(TOPICS))))
        except Exception:  # unreachable, unauthorised or missing topology: not ready either way
            return False
        return True

    def close(self) -> None:
        close_all(self._subscriptions)
        self._sns.close()
        self._sqs.close()


def _delivery(message: dict[str, Any]) -> Delivery:
    attributes = {k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items() if "StringValue" in v}
    body = message["Body"]
    data = base64.b64decode(body) if attributes.pop(_ENCODING, "") == "base64" else body.encode("utf-8")
    system = message.get("Attributes", {})
    group = system.get("MessageGroupId", "")
    return Delivery(
        data=data,
        attributes=attributes,
        message_id=message["MessageId"],
        attempt=int(system.get("ApproximateReceiveCount", "1")),
        ordering_key="" if group.startswith(_UNKEYED) else group,
    )


class _SqsSubscription(Subscription):
    """One worker per subscription: receive up to 10, handle them in order, confirm their outputs together, then
    delete the acked ones and make the nacked ones visible again after their backoff. A group's messages after one
    that was nacked are released at once, so that the group is redelivered in order."""

    def __init__(self, bus: SqsBus, topic: Topic[Any], name: str, handler: Handler[Any]) -> None:
        self.name = name
        self._bus = bus
        self._topic = topic
        self._handler = handler
        self._url = bus._queue_url(_queue_name(bus.prefix, name))
        self._closed = threading.Event()
        self._handling = threading.Lock()  # held while a batch is handled and settled
        self._thread = threading.Thread(target=self._run, name=f"bus:{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                received = self._bus._receive(self._url, _RECEIVE_WAIT_S)
            except Exception:
                if self._closed.is_set():
                    return  # the bus closed the client under a receive
                log.exception("%s: receive failed; retrying in 1 s", self.name)
                self._closed.wait(1.0)
                continue
            if received:
                with self._handling:
                    self._handle(received)

    def _handle(self, received: list[dict[str, Any]]) -> None:
        bus = self._bus
        extended_at = time.monotonic()
        handled: list[tuple[dict[str, Any], Delivery, Outcome]] = []
        released: list[dict[str, Any]] = []  # behind a nacked message of their group, or left at close
        failed_groups: set[str] = set()
        for index, message in enumerate(received):
            delivery = _delivery(message)
            if self._closed.is_set() or (delivery.ordering_key and delivery.ordering_key in failed_groups):
                released.append(message)
                continue
            if time.monotonic() - extended_at > bus._visibility_timeout_s / 2:  # slow handlers: keep the rest
                self._change_visibility(received[index:], bus._visibility_timeout_s)
                extended_at = time.monotonic()
            outcome = decide(self._topic, self._handler, delivery, bus.max_attempts, confirmed=False)
            if isinstance(outcome, Nack) and delivery.ordering_key:
                failed_groups.add(delivery.ordering_key)
            handled.append((message, delivery, outcome))
        acked: list[dict[str, Any]] = []
        for message, delivery, outcome in handled:
            settled = confirm(outcome, delivery, bus.max_attempts) if isinstance(outcome, Ack) else outcome
            if settles(bus, self._topic, self.name, settled, delivery):
                acked.append(message)
            else:
                self._change_visibility([message], bus._backoff_s(delivery.attempt))
        try:
            bus._delete(self._url, acked)
            self._change_visibility(released, 0)
        except Exception:  # undeleted messages come back after the visibility timeout: at-least-once holds
            if not self._closed.is_set():
                log.exception("%s: could not settle %d message(s); redelivered later", self.name, len(received))

    def _change_visibility(self, messages: list[dict[str, Any]], timeout_s: int) -> None:
        if messages:
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": timeout_s}
                for i, m in enumerate(messages)
            ]
            with contextlib.suppress(Exception):  # a message whose receipt expired comes back anyway
                self._bus._sqs.change_message_visibility_batch(QueueUrl=self._url, Entries=entries)

    def close(self) -> None:
        """No handler starts after this; one running finishes and its batch is settled before close returns. The
        worker leaves when its receive returns (what that receive took is made visible again, unhandled)."""
        self._closed.set()
        if threading.current_thread() is not self._thread:
            with self._handling:
                pass

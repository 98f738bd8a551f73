"""Pub/Sub push delivery (Cloud Run): the push request body in, an HTTP status out, by the shared delivery rules.

Push body (https://cloud.google.com/pubsub/docs/push): {"message": {"data": base64, "attributes": {...},
"messageId": "...", "orderingKey"?: "..."}, "subscription": "projects/p/subscriptions/s", "deliveryAttempt"?: n}.
A 2xx acks; anything else makes Pub/Sub retry with backoff, then dead-letter by the subscription's policy.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from qcl.bus.base import Bus, DeadLetter, Delivery, Handler, Nack, dead_letter_attributes, decide
from qcl.events import Topic


def handle_push(
    body: Any, topic: Topic[Any], consumer: str, handler: Handler[Any], bus: Bus
) -> tuple[dict[str, Any], int]:
    """Deliver one push request to `handler`; returns (JSON body, HTTP status)."""
    try:
        delivery = parse_push(body)
    except ValueError as exc:
        # Not a push request at all: nothing to redeliver or dead-letter, tell the caller what is wrong.
        return {"error": {"code": "invalid_push_request", "message": str(exc)}}, 400
    subscription = topic.subscription(consumer)
    outcome = decide(topic, handler, delivery, bus.max_attempts)
    if isinstance(outcome, Nack):
        return {"status": "retry", "reason": outcome.reason}, 503
    if isinstance(outcome, DeadLetter):
        bus.publish_bytes(
            topic.dead_letter, delivery.data, dead_letter_attributes(delivery, subscription, outcome.reason)
        )
        return {"status": "dead_lettered", "reason": outcome.reason}, 200
    return {"status": "ok", "message_id": delivery.message_id}, 200


def parse_push(body: Any) -> Delivery:
    if not isinstance(body, dict) or not isinstance(body.get("message"), dict):
        raise ValueError("body must be a Pub/Sub push request: a JSON object with a 'message' object")
    message = body["message"]
    message_id = message.get("messageId") or message.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise ValueError("message.messageId is missing")
    try:
        data = base64.b64decode(message.get("data", ""), validate=True)
    except (binascii.Error, TypeError) as exc:
        raise ValueError(f"message.data is not base64: {exc}") from None
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict) or not all(isinstance(v, str) for v in attributes.values()):
        raise ValueError("message.attributes must be an object of strings")
    attempt = body.get("deliveryAttempt", 1)
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise ValueError(f"deliveryAttempt must be a positive integer, got {attempt!r}")
    return Delivery(
        data=data,
        attributes=attributes,
        message_id=message_id,
        attempt=attempt,
        ordering_key=str(message.get("orderingKey", "")),
    )

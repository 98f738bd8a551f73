"""Event transport: `open_bus(settings)` picks Pub/Sub (or its emulator), SNS + SQS, or the embedded memory bus."""

from __future__ import annotations

from qcl.bus.base import Bus, DeadLetterMessage, Subscription
from qcl.config import Settings


def open_bus(settings: Settings) -> Bus:
    if settings.bus == "pubsub":
        from qcl.bus.pubsub import PubSubBus

        return PubSubBus(settings.project, max_attempts=settings.max_delivery_attempts)
    if settings.bus == "sqs":
        from qcl.bus.sqs import SqsBus

        return SqsBus(settings.aws_prefix, max_attempts=settings.max_delivery_attempts)
    from qcl.bus.memory import MemoryBus

    return MemoryBus(max_attempts=settings.max_delivery_attempts)


__all__ = ["Bus", "DeadLetterMessage", "Subscription", "open_bus"]

"""Triggers: what starts an execution besides a person. Given at deploy, kept with the revision.

    {"topic": "network-analysis", "condition": "${event.data.status == \"critical\"}"}   # on a bus event
    {"topic": "network-analysis",                                                          # on an epoch change
     "condition": "${previous != null and event.data.metrics.epoch != previous.metrics.epoch}"}
    {"every_s": 3600}                                                                      # on an interval
    {"cron": "0 12 * * 3"}                                 # cron-lite: minute hour day month weekday (0 = Sunday), UTC

A topic trigger's condition sees `event` (the envelope: id, type, source, time, subject, data) and `previous` (the
data of the event this trigger saw before, or null); the execution's argument is the event. Its execution id
derives from the event id, so an event delivered twice starts one execution. A schedule's slot is claimed in the
store, so executors in several processes start one execution per slot.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from qcl.errors import UnknownTopicError
from qcl.events import TOPICS, Envelope
from qcl.store.keys import WF_SLOT
from qcl.workflows import stdlib
from qcl.workflows.definition import compiled
from qcl.workflows.errors import ExpressionSyntaxError, WorkflowRaised, WorkflowSyntaxError
from qcl.workflows.expr import Scope, evaluate, expression_text

if TYPE_CHECKING:
    from qcl.bus.base import Bus, Subscription
    from qcl.workflows.service import WorkflowService

log = logging.getLogger(__name__)
CONSUMER = "workflows"
_IDS = uuid.UUID("5b0f3c2e-8a41-4d7e-9c6a-2f1e0d9b7a53")
_CRON_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def trigger_topics() -> list[str]:
    return [name for name, topic in TOPICS.items() if CONSUMER in topic.consumers]


def check_triggers(specs: list[Any]) -> list[dict[str, Any]]:
    """The specs, checked; WorkflowSyntaxError names the trigger and what is wrong."""
    checked = []
    for i, spec in enumerate(specs):
        where = f"trigger {i}"
        if not isinstance(spec, dict):
            raise WorkflowSyntaxError(f"{where}: a map with topic, every_s or cron")
        kinds = [k for k in ("topic", "every_s", "cron") if k in spec]
        if len(kinds) != 1 or set(spec) - {"topic", "condition", "every_s", "cron"}:
            raise WorkflowSyntaxError(f"{where}: exactly one of topic (+ condition), every_s, cron")
        if "topic" in spec:
            if spec["topic"] not in trigger_topics():
                known = ", ".join(trigger_topics())
                raise WorkflowSyntaxError(
                    f"{where}: topic {spec['topic']!r} cannot trigger workflows; these can: {known}"
                )
            condition = spec.get("condition", "${true}")
            text = expression_text(condition)
            try:
                compiled(text if text is not None else "")
            except ExpressionSyntaxError as exc:
                raise WorkflowSyntaxError(f"{where}: condition must be an expression ${{...}}: {exc}") from None
            checked.append({"topic": spec["topic"], "condition": condition})
        elif "every_s" in spec:
            every = spec["every_s"]
            if not isinstance(every, int | float) or isinstance(every, bool) or every < 1:
                raise WorkflowSyntaxError(f"{where}: every_s must be a number of seconds >= 1")
            checked.append({"every_s": every})
        else:
            cron_fields(str(spec["cron"]), where)
            checked.append({"cron": str(spec["cron"])})
    return checked


def cron_fields(text: str, where: str = "cron") -> list[set[int]]:
    parts = text.split()
    if len(parts) != 5:
        raise WorkflowSyntaxError(f"{where}: cron has 5 fields (minute hour day month weekday), got {text!r}")
    out = []
    for part, (low, high) in zip(parts, _CRON_BOUNDS, strict=True):
        values: set[int] = set()
        for item in part.split(","):
            base, _, step_text = item.partition("/")
            try:
                step = int(step_text) if step_text else 1
                if base == "*":
                    first, last = low, high
                elif "-" in base:
                    first, last = (int(x) for x in base.split("-", 1))
                else:
                    first = last = int(base)
            except ValueError:
                raise WorkflowSyntaxError(f"{where}: {item!r} is not a cron field") from None
            if not (low <= first <= last <= high) or step < 1:
                raise WorkflowSyntaxError(f"{where}: {item!r} is outside {low}-{high}")
            values.update(range(first, last + 1, step))
        out.append(values)
    return out


def cron_matches(text: str, at: datetime) -> bool:
    minute, hour, day, month, weekday = cron_fields(text)
    return (
        at.minute in minute
        and at.hour in hour
        and at.day in day
        and at.month in month
        and (at.weekday() + 1) % 7 in weekday
    )


class TriggerRunner:
    def __init__(self, service: WorkflowService) -> None:
        self.service, self.repo = service, service.repo

    def _triggers(self) -> list[tuple[str, int, dict[str, Any]]]:
        found = []
        for name in self.repo.names():
            revision = self.repo.revision(name)
            for i, spec in enumerate((revision or {}).get("triggers", [])):
                found.append((name, i, spec))
        return found

    def subscribe(self, bus: Bus) -> list[Subscription]:
        subscriptions = []
        for name in trigger_topics():
            topic = TOPICS[name]
            subscriptions.append(bus.subscribe(topic, CONSUMER, self._handler(name)))
        return subscriptions

    def _handler(self, topic: str) -> Callable[[Envelope[Any]], None]:
        def handle(event: Envelope[Any]) -> None:
            self.on_event(topic, event)

        return handle

    def on_event(self, topic: str, envelope: Envelope[Any]) -> list[str]:
        """Start the executions whose topic trigger's condition holds for this event; their ids."""
        event = envelope.model_dump(mode="json")
        started = []
        for name, i, spec in self._triggers():
            if spec.get("topic") != topic:
                continue
            key = f"wf:trigger-previous:{name}:{i}"
            raw_previous = self.repo.store.get(key)
            previous = json.loads(raw_previous) if raw_previous is not None else None
            self.repo.store.put(key, json.dumps(event["data"]))
            if not self._holds(spec["condition"], event, previous, name):
                continue
            execution_id = str(uuid.uuid5(_IDS, f"{name}:{event['id']}"))
            if self.service.start(name, event, execution_id=execution_id, trigger=f"topic:{topic}") is not None:
                started.append(execution_id)
        return started

    def _holds(self, condition: str, event: Any, previous: Any, name: str) -> bool:
        text = expression_text(condition) or "true"
        scope = Scope({"event": event, "previous": previous}, stdlib.FUNCTIONS.get, stdlib.RETRY_CONSTANTS)
        try:
            value = evaluate(compiled(text), scope)
        except WorkflowRaised as exc:  # a condition that does not apply to this event is false, and said so
            log.info("workflows: trigger of %s: condition %s failed on event %s: %s", name, condition, event["id"], exc)
            return False
        return value is True

    def fire_schedules(self, now: float) -> list[str]:
        started = []
        at = datetime.fromtimestamp(now, UTC)
        for name, i, spec in self._triggers():
            if "every_s" in spec:
                slot = int(now // spec["every_s"])
            elif "cron" in spec and cron_matches(spec["cron"], at):
                slot = int(now // 60)
            else:
                continue
            claim = WF_SLOT.key(name=name, trigger=i, slot=slot)
            if not self.repo.store.put_if_absent(claim, "1", ttl_s=7 * 24 * 3600):
                continue
            execution_id = str(uuid.uuid5(_IDS, f"{name}:{i}:{slot}"))
            argument = {"scheduled_at": at.isoformat().replace("+00:00", "Z"), "trigger": spec}
            if self.service.start(name, argument, execution_id=execution_id, trigger="schedule") is not None:
                started.append(execution_id)
        return started


__all__ = ["CONSUMER", "TriggerRunner", "UnknownTopicError", "check_triggers", "cron_matches", "trigger_topics"]

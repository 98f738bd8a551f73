"""The topic registry and the event envelope."""

from __future__ import annotations

import json

import pytest

from qcl.errors import EventDecodeError, UnknownTopicError
from qcl.events import AI_REQUESTS, QUBIC_TICKS, TOPICS, AIRequest, registry_table, topic

ARCHITECTURE_TOPICS = {  # docs/architecture.md's table: topic -> (producers, consumers)
    "qubic-ticks": ({"ingest"}, {"analyzer"}),
    "network-analysis": ({"analyzer"}, {"narrator", "api", "oracle", "workflows"}),
    "ai-requests": ({"api", "scheduler"}, {"narrator"}),
    "ai-insights": ({"narrator"}, {"api"}),
    "oracle-requests": ({"api", "scheduler"}, {"oracle"}),
    "oracle-results": ({"oracle"}, {"api"}),
    "node-events": ({"shard", "oracle"}, {"api"}),
    # Beyond docs/architecture.md's table: the committee members' PBFT messages, one subscription per member.
    "oracle-protocol": ({"oracle"}, {f"oracle-{i}" for i in range(7)}),
    # Workflows (issue 13): topic triggers read analysis reports; qcl.notify steps publish workflow events.
    "workflow-events": ({"workflows"}, {"api"}),
}


def test_the_registry_holds_the_architecture_topics_with_their_producers_and_consumers() -> None:
    assert {name: (set(t.producers), set(t.consumers)) for name, t in TOPICS.items()} == ARCHITECTURE_TOPICS


def test_every_topic_has_a_dead_letter_topic_and_a_versioned_event_type() -> None:
    for registered in TOPICS.values():
        assert registered.dead_letter == f"{registered.name}-dlq"
        assert registered.event_type.rsplit(".", 1)[1] == "v1"


def test_registry_table_lists_subscriptions_per_consumer() -> None:
    row = next(r for r in registry_table() if r["topic"] == "network-analysis")
    assert row["subscriptions"] == [
        "network-analysis.narrator",
        "network-analysis.api",
        "network-analysis.oracle",
        "network-analysis.workflows",
    ]
    assert row["dead_letter_topic"] == "network-analysis-dlq"


def test_an_unknown_topic_name_lists_the_registered_ones() -> None:
    with pytest.raises(
        UnknownTopicError, match="topic 'qubic-tick' is not registered; registered topics: qubic-ticks, "
    ):
        topic("qubic-tick")


def test_an_event_round_trips_through_encode_and_decode() -> None:
    event = AI_REQUESTS.event(AIRequest(request_id="r1", kind="question", question="網路健康嗎？"), source="//tests")
    assert AI_REQUESTS.decode(AI_REQUESTS.encode(event)) == event


def test_a_derived_event_id_is_kept() -> None:
    event = AI_REQUESTS.event(AIRequest(request_id="r1", kind="narration"), source="//tests", event_id="fixed-id")
    assert event.id == "fixed-id"


def test_a_topic_refuses_data_of_another_model() -> None:
    with pytest.raises(TypeError, match="topic 'qubic-ticks' carries Observation, got AIRequest"):
        QUBIC_TICKS.event(AIRequest(request_id="r1", kind="narration"), source="//tests")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\xff\xfe", "event is not JSON"),
        (b"[1, 2]", "event must be a JSON object, got list"),
        (b'{"type": "qcl.ai.request.v2"}', "event type must be 'qcl.ai.request.v1', got 'qcl.ai.request.v2'"),
        (b'{"type": "qcl.ai.request.v1", "id": "x"}', "invalid event"),
    ],
)
def test_decode_names_what_is_wrong(raw: bytes, message: str) -> None:
    with pytest.raises(EventDecodeError, match=message):
        AI_REQUESTS.decode(raw)


def test_decode_names_the_first_invalid_field() -> None:
    event = AI_REQUESTS.event(AIRequest(request_id="r1", kind="question", question="q?"), source="//tests")
    body = json.loads(AI_REQUESTS.encode(event))
    body["data"]["language"] = "fr"
    with pytest.raises(EventDecodeError, match=r"first: data\.language: Input should be 'zh-TW' or 'en'"):
        AI_REQUESTS.decode(json.dumps(body).encode())


def test_an_unknown_field_in_an_event_is_refused() -> None:
    event = AI_REQUESTS.event(AIRequest(request_id="r1", kind="narration"), source="//tests")
    body = json.loads(AI_REQUESTS.encode(event))
    body["data"]["priority"] = "high"
    with pytest.raises(EventDecodeError, match=r"data\.priority: Extra inputs are not permitted"):
        AI_REQUESTS.decode(json.dumps(body).encode())

"""The topic registry and the event envelope: the one list of topics that code, tests and Terraform share.

A topic is a typed object (name + event model + encode/decode); call sites never spell a topic name.
Events travel as JSON in a CloudEvents-style envelope (id, type with a version, source, time, subject, data).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from qcl.analysis.report import AnalysisReport
from qcl.errors import EventDecodeError, UnknownTopicError
from qcl.qubic.types import Observation, UtcTime

T = TypeVar("T", bound=BaseModel)

Language = Literal["zh-TW", "en"]


class Envelope(BaseModel, Generic[T]):
    """A CloudEvents-style envelope (https://cloudevents.io, JSON format, structured mode)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, max_length=128)  # unique per event; handlers are idempotent on it
    type: str = Field(pattern=r"^[a-z0-9.]+\.v[0-9]+$")  # e.g. "qubic.network.snapshot.v1"
    source: str = Field(min_length=1)  # the producer, e.g. "//qcl/functions/ingest"
    time: UtcTime
    subject: str | None = None  # e.g. the tick the event is about
    datacontenttype: Literal["application/json"] = "application/json"
    data: T


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AIRequest(_Event):
    """A question or a narration job for the narrator."""

    request_id: str = Field(min_length=1, max_length=128)
    kind: Literal["question", "narration"]
    question: str | None = Field(default=None, max_length=500)
    language: Language = "zh-TW"


class AIInsight(_Event):
    """A narrative or an answer, with what it rests on."""

    request_id: str | None = None
    kind: Literal["narrative", "answer"]
    text: str
    language: Language
    model: str
    grounded: bool  # every number in the model's text matched the data
    fallback_used: bool  # the template text replaced the model's
    confidence: float = Field(ge=0, le=1)
    sources: list[str]  # finding codes and metrics the text used
    latency_ms: float = Field(ge=0)
    fallback_reason: str | None = None  # why the template text replaced the model's ("ungrounded: …", "model_busy: …")
    grounding_issues: list[str] = Field(default_factory=list)  # the model text's failing tokens, when it was checked
    report_observed_at: UtcTime | None = None  # the analysis report the text is about


_SHA256 = r"^[0-9a-f]{64}$"


class OracleJobSpec(_Event):
    """Everything that determines an oracle job's result; the job id is the sha256 of this spec's canonical JSON."""

    kind: Literal["numeric", "exact"]  # numeric: median of 2f+1 signed values; exact: 2f+1 equal result hashes
    task: str = Field(min_length=1, max_length=64)  # the executor, e.g. "analysis.health_score"
    input_digest: str = Field(pattern=_SHA256)  # sha256 of the input bytes, fetched by content hash
    code_version: str = Field(min_length=1, max_length=64)  # the executor's code: other code, other job
    model_id: str | None = None  # model jobs: registry id, weights hash, prompt template, greedy, max tokens
    weights_sha256: str | None = Field(default=None, pattern=_SHA256)
    prompt_version: str | None = None
    decoding: Literal["greedy"] | None = None
    max_new_tokens: int | None = Field(default=None, ge=1, le=4096)
    tolerance: float | None = Field(default=None, ge=0)  # numeric: honest values lie within this of each other
    subject: str | None = Field(default=None, max_length=128)  # what the job is about, e.g. "tick/36998410"


class OracleRequest(_Event):
    """A job for the oracle committee: its id, the committee's slot for it, and the pinned spec."""

    job_id: str = Field(pattern=_SHA256)  # sha256 of the canonical spec
    sequence: int = Field(ge=0)  # the job's slot; primaries rotate with it
    spec: OracleJobSpec


class OracleObservation(_Event):
    """One member's signed observation: a value (numeric) or H(result) with H(result ‖ node id) (exact)."""

    node_id: str
    value: float | None = None
    result_digest: str | None = None
    proof: str | None = None
    signature: str  # base64 Ed25519 over the OBSERVE message


class OracleSignature(_Event):
    node_id: str
    signature: str  # base64 Ed25519 signature over the COMMIT vote for (view, sequence, job, digest)


class OracleResult(_Event):
    """An attestation: the outcome, the observations behind it and a commit certificate of 2f+1 member signatures."""

    job_id: str
    sequence: int = Field(ge=0)
    view: int = Field(ge=0)
    committee_id: str
    kind: Literal["numeric", "exact"]
    spec: OracleJobSpec  # what was computed (its hash is the job id)
    status: Literal["committed", "unresolvable"]  # unresolvable: honest members provably could not agree
    result: JsonValue = None  # the agreed result; None when unresolvable
    result_digest: str | None = None  # exact jobs: sha256 of the canonical result
    digest: str  # sha256 of the outcome; what every certificate signature covers
    observations: list[OracleObservation]
    certificate: list[OracleSignature]


class OracleProtocolMessage(_Event):
    """A signed PBFT message between oracle members (its signature and checks live in qcl.oracle.messages)."""

    sender: str  # the member that put it on the bus (a claim; the signature inside decides)
    to: str | None = None  # one member, or None for all
    wire: str = Field(max_length=1_000_000)  # the message, canonical JSON


class WorkflowEvent(_Event):
    """What a workflow tells the world: a `qcl.notify` step's message, with the execution it came from."""

    workflow: str = Field(min_length=1, max_length=128)
    execution_id: str = Field(min_length=1, max_length=128)
    revision: int = Field(ge=1)
    severity: Literal["info", "warning", "critical"] = "info"
    message: str = Field(min_length=1, max_length=4000)
    data: JsonValue = None


class NodeEvent(_Event):
    """A shard or oracle node joined, left, failed or recovered."""

    node_id: str
    role: Literal["shard", "oracle"]
    kind: Literal["joined", "left", "failed", "recovered"]
    detail: str = ""
    # A shard's address (host:port) and the half-open layer ranges it serves; unset for oracle members.
    address: str | None = None
    layers: list[tuple[int, int]] = Field(default_factory=list)


@dataclass(frozen=True)
class Topic(Generic[T]):
    """A topic: its name, the model of its events, who publishes and who consumes."""

    name: str
    event_type: str
    model: type[T]
    description: str
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    ordered: bool = False  # published under one ordering key: consumers take it in order, in batches
    _envelope: type[Envelope[T]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_envelope", Envelope[self.model])  # type: ignore[name-defined]

    @property
    def dead_letter(self) -> str:
        """Name of the dead-letter topic that takes this topic's undeliverable events."""
        return f"{self.name}-dlq"

    def subscription(self, consumer: str) -> str:
        """Name of the subscription through which `consumer` reads this topic."""
        if consumer not in self.consumers:
            raise UnknownTopicError(
                f"'{consumer}' is not a consumer of topic '{self.name}'; consumers: {', '.join(self.consumers)}"
            )
        return f"{self.name}.{consumer}"

    def event(self, data: T, *, source: str, subject: str | None = None, event_id: str | None = None) -> Envelope[T]:
        """Wrap `data` in an envelope; pass `event_id` to make a derived event's id deterministic."""
        if not isinstance(data, self.model):
            raise TypeError(f"topic '{self.name}' carries {self.model.__name__}, got {type(data).__name__}")
        return self._envelope(
            id=event_id or str(uuid.uuid4()),
            type=self.event_type,
            source=source,
            time=datetime.now(UTC),
            subject=subject,
            data=data,
        )

    def encode(self, event: Envelope[T]) -> bytes:
        return event.model_dump_json(by_alias=True).encode()

    def decode(self, raw: bytes) -> Envelope[T]:
        """Parse bytes from the bus; raise EventDecodeError saying exactly what is wrong."""
        try:
            body: Any = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EventDecodeError(f"{self.name}: event is not JSON ({exc})") from None
        if not isinstance(body, dict):
            raise EventDecodeError(f"{self.name}: event must be a JSON object, got {type(body).__name__}")
        if body.get("type") != self.event_type:
            raise EventDecodeError(f"{self.name}: event type must be '{self.event_type}', got {body.get('type')!r}")
        try:
            return self._envelope.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise EventDecodeError(
                f"{self.name}: invalid event ({exc.error_count()} problem(s)); first: {where}: {first['msg']}"
            ) from None


QUBIC_TICKS = Topic(
    "qubic-ticks",
    "qubic.network.snapshot.v1",
    Observation,
    "one observation of the network per observed tick",
    ("ingest",),
    ("analyzer",),
    ordered=True,
)
NETWORK_ANALYSIS = Topic(
    "network-analysis",
    "qcl.analysis.report.v1",
    AnalysisReport,
    "health score and findings over the rolling window",
    ("analyzer",),
    ("narrator", "api", "oracle", "workflows"),
    ordered=True,
)
AI_REQUESTS = Topic(
    "ai-requests",
    "qcl.ai.request.v1",
    AIRequest,
    "questions and narration jobs",
    ("api", "scheduler"),
    ("narrator",),
)
AI_INSIGHTS = Topic(
    "ai-insights",
    "qcl.ai.insight.v1",
    AIInsight,
    "narratives and answers with sources and confidence",
    ("narrator",),
    ("api",),
)
ORACLE_REQUESTS = Topic(
    "oracle-requests",
    "qcl.oracle.request.v1",
    OracleRequest,
    "jobs for the oracle committee",
    ("api", "scheduler"),
    ("oracle",),
)
ORACLE_RESULTS = Topic(
    "oracle-results",
    "qcl.oracle.result.v1",
    OracleResult,
    "committed attestations with 2f+1 signatures",
    ("oracle",),
    ("api",),
)
ORACLE_MEMBERS = tuple(f"oracle-{i}" for i in range(7))  # one subscription per member: committees of 4 or 7
ORACLE_PROTOCOL = Topic(
    "oracle-protocol",
    "qcl.oracle.protocol.v1",
    OracleProtocolMessage,
    "signed PBFT messages between oracle committee members",
    ("oracle",),
    ORACLE_MEMBERS,
)
NODE_EVENTS = Topic(
    "node-events",
    "qcl.node.event.v1",
    NodeEvent,
    "shard and oracle nodes joined, left, failed, recovered",
    ("shard", "oracle"),
    ("api",),
)

WORKFLOW_EVENTS = Topic(
    "workflow-events",
    "qcl.workflow.event.v1",
    WorkflowEvent,
    "notifications from workflow executions (qcl.notify)",
    ("workflows",),
    ("api",),
)

TOPICS: dict[str, Topic[Any]] = {
    t.name: t
    for t in (
        QUBIC_TICKS,
        NETWORK_ANALYSIS,
        AI_REQUESTS,
        AI_INSIGHTS,
        ORACLE_REQUESTS,
        ORACLE_RESULTS,
        ORACLE_PROTOCOL,
        NODE_EVENTS,
        WORKFLOW_EVENTS,
    )
}


def topic(name: str) -> Topic[Any]:
    """Look a topic up by name (for configuration and tools; code imports the constants)."""
    try:
        return TOPICS[name]
    except KeyError:
        raise UnknownTopicError(f"topic '{name}' is not registered; registered topics: {', '.join(TOPICS)}") from None


def registry_table() -> list[dict[str, Any]]:
    """The registry as plain data: what `qcl topics --json` prints and Terraform is checked against."""
    return [
        {
            "topic": t.name,
            "dead_letter_topic": t.dead_letter,
            "event_type": t.event_type,
            "description": t.description,
            "producers": list(t.producers),
            "consumers": list(t.consumers),
            "subscriptions": [t.subscription(c) for c in t.consumers],
        }
        for t in TOPICS.values()
    ]

"""Request and response bodies of the HTTP API; the OpenAPI document is generated from these models.

Requests are strict (`extra="forbid"`: a misspelt field is an error naming it, not silently ignored); query
models refuse unknown parameters too. Models the bus already defines (AnalysisReport, AIInsight,
OracleResult) are reused as they are, so the API and the events cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from qcl.analysis.report import AnalysisReport, Finding
from qcl.events import AIInsight, Language, OracleResult
from qcl.tasks import TaskError as TaskError  # tasks are shown as the task board keeps them
from qcl.tasks import TaskView as TaskView

MAX_QUESTION_CHARS = 500  # as AIRequest.question on the bus
MAX_CAPTURE_OBSERVATIONS = 2880  # a day at one observation per 30 s
ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"  # task ids, oracle job ids: safe in a URL path and a store key


class Role(StrEnum):
    """Each role can do what the ones before it can."""

    VIEWER = "viewer"  # read
    OPERATOR = "operator"  # submit jobs, ask questions, analyse captures
    ADMIN = "admin"  # keys, settings

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# -- requests ----------------------------------------------------------------------------------------------


class QuestionRequest(_Body):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, pattern=r"\S")
    language: Language | None = None  # else Accept-Language, else zh-TW


class CaptureAnalysisRequest(_Body):
    """Analyse these observations (capture lines as objects); unreadable ones become data_invalid findings."""

    observations: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_CAPTURE_OBSERVATIONS)
    language: Language | None = None


class WindowRef(_Body):
    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime


class WindowAnalysisRequest(_Body):
    """Analyse the analyzer's stored window between two times."""

    window: WindowRef
    language: Language | None = None


AnalyzeRequest = CaptureAnalysisRequest | WindowAnalysisRequest


class NarrationTask(_Body):
    kind: Literal["narration"]
    language: Language = "zh-TW"


class QuestionTask(_Body):
    kind: Literal["question"]
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, pattern=r"\S")
    language: Language = "zh-TW"


# The analysis tasks of qcl.oracle.jobs.TASKS (a test keeps the two lists equal).
OracleTaskName = Literal["analysis.health_score", "analysis.findings", "analysis.price_change_1h_pct"]


class OracleTask(_Body):
    """An oracle job over the analyzer's stored observations: the API pins the window's observations by content
    hash and files the job {job_id: sha256(spec), sequence, spec}; the job id becomes the task id."""

    kind: Literal["oracle"]
    task: OracleTaskName
    window: WindowRef | None = None  # default: the last QCL_ORACLE_WINDOW_S seconds up to the newest observation


TaskRequest = Annotated[NarrationTask | QuestionTask | OracleTask, Field(discriminator="kind")]


class KeyCreateRequest(_Body):
    role: Role
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9 ._@-]+$")


class HistoryQuery(_Query):
    from_: AwareDatetime | None = Field(default=None, alias="from")
    to: AwareDatetime | None = None
    limit: int = Field(default=500, ge=1, le=2880)


class LimitQuery(_Query):
    limit: int = Field(default=50, ge=1, le=200)


class StreamQuery(_Query):
    last_seq: int | None = Field(default=None, ge=0)  # resume after this sequence number (or Last-Event-ID)


# -- responses ---------------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None
    request_id: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class AnalyzeResponse(BaseModel):
    report: AnalysisReport
    findings: list[Finding]  # every finding raised along the capture (the report's alone for a window)
    observations: int
    invalid: int
    narrative: AIInsight | None
    narrative_error: str | None  # why there is no narrative


class HistoryResponse(BaseModel):
    reports: list[AnalysisReport]  # oldest first, for charts


class InsightView(AIInsight):
    """An insight with the id and time of the ai-insights event the narrator published it in."""

    id: str
    time: datetime


class InsightsResponse(BaseModel):
    insights: list[InsightView]  # newest first


class BackendStatus(BaseModel):
    backend: str
    reachable: bool


class GroupStatus(BaseModel):
    up: int
    total: int


class OracleStatus(BaseModel):
    nodes: GroupStatus
    results: int  # attestations kept
    last_result_job: str | None


class StatusResponse(BaseModel):
    version: str
    uptime_s: float
    narration: Literal["model", "templates", "absent"]
    degraded: list[str]
    models: dict[str, Any] | None  # the generation service's status; None when no model runtime is configured
    narrator: dict[str, Any] | None
    queue_depth: int | None
    bus: BackendStatus
    store: BackendStatus
    breakers: dict[str, Literal["closed", "open", "half-open"]]
    shard_pool: GroupStatus
    oracle: OracleStatus
    latest_analysis_at: datetime | None


class ModelsResponse(BaseModel):
    models: list[dict[str, Any]]


class ShardDetail(BaseModel):
    """A shard node as the shard registry has it (its last heartbeat's record)."""

    stage: int | None  # position of its (first) layer range in the pool's order; stage 0 holds the embeddings
    replica: int  # 0 for the first node (by id) serving that range, 1 for the next, ...
    layers: list[tuple[int, int]]  # half-open layer ranges it serves
    address: str | None  # host:port of its gRPC data plane
    model: str | None
    sessions: int | None
    max_sessions: int | None
    last_heartbeat: datetime | None
    heartbeat_age_s: float | None


class OracleMemberDetail(BaseModel):
    """An oracle member as the committee and its reputation ledger have it."""

    index: int
    primary: bool  # leads the committee's current view (that of the latest decision)
    running: bool
    reputation: float | None  # the ledger's score in [0, 1]
    excluded: bool  # below the ledger's threshold: its votes count for nothing
    tombstoned: bool  # equivocated: excluded for good


class NodeView(BaseModel):
    node_id: str
    role: Literal["shard", "oracle"]
    state: Literal["up", "down", "left"]
    last_event: Literal["joined", "left", "failed", "recovered"]
    last_seen: datetime
    detail: str
    shard: ShardDetail | None = None
    oracle: OracleMemberDetail | None = None


class NodesResponse(BaseModel):
    nodes: list[NodeView]


class TopologyGroup(BaseModel):
    up: int
    total: int
    nodes: list[NodeView]


class StageView(BaseModel):
    stage: int
    layers: tuple[int, int]  # half-open
    nodes: list[str]  # the replicas serving it, by replica number
    up: int


class ShardPoolView(TopologyGroup):
    stages: list[StageView]  # in layer order


class CommitteeView(TopologyGroup):
    committee_id: str | None  # None until the committee has reported itself
    f: int | None
    quorum: int | None  # 2f+1 signatures decide
    sequence: int | None  # the latest decision's job ...
    view: int | None  # ... and view
    primary: str | None  # the member leading that view


class TopologyResponse(BaseModel):
    shard_pool: ShardPoolView
    oracle_committee: CommitteeView


class OracleResultsResponse(BaseModel):
    results: list[OracleResult]  # newest first


class WhoAmI(BaseModel):
    key_id: str
    role: Role


class KeyView(BaseModel):
    id: str
    name: str
    role: Role
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


class KeyCreated(KeyView):
    key: str  # shown once; only its hash is stored


class KeysResponse(BaseModel):
    keys: list[KeyView]


class SettingsResponse(BaseModel):
    settings: dict[str, Any]  # secrets redacted


class HealthResponse(BaseModel):
    status: Literal["ok"]


class CheckResult(BaseModel):
    ok: bool
    detail: str


class ReadyResponse(BaseModel):
    ready: bool
    checks: dict[str, CheckResult]

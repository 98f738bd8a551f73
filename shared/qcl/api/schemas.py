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
from qcl.api.runtime_settings import SettingsVersion
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
    language: Language | None = None  # else the question's own (qcl.narrate.language), else Accept-Language, else zh-TW


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


KeyName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9 ._@-]+$")]
# Route tags a key may be limited to (checked against the API's own tags when the key is created or changed).
KeyTags = Annotated[list[Annotated[str, Field(pattern=r"^[a-z]{1,32}$")]], Field(min_length=1, max_length=32)]


class KeyCreateRequest(_Body):
    role: Role
    name: KeyName
    expires_at: AwareDatetime | None = None  # refused from then on; must be in the future
    tags: KeyTags | None = None  # the route tags it may reach (whoami always); none: all its role may


class KeyUpdateRequest(_Body):
    """Only the fields given change; `expires_at` or `tags` given as null lift that limit."""

    role: Role | None = None
    name: KeyName | None = None
    expires_at: AwareDatetime | None = None
    tags: KeyTags | None = None


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


NodeLifecycle = Literal["active", "draining", "drained", "restarting", "removed"]


class NodeView(BaseModel):
    node_id: str
    role: Literal["shard", "oracle"]
    state: Literal["up", "down", "left"]
    # An operator's actions on it (POST /api/admin/nodes/{id}/{action}): draining until its sessions or jobs finish.
    lifecycle: NodeLifecycle = "active"
    last_event: Literal["joined", "left", "failed", "recovered"]
    last_seen: datetime
    detail: str
    shard: ShardDetail | None = None
    oracle: OracleMemberDetail | None = None


class NodesResponse(BaseModel):
    nodes: list[NodeView]


class NodeActionResult(BaseModel):
    node_id: str
    action: Literal["drain", "restart", "remove"]
    lifecycle: NodeLifecycle  # right after the action: a drain reads "draining" while sessions are still open


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
    expires_at: datetime | None = None
    tags: list[str] | None = None  # the route tags it may reach; null: every one its role may


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


# -- the admin console: login, audit trail, runtime settings ----------------------------------------------------------


class LoginRequest(_Body):
    token: str = Field(min_length=1, max_length=200)  # the `login` parameter of the URL `qcl up` printed


class LoginResponse(BaseModel):
    role: Role
    session: str  # the session's id as audit lines name it ("session:<8 hex>"), never the cookie
    expires_at: datetime


class LogoutResponse(BaseModel):
    signed_out: bool  # false: the request carried no session (a key's caller has nothing to end)


class AuditQuery(_Query):
    since: AwareDatetime | None = None
    actor: str | None = Field(default=None, max_length=200)
    action: str | None = Field(default=None, max_length=100)
    limit: int = Field(default=500, ge=1, le=10_000)  # the newest this many of the matching entries


class AuditEntry(BaseModel):
    """One link of the chain; an action's details ride along as extra fields."""

    model_config = ConfigDict(extra="allow")

    seq: int
    at: str
    action: str
    actor: str
    target: str | None = None
    outcome: str
    prev: str
    hash: str


class AuditResponse(BaseModel):
    entries: list[AuditEntry]  # oldest first


class AuditVerifyResponse(BaseModel):
    ok: bool
    entries: int  # entries that hold, from the first
    broken_seq: int | None  # the first entry that does not
    reason: str | None
    head_hash: str | None  # the newest hash: copied elsewhere, it anchors the chain


class RuntimeSettingsChange(_Body):
    values: dict[str, Any] = Field(min_length=1)  # setting -> new value; the others keep theirs


class SettingsVersionsResponse(BaseModel):
    current: int
    versions: list[SettingsVersion]  # oldest first; version 0 is what the process started with


class SettingsDiffQuery(_Query):
    from_: int = Field(alias="from", ge=0)
    to: int = Field(ge=0)


class SettingChange(BaseModel):
    setting: str
    before: Any
    after: Any


class SettingsDiffResponse(BaseModel):
    from_version: int
    to_version: int
    changes: list[SettingChange]

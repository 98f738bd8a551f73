"""Every key family the services keep in the store: who writes it, who reads it, what it holds, how long it lives.

    store.get(ANALYSIS_LATEST.key())                         # a fixed key
    store.get(TASK.key(task_id=task_id))                     # a family with parts

Writers and readers both take the key from here, so a reader never imports the writer's module to learn it, and no
module spells another's key (tests/unit/test_store_keys.py checks both). Keys live under the store's prefix
(QCL_REDIS_PREFIX). `owner` is the one module that writes the family; `readers` are the modules that read it
directly (others go through the owner's class: TaskBoard, ShardRegistry, WorkflowRepo, JobQueue).

`backup` says whether `qcl backup create` keeps the family (qcl.backup): True for durable state a restored stack must
have again (keys, tasks, jobs, workflows, the oracle's ledger and attestations, the analysis history); False for what
a stack rebuilds or must not inherit: caches, heartbeats, rate-limit buckets, stream entries, leases, and the
redelivery guards of a bus that a disaster replaces with a new one. A new family has to say which.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["value", "list", "window", "counter", "bucket"]


@dataclass(frozen=True)
class KeyFamily:
    pattern: str  # "task:{task_id}:{step}"
    kind: Kind  # value (get/put), list (newest first, capped), window (scored set), counter (incr), bucket (tokens)
    owner: str
    readers: tuple[str, ...]
    shape: str
    ttl: str
    backup: bool  # kept by `qcl backup create`

    def key(self, **parts: object) -> str:
        return self.pattern.format(**parts)


FAMILIES: list[KeyFamily] = []


def _family(
    pattern: str, kind: Kind, owner: str, readers: tuple[str, ...], shape: str, ttl: str, *, backup: bool
) -> KeyFamily:
    family = KeyFamily(pattern, kind, f"qcl.{owner}", tuple(f"qcl.{r}" for r in readers), shape, ttl, backup)
    FAMILIES.append(family)
    return family


_WEEK = "7 days"
_REPLACED = "none (replaced in place)"

# -- the pipeline ----------------------------------------------------------------------------------------------------
ANALYZER_WINDOW = _family(
    "analyzer:window", "window", "pipeline.analyzer",
    ("pipeline.analyzer", "api.routes_tasks", "api.routes_ai", "oracle.scheduler", "workflows.connectors"),
    "observations as capture lines, scored by observed_at (Unix s)", "trimmed to the rolling window (QCL_WINDOW_S)",
    backup=True,
)  # fmt: skip
ANALYZER_WINDOW_VERSION = _family(
    "analyzer:window:version", "counter", "pipeline.analyzer", ("pipeline.analyzer",),
    "bumped after every change to the window: an analyzer reloads its in-memory window when it moved", "none",
    backup=False,
)  # fmt: skip
ANALYSIS_LATEST = _family(
    "analysis:latest", "value", "pipeline.analyzer", ("api.state", "pipeline.narrator", "workflows.connectors"),
    "the newest AnalysisReport, JSON", _REPLACED, backup=True,
)  # fmt: skip
ANALYSIS_HISTORY_LEN = 2880  # a day of reports at one observation per 30 s
ANALYSIS_HISTORY = _family(
    "analysis:history", "list", "pipeline.analyzer", ("api.state",),
    "AnalysisReport JSON, newest first", f"capped at {ANALYSIS_HISTORY_LEN} entries", backup=True,
)  # fmt: skip
ANALYZER_DONE = _family(
    "analyzer:done:{event_id}", "value", "pipeline.analyzer", ("pipeline.analyzer",),
    "the id of the report published for a qubic-ticks event (redeliveries are skipped)", _WEEK, backup=False,
)  # fmt: skip
INGEST_LAST_PUBLISHED = _family(
    "ingest:last_published", "value", "pipeline.ingest", ("pipeline.ingest",),
    '{"tick", "epoch", "initial_tick"} of the last published observation (out-of-order checks)', _REPLACED, backup=True,
)  # fmt: skip
INGEST_SEEN = _family(
    "ingest:seen:{epoch}:{tick}:{duration}", "value", "pipeline.ingest", ("pipeline.ingest",),
    "the event id an observation was published as (duplicates are dropped)", _WEEK, backup=False,
)  # fmt: skip
INSIGHTS_RECENT_LEN = 500  # a day of material-change narratives in two languages, plus answers
INSIGHTS_RECENT = _family(
    "insights:recent", "list", "pipeline.narrator", ("api.state",),
    "the ai-insights events published, Envelope[AIInsight] JSON, newest first",
    f"capped at {INSIGHTS_RECENT_LEN} entries", backup=True,
)  # fmt: skip
NARRATOR_LAST = _family(
    "narrator:last", "value", "pipeline.narrator", ("pipeline.narrator",),
    '{"observed_at", "status", "findings": {code: severity rank}} of the last narrated report', _REPLACED, backup=True,
)  # fmt: skip
NARRATOR_DONE = _family(
    "narrator:done:{event_id}", "value", "pipeline.narrator", ("pipeline.narrator",),
    "narrated / unchanged / the answer's event id, per input event (redeliveries are skipped)", _WEEK, backup=False,
)  # fmt: skip

# -- tasks (qcl.tasks.TaskBoard: the API submits, workers report) ----------------------------------------------------
_TASKS_TTL = "QCL_RETENTION_TASKS_S (7 days)"
_JOBS_TTL = "QCL_RETENTION_JOBS_S (7 days)"
TASK = _family(
    "task:{task_id}", "value", "tasks", ("tasks",), "the TaskView as submitted (queued)", _TASKS_TTL, backup=True,
)  # fmt: skip
TASK_STEP = _family(
    "task:{task_id}:{step}", "value", "tasks", ("tasks",),
    "step running (worker, time) or outcome (result or error), written once each", _TASKS_TTL, backup=True,
)  # fmt: skip
TASK_CHANGES = _family(
    "task:changes", "window", "tasks", ("tasks",),
    '"<unix time> <task id> <state>" per step, scored by its time', "trimmed to the last hour", backup=False,
)  # fmt: skip

# -- the API ---------------------------------------------------------------------------------------------------------
API_NODES = _family(
    "api:nodes", "list", "api.state", ("api.state",), "node ids, newest first", "capped at 10,000", backup=True,
)  # fmt: skip
API_NODE = _family("api:node:{node_id}", "value", "api.state", ("api.state",), "NodeView JSON", _REPLACED, backup=True)
API_ORACLE_RESULTS_KEEP = 1000
API_ORACLE_RESULTS = _family(
    "api:oracle:results", "list", "api.state", ("api.state",),
    "job ids of the oracle-results events followed, newest first", f"capped at {API_ORACLE_RESULTS_KEEP}", backup=True,
)  # fmt: skip
API_ORACLE_RESULT = _family(
    "api:oracle:{job_id}", "value", "api.state", ("api.state",),
    "the attestation (OracleResult JSON) of an oracle-results event; also the redelivery guard", "none", backup=True,
)  # fmt: skip
API_ANSWER = _family(
    "api:answers:{digest}", "value", "api.state", ("api.state",),
    "a composed answer (AIInsight JSON) by question, language and report", "QCL_ANSWER_CACHE_TTL_S", backup=False,
)  # fmt: skip
API_TASK_STREAMED = _family(
    "api:task-streamed:{task_id}:{state}", "value", "api.state", ("api.state",),
    "claim: the one API instance that streams a task's step", "two hours", backup=False,
)  # fmt: skip
API_STREAM_HEAD = _family(
    "api:stream:head", "value", "api.stream", ("api.stream",),
    "the highest stream number claimed (a hint: may lag, never ahead)", _REPLACED, backup=False,
)  # fmt: skip
API_STREAM_ENTRY = _family(
    "api:stream:{seq}", "value", "api.stream", ("api.stream",), "one WebSocket stream event, JSON", "15 minutes",
    backup=False,
)  # fmt: skip
API_KEYS_INDEX = _family(
    "api:keys:index", "list", "api.keys", ("api.keys",), "API key ids", "capped at 100,000", backup=True,
)  # fmt: skip
API_KEY_RECORD = _family(
    "api:keys:{key_id}", "value", "api.keys", ("api.keys",), "KeyRecord JSON (the key's hash, never the key)", "none",
    backup=True,
)  # fmt: skip
SESSION_LOGIN = _family(
    "auth:login:{digest}", "value", "api.sessions", ("api.sessions",),
    "a one-time login token's expiry, by the token's sha256 (never the token)", "QCL_LOGIN_TOKEN_TTL_S",
    backup=False,
)  # fmt: skip
SESSION_LOGIN_USED = _family(
    "auth:login-used:{digest}", "value", "api.sessions", ("api.sessions",),
    "claim: the one exchange of a login token (a second one is told it was used)", "a day",
    backup=False,
)  # fmt: skip
SESSION = _family(
    "auth:session:{digest}", "value", "api.sessions", ("api.sessions",),
    "a dashboard session (role, expiry), by the cookie's sha256 (never the cookie)", "QCL_SESSION_TTL_S",
    backup=False,
)  # fmt: skip
RATE_LIMIT = _family(
    "ratelimit:{bucket}", "bucket", "api.access", ("api.access",),
    "a token bucket per IP (ip:<address>) or API key (key:<id>)", "refills",
    backup=False,
)  # fmt: skip

# -- append-only ledgers (qcl.store.ledger: the audit trail, the runtime settings' versions) when QCL_API_KEYS=store --
LEDGER_ENTRY = _family(
    "ledger:{ledger}:{seq}", "value", "store.ledger", ("store.ledger",),
    "record number seq, written once by the appender that claimed it", "none",
    backup=True,
)  # fmt: skip
LEDGER_HEAD = _family(
    "ledger:{ledger}:head", "value", "store.ledger", ("store.ledger",),
    "the newest record number written (a hint: may lag, never ahead)", _REPLACED,
    backup=True,
)  # fmt: skip

# -- the compute layer's job queue (qcl.compute.queue.JobQueue) ------------------------------------------------------
JOB = _family("job:{job_id}", "value", "compute.queue", ("compute.queue",), "Job JSON", _JOBS_TTL, backup=True)
JOB_OUTCOME = _family(
    "job:{job_id}:outcome", "value", "compute.queue", ("compute.queue",), "the finished Job, written once", _JOBS_TTL,
    backup=True,
)  # fmt: skip
JOB_CANCEL = _family(
    "job:{job_id}:cancel", "value", "compute.queue", ("compute.queue",), "cancel flag", _JOBS_TTL, backup=True,
)  # fmt: skip
JOBS_READY = _family(
    "jobs:ready:{priority}:{key_id}", "window", "compute.queue", ("compute.queue",),
    "queued job ids of one key and priority, scored by arrival", "emptied as jobs are claimed", backup=True,
)  # fmt: skip
JOBS_VIRTUAL_TIME = _family(
    "jobs:vt:{priority}", "window", "compute.queue", ("compute.queue",),
    "fair-share virtual time per API key within a priority", "none", backup=True,
)  # fmt: skip
JOBS_RUNNING = _family(
    "jobs:running:{key_id}", "window", "compute.queue", ("compute.queue",), "a key's running job ids", "none",
    backup=True,
)  # fmt: skip
JOBS_BY_KEY = _family(
    "jobs:by_key:{key_id}", "window", "compute.queue", ("compute.queue",), "a key's job ids by arrival", _JOBS_TTL,
    backup=True,
)  # fmt: skip
JOBS_ALL = _family(
    "jobs:all", "window", "compute.queue", ("compute.queue", "bench.jobs"), "every job id by arrival", _JOBS_TTL,
    backup=True,
)  # fmt: skip
JOBS_LEASES = _family(
    "jobs:leases", "window", "compute.queue", ("compute.queue",), "running job ids scored by lease expiry", "none",
    backup=True,
)  # fmt: skip
JOBS_DELAYED = _family(
    "jobs:delayed", "window", "compute.queue", ("compute.queue",), "job ids waiting for their not-before", "none",
    backup=True,
)  # fmt: skip
JOBS_ORPHANS = _family(
    "jobs:orphans", "window", "compute.queue", ("compute.queue",), "delayed ids whose record expired", "none",
    backup=True,
)  # fmt: skip
JOBS_ARRIVED = _family(
    "jobs:stats:arrived", "window", "compute.queue", ("compute.queue",), "arrival times", "an hour", backup=False,
)  # fmt: skip
JOBS_FINISHED = _family(
    "jobs:stats:finished", "window", "compute.queue", ("compute.queue",), "finish times", "an hour", backup=False,
)  # fmt: skip
JOBS_TOKENS = _family(
    "jobs:tokens:{key_id}:{day}", "counter", "compute.queue", ("compute.queue",),
    "tokens a key used that day", "2 days", backup=True,
)  # fmt: skip
JOBS_TPM = _family(
    "jobs:tpm:{key_id}", "bucket", "compute.queue", ("compute.queue",), "a key's tokens-per-minute bucket", "refills",
    backup=False,
)  # fmt: skip
QUOTA = _family(
    "quota:{key_id}", "value", "compute.quotas", ("compute.quotas",), "a key's Quota override, JSON", "none",
    backup=True,
)  # fmt: skip

# -- the oracle ------------------------------------------------------------------------------------------------------
ORACLE_RUN = _family(
    "oracle:run", "value", "oracle.service", ("oracle.service",),
    "present while the sequence counter matches the members' state on disk", "none", backup=True,
)  # fmt: skip
ORACLE_COMMITTEE = _family(
    "oracle:committee", "value", "oracle.service", ("oracle.status",),
    "CommitteeState JSON (qcl.oracle.status): members, reputation, exclusions", _REPLACED, backup=True,
)  # fmt: skip
ORACLE_COMMITTEE_MEMBER = _family(
    "oracle:committee:member:{index}", "value", "oracle.service", ("oracle.status",),
    "CommitteeState JSON as the process hosting member <index> alone sees it (QCL_ORACLE_MEMBER); merged on read",
    _REPLACED, backup=False,
)  # fmt: skip
ORACLE_RESULT = _family(
    "oracle:result:{job_id}", "value", "oracle.service", ("oracle.cli",),
    "the attestation (OracleResult JSON); also the claim that publishes it once", _WEEK, backup=True,
)  # fmt: skip
ORACLE_BLOB = _family(
    "oracle:blob:{digest}", "value", "oracle.jobs", ("oracle.jobs",), "a job's input, by its sha256", _WEEK,
    backup=True,
)  # fmt: skip
ORACLE_NEXT_SEQUENCE = _family(
    "oracle:next-sequence", "value", "oracle.scheduler", ("oracle.scheduler",), "the next free sequence", _REPLACED,
    backup=True,
)  # fmt: skip
ORACLE_REPORTS_SEEN = _family(
    "oracle:reports-seen", "counter", "oracle.scheduler", ("oracle.scheduler",),
    "analysis reports the members counted together (members in separate processes)", "none", backup=True,
)  # fmt: skip
ORACLE_SEQUENCE = _family(
    "oracle:sequence:{sequence}", "value", "oracle.scheduler", ("oracle.scheduler",),
    "the job id that claimed a sequence", "30 days", backup=True,
)  # fmt: skip
ORACLE_JOB = _family(
    "oracle:job:{job_id}", "value", "oracle.scheduler", ("oracle.scheduler",), "a job's claimed sequence", "30 days",
    backup=True,
)  # fmt: skip

# -- the shard pool (qcl.shard.registry.ShardRegistry) ---------------------------------------------------------------
SHARD_NODES = _family("shard:nodes", "list", "shard.registry", ("shard.registry",), "node ids", "none", backup=False)
SHARD_NODE = _family(
    "shard:node:{node_id}", "value", "shard.registry", ("shard.registry",), "NodeRecord JSON", "the heartbeat TTL",
    backup=False,
)  # fmt: skip
SHARD_SEEN = _family(
    "shard:seen:{node_id}", "value", "shard.registry", ("shard.registry",),
    '{"at", "left", "record"}: the last record and heartbeat', "an hour", backup=False,
)  # fmt: skip

# -- workflows (qcl.workflows.repo.WorkflowRepo) ---------------------------------------------------------------------
WF_NAMES = _family(
    "wf:names-index", "window", "workflows.repo", ("workflows.repo",), "workflow names", "none", backup=True,
)  # fmt: skip
WF_REVISION = _family(
    "wf:rev:{name}:{number}", "value", "workflows.repo", ("workflows.repo",), "a revision, never rewritten", "none",
    backup=True,
)  # fmt: skip
WF_LATEST = _family(
    "wf:latest:{name}", "value", "workflows.repo", ("workflows.repo",), "the latest revision number", _REPLACED,
    backup=True,
)  # fmt: skip
WF_DIGEST = _family(
    "wf:digest:{name}:{sha256}", "value", "workflows.repo", ("workflows.repo",),
    "the revision holding that exact source and triggers", "none", backup=True,
)  # fmt: skip
WF_EXECUTION = _family(
    "wf:exec:{execution_id}", "value", "workflows.repo", ("workflows.repo",), "the execution record", "30 days",
    backup=True,
)  # fmt: skip
WF_EXECUTIONS = _family(
    "wf:execs:{name}", "window", "workflows.repo", ("workflows.repo",), "a workflow's executions by start", "30 days",
    backup=True,
)  # fmt: skip
WF_ACTIVE = _family(
    "wf:active", "window", "workflows.repo", ("workflows.repo",), "unfinished executions", "none", backup=True,
)  # fmt: skip
WF_JOURNAL = _family(
    "wf:journal:{execution_id}", "list", "workflows.repo", ("workflows.repo",),
    "finished steps, newest first, until the execution ends", "sealed at the end", backup=True,
)  # fmt: skip
WF_JOURNAL_SEALED = _family(
    "wf:journal-sealed:{execution_id}", "value", "workflows.repo", ("workflows.repo",),
    "a finished execution's journal, one JSON list", "30 days", backup=True,
)  # fmt: skip
WF_LEASE = _family(
    "wf:lease:{execution_id}", "value", "workflows.repo", ("workflows.repo",), "the executor running it", "the lease",
    backup=False,
)  # fmt: skip
WF_SLOT = _family(
    "wf:slot:{name}:{trigger}:{slot}", "value", "workflows.triggers", ("workflows.triggers",),
    "claim: the one executor that starts a scheduled trigger's slot", "7 days", backup=True,
)  # fmt: skip
WF_CANCEL = _family(
    "wf:cancel:{execution_id}", "value", "workflows.repo", ("workflows.repo",), "cancel flag", "30 days", backup=True,
)  # fmt: skip

# -- alerting (qcl.obs.alerts) ---------------------------------------------------------------------------------------
ALERTS_ACTIVE = _family(
    "alerts:active", "window", "obs.alerts", ("obs.alerts",), "fingerprints of firing alerts, scored by start", "none",
    backup=True,
)  # fmt: skip
ALERTS_HISTORY = _family(
    "alerts:history", "list", "obs.alerts", ("obs.alerts",), "every alert state change, AlertRecord JSON", "2,000 kept",
    backup=True,
)  # fmt: skip
ALERT = _family(
    "alerts:alert:{fingerprint}", "value", "obs.alerts", ("obs.alerts",), "an alert's current AlertRecord", "14 days",
    backup=True,
)  # fmt: skip
ALERT_SEEN = _family(
    "alerts:seen:{fingerprint}:{starts_at}:{status}", "value", "obs.alerts", ("obs.alerts",),
    "claim: the one receipt that records and forwards a transition", "14 days", backup=False,
)  # fmt: skip


# -- a federation of clusters (qcl.federation: its own store, in front of the clusters' APIs) -----------------------
FEDERATION_JOB = _family(
    "federation:job:{job_id}", "value", "federation", ("federation",),
    "a job's cluster, its id there, its last view and the body that submits it again, JSON", "none", backup=True,
)  # fmt: skip
FEDERATION_OPEN = _family(
    "federation:open", "window", "federation", ("federation",),
    "job ids not yet final (or with a copy left to cancel), by last change", "none", backup=True,
)  # fmt: skip


def family_of(key: str) -> KeyFamily | None:
    """The family a concrete key belongs to: fixed keys first (api:oracle:results is not a job id), then the pattern
    with the most fixed text (task:<id>:outcome is a step, not a task id with a colon)."""
    matcher, ordered = _matcher()
    found = matcher.fullmatch(key)
    return ordered[int(found.lastgroup[1:])] if found is not None and found.lastgroup else None


def _regex(pattern: str) -> str:
    return re.sub(r"\\\{\w+\\\}", "[^ ]+", re.escape(pattern))


@functools.cache
def _matcher() -> tuple[re.Pattern[str], list[KeyFamily]]:
    """Every family in one alternation, in family_of's order: a full match takes the first alternative that fits, so
    one match per key finds its family (a backup classifies every key of the store)."""
    ordered = sorted(FAMILIES, key=lambda f: ("{" in f.pattern, -len(re.sub(r"\{\w+\}", "", f.pattern))))
    return re.compile("|".join(f"(?P<f{i}>{_regex(f.pattern)})" for i, f in enumerate(ordered))), ordered

"""The inventory of personal data: one row per kind, naming where it lives and how long it is kept.

    qcl privacy inventory --json          # this table
    KINDS["task"].families                 # the store key families (qcl.store.keys) holding tasks

A kind is personal data about whoever holds an API key (its owner, named by the key's label), or about a client
reaching the API (its address). `retention` names the setting that bounds it, so the table and the settings cannot
drift apart (tests/unit/test_privacy_inventory.py reads the settings' defaults); `erased` says what `qcl privacy
erase --key` does with it. Every store family with a {key_id} in its pattern must be in some row: a new per-key
family has to say here how long it lives and whether an erasure takes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from qcl.store import keys as k
from qcl.store.keys import KeyFamily

Erasure = Literal["deleted", "kept", "expires"]  # deleted by an erasure; kept (and why); only expires on its own


@dataclass(frozen=True)
class DataKind:
    name: str
    holds: str  # the personal data in it
    families: tuple[KeyFamily, ...]  # where it lives in the store
    elsewhere: str  # where it lives outside the store ("" for nowhere)
    retention: str  # the setting that bounds it, or how it ends
    erased: Erasure
    why_kept: str = ""  # for `kept` and `expires`: the reason

    def public(self) -> dict[str, object]:
        return {
            "name": self.name,
            "holds": self.holds,
            "store_families": [family.pattern for family in self.families],
            "elsewhere": self.elsewhere,
            "retention": self.retention,
            "erased": self.erased,
            "why_kept": self.why_kept,
        }


_JOB_FAMILIES = (
    k.JOB, k.JOB_OUTCOME, k.JOB_CANCEL, k.JOBS_BY_KEY, k.JOBS_ALL, k.JOBS_READY, k.JOBS_RUNNING,
    k.JOBS_VIRTUAL_TIME, k.JOBS_TOKENS, k.JOBS_TPM, k.QUOTA,
)  # fmt: skip
INVENTORY: tuple[DataKind, ...] = (
    DataKind(
        "api_key",
        "the key's id, its label (name: often its owner), role, scope, who created it and when",
        (k.API_KEY_RECORD, k.API_KEYS_INDEX),
        "<state_dir>/api-keys.json with QCL_API_KEYS=file (only a keyed hash of the key, never the key)",
        "until revoked and erased: a revoked key's record is kept so that its id stays explained in the audit trail",
        "deleted",
    ),
    DataKind(
        "question",
        "the text of a question filed as a task, and the answer written for it",
        (k.TASK, k.TASK_STEP, k.INSIGHTS_RECENT, k.API_STREAM_ENTRY),
        "",
        "QCL_RETENTION_TASKS_S (7 days); answers: the newest 500 insights; stream entries: 15 minutes",
        "deleted",
    ),
    DataKind(
        "task",
        "a narration or oracle task: who submitted it (key id), its request and result",
        (k.TASK, k.TASK_STEP, k.TASK_CHANGES, k.API_STREAM_ENTRY),
        "",
        "QCL_RETENTION_TASKS_S (7 days); changes: an hour; stream entries: 15 minutes",
        "deleted",
    ),
    DataKind(
        "job",
        "a compute job's prompts or messages, its output, its key id; the key's token usage and quota override",
        _JOB_FAMILIES,
        "",
        "QCL_RETENTION_JOBS_S (7 days); token usage: 2 days; a quota override: until erased",
        "deleted",
    ),
    DataKind(
        "answer_cache",
        "an answer by the digest of a question (not its text), not linked to who asked",
        (k.API_ANSWER,),
        "",
        "QCL_ANSWER_CACHE_TTL_S (5 minutes)",
        "expires",
        "no key is recorded with it, so no erasure can find it; it is gone within minutes",
    ),
    DataKind(
        "client_ip",
        "a client's address: its network only (/24, /48) in log lines and audit entries; whole in rate-limit buckets",
        (k.RATE_LIMIT,),
        "log lines (client_ip), audit entries (ip)",
        "QCL_ANONYMIZE_IP (on); buckets: forgotten once refilled (seconds); logs and audit: as they are kept",
        "expires",
        "an address names no key; the bucket must hold the whole address to limit it, and lives seconds",
    ),
    DataKind(
        "session",
        "a dashboard session: role and expiry, by the cookie's sha256 (never the cookie), not linked to a key",
        (k.SESSION, k.SESSION_LOGIN, k.SESSION_LOGIN_USED),
        "",
        "QCL_SESSION_TTL_S (12 hours); login tokens QCL_LOGIN_TOKEN_TTL_S (10 minutes), their use a day",
        "expires",
        "opened from `qcl up`'s login URL by the operator, not by a key; POST /api/auth/logout ends one at once",
    ),
    DataKind(
        "log_line",
        "a log line naming the key or one of its tasks or jobs (audit lines: actor, target), with the client network",
        (),
        "<log_dir>/<service>.jsonl (rotated) and its search index; Cloud Logging on GCP",
        "QCL_LOG_RETENTION_H (72 hours) in the index; files: QCL_LOG_FILE_MAX_BYTES x QCL_LOG_FILE_BACKUPS a process",
        "deleted",
        "on GCP, Cloud Logging keeps lines for its bucket's retention (30 days by default): erase there by hand",
    ),
    DataKind(
        "audit_entry",
        "an audit entry: the acting key's id, the action, its target (ids, never content), the client network",
        (k.LEDGER_ENTRY, k.LEDGER_HEAD),
        "<state_dir>/audit.jsonl with QCL_API_KEYS=file",
        "kept: the hash chain proves what was done, erasures included (GDPR Art. 17(3)(b), (e))",
        "kept",
        "deleting an entry breaks the chain; entries hold ids, and the erased key's id names nothing once erased",
    ),
)
KINDS = {kind.name: kind for kind in INVENTORY}

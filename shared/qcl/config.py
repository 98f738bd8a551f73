"""Settings: one object, read from `QCL_*` environment variables.

Precedence (highest first): a CLI flag, then the `QCL_*` variable, then the default below. Invalid values fail at
start-up with a message naming the variable, e.g. "QCL_BUS: input should be 'memory', 'pubsub' or 'sqs' (got 'kafka')".
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from qcl.errors import ConfigError
from qcl.obs.channels import Channel

ENV_PREFIX = "QCL_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    # Transport for events: "memory" runs in-process (embedded default); "pubsub" is Google Cloud Pub/Sub, or its
    # emulator when PUBSUB_EMULATOR_HOST is set; "sqs" is AWS SNS + SQS (the `aws` extra), or a local endpoint such
    # as moto's server when AWS_ENDPOINT_URL is set (boto3 reads AWS_DEFAULT_REGION and the credentials its usual way).
    bus: Literal["memory", "pubsub", "sqs"] = "memory"
    # Every SNS topic and SQS queue name of the "sqs" bus starts with this (infra/aws creates them).
    aws_prefix: str = Field(default="qcl-", pattern=r"^[A-Za-z0-9_-]{0,30}$")
    # Google Cloud project that owns the topics; any valid id works against the emulator.
    project: str = Field(default="qcl-local", pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
    # Deliveries of one event before it goes to its topic's dead-letter topic (Pub/Sub allows 5..100).
    max_delivery_attempts: int = Field(default=5, ge=5, le=100)

    # State: "memory" (embedded default) or "redis".
    store: Literal["memory", "redis"] = "memory"
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", pattern=r"^rediss?://")
    # Every key the store writes starts with this; `qcl up` replays use "<prefix>replay:" and clear it first.
    redis_prefix: str = Field(default="qcl:", pattern=r"^[A-Za-z0-9_.:-]+:$")

    # Where observations come from: "replay" plays a capture file, "rpc" polls the live Qubic RPC.
    source: Literal["replay", "rpc"] = "replay"
    # Capture played by the replay source; empty means the bundled synthetic sample.
    capture: Path | None = None
    # Replay speed: 1 is real time, 60 plays an hour a minute, 0 as fast as the pipeline takes it.
    replay_speed: float = Field(default=120.0, ge=0)
    rpc_url: str = Field(default="https://rpc.qubic.org", pattern=r"^https?://")
    # Seconds per RPC attempt; the public RPC answers in well under a second when healthy.
    rpc_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # Attempts per RPC call on 429/5xx/timeouts, with exponential backoff and jitter between them.
    rpc_attempts: int = Field(default=4, ge=1, le=10)
    # Seconds between live observations when `qcl up` polls the RPC (stats refresh about every 60 s).
    poll_interval_s: float = Field(default=30.0, gt=0)

    # Rolling window the analyzer keeps: 24 h covers the longest price trend it reports.
    window_s: int = Field(default=24 * 3600, ge=600)

    # Files the embedded stack keeps (keys, caches); created on first use.
    state_dir: Path = Path(".qcl")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # --- model runtime ---
    # Model the generation service runs; an id from the registry (`qcl models` lists them).
    model: str = Field(default="smollm2-135m-instruct", pattern=r"^[a-z0-9][a-z0-9.-]{1,62}$")
    # Converted weights (safetensors + tokenizer) live here; empty means <state_dir>/models.
    model_cache_dir: Path | None = None
    # Local folder holding the target model (a transformers checkpoint: config.json, weights, tokenizer).
    model_path: Path | None = None
    # Allow fetching hub models (the 1.5B target) at run time; off by default so nothing is downloaded unasked.
    model_hub: bool = False
    # Weight quantization: "auto" takes the registry's choice for the model, "none" keeps fp32, "int8" forces int8.
    quantization: Literal["auto", "none", "int8"] = "auto"
    # What runs the single-node generation service's forward passes: "torch", or "llama.cpp" on the model's GGUF file
    # (GGUF models only; needs llama-cpp-python, which `make setup` builds). The shard pool always runs torch.
    model_runtime: Literal["torch", "llama.cpp"] = "torch"
    # Torch (or llama.cpp) threads for inference; 0: OMP_NUM_THREADS where set, else every core this process may use.
    model_threads: int = Field(default=0, ge=0, le=256)
    # Requests waiting for the model; past this the service answers "busy, retry after N s" instead of queueing.
    model_queue_size: int = Field(default=16, ge=1, le=4096)
    # Requests run together in one batch, and how long the worker waits for companions of the first one.
    model_max_batch: int = Field(default=4, ge=1, le=64)
    model_batch_window_ms: float = Field(default=5.0, ge=0, le=1000)
    # Greedy results remembered by (model, revision, prompt, parameters); 0 turns the cache off.
    model_result_cache: int = Field(default=256, ge=0, le=100_000)

    # --- narration ---
    # Narrate with the model (QCL_MODEL); false: template narratives and answers only (exact, instant, no model).
    narrate_model: bool = True
    # Languages of the narrator service's narratives, the first language first (JSON list in the variable).
    narrate_languages: tuple[Literal["zh-TW", "en"], ...] = Field(default=("zh-TW", "en"), min_length=1)
    # With no material change, a routine narrative at most every this many seconds of network time.
    narrate_interval_s: float = Field(default=900.0, ge=0)
    # A report that waited longer than this for the narrator gets the template at once, so the narrator catches up.
    narrate_max_lag_s: float = Field(default=60.0, ge=0)
    # Seconds the model may take for one narrative or answer, queue wait included, before the template answers.
    narrate_deadline_s: float = Field(default=60.0, gt=0, le=600)
    # Match questions that no keyword matches by sentence embedding (the bundled all-MiniLM-L6-v2).
    narrate_embeddings: bool = True

    # --- api ---
    # Where `qcl up` serves the HTTP API and the dashboard: loopback unless told otherwise; port 0 picks a free one.
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8080, ge=0, le=65535)
    # Origins (scheme://host[:port], comma-separated) whose pages may call the API from a browser; empty: same origin.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Client networks (CIDR, comma-separated): a denied one is refused; with an allow list only those networks pass.
    ip_allow: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(default_factory=list)
    ip_deny: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(default_factory=list)
    # Proxies in front of the API whose X-Forwarded-For is believed (Cloud Run: 1); 0 believes no header.
    trusted_proxy_hops: int = Field(default=0, ge=0, le=5)
    # Token buckets per API key and per client IP: requests per second sustained, and the burst allowed above it.
    rate_limit_key_per_s: float = Field(default=20.0, gt=0)
    rate_limit_key_burst: int = Field(default=60, ge=1)
    rate_limit_ip_per_s: float = Field(default=50.0, gt=0)
    rate_limit_ip_burst: int = Field(default=100, ge=1)
    # Live streams (/api/ws) one key or dashboard session may hold open at once on an instance (one per open tab).
    ws_per_key_max: int = Field(default=16, ge=1)
    # A second, loopback-only port serving /metrics without a key, for a collector inside the same instance (Cloud
    # Run's Managed Service for Prometheus sidecar cannot present one); unset: /metrics only on the API, with a key.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # Largest request body accepted; a capture of a few hundred observations fits in 1 MiB.
    max_request_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    # Secret mixed into every API key's hash (Secret Manager on GCP); unset: a generated <state_dir>/api-key-pepper.
    api_key_pepper: SecretStr | None = None
    # Where API keys live: "file" (<state_dir>/api-keys.json, embedded) or "store" (shared by instances, GCP).
    # The audit trail and the runtime settings' versions live with them (<state_dir>/audit.jsonl, settings.jsonl).
    api_keys: Literal["file", "store"] = "file"
    # The one-time login URL `qcl up` prints: seconds it stays good (once); then the dashboard session it opens.
    login_token_ttl_s: float = Field(default=600.0, ge=10, le=86400)
    session_ttl_s: float = Field(default=12 * 3600.0, ge=60, le=30 * 86400)
    # Google ID tokens as a second credential (deployed Cloud Workflows call with them; qcl.api.oidc): the audience
    # they must carry (the API's URL as its callers address it); unset: ID tokens are refused.
    oidc_audience: str | None = Field(default=None, pattern=r"^https?://\S+$")
    # Who may call with one: service account emails with their role, "sa@p.iam.gserviceaccount.com=operator,...".
    oidc_principals: Annotated[dict[str, Literal["viewer", "operator", "admin"]], NoDecode] = Field(
        default_factory=dict, validate_default=True
    )
    # Where Google publishes the certificates its ID tokens are signed with (tests serve their own).
    oidc_certs_url: str = Field(default="https://www.googleapis.com/oauth2/v1/certs", pattern=r"^https?://\S+$")
    # Seconds a submitted task may wait for its result before it reads as failed.
    task_timeout_s: float = Field(default=600.0, gt=0)
    # Seconds an answer to the same question about the same report is served from the cache; 0 turns it off.
    answer_cache_ttl_s: float = Field(default=300.0, ge=0)
    # The dashboard's built files, served at /.
    web_dist: Path = Path("web/dist")

    # --- jobs (qcl.compute) ---
    # Worker threads `qcl up` runs jobs with (plus one that takes interactive jobs only), on the narrator's model.
    jobs_workers: int = Field(default=4, ge=0, le=256)
    # `qcl up --autoscale N`: the job workers run as 1..N `qcl jobs work` processes (QCL_JOBS_WORKERS threads each)
    # that qcl.compute.autoscale sizes to the queue; they share it through the store, so this needs QCL_STORE=redis.
    # With `--shards N` the workers stay in the stack and the same policy sizes the shard pool: 1..N replica sets of
    # the N stage processes (qcl.shard.replicas), a leaving set drained first.
    # 0: the workers are threads of the stack's own process, on its model.
    jobs_autoscale: int = Field(default=0, ge=0, le=32)
    # Seconds a worker's lease on a job lasts unrenewed; a worker killed mid-job loses it after this long.
    jobs_lease_s: float = Field(default=30.0, ge=1, le=3600)
    # Default quota of every key (an admin may override a key's quota in the store; see qcl.compute.quotas).
    jobs_tokens_per_minute: int = Field(default=200_000, ge=1)
    jobs_daily_tokens: int = Field(default=20_000_000, ge=1)
    jobs_max_running: int = Field(default=8, ge=1)
    jobs_max_queued: int = Field(default=20_000, ge=1)

    # --- alerting (qcl.obs.alerts) ---
    # `qcl up --ops`: also run Prometheus and Alertmanager (Debian's packages) on the stack, with ops/'s rules.
    ops: bool = False
    # Shortens every rule's `for:` and Alertmanager's waits by this factor under `qcl up --ops` (demos, tests).
    ops_time_scale: float = Field(default=1.0, gt=0, le=1)
    # Where alerts that reach the API's Alertmanager webhook go, by severity: a JSON list of
    # {"kind": "webhook" | "slack" | "email" | "pubsub", "target": URL | smtp://host:port/to | projects/P/topics/T,
    #  "severities": ["page", "ticket"]}.
    alert_channels: tuple[Channel, ...] = ()
    # Alertmanager (silences) and Prometheus (the rules a silence may name); `qcl up --ops` sets both.
    alertmanager_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    prometheus_url: str | None = Field(default=None, pattern=r"^https?://\S+$")

    # --- logs (qcl.obs.logindex) ---
    # Every process also writes its JSON lines into this folder (<service>.jsonl, rotated) besides the console;
    # `qcl up` sets <state_dir>/logs, its child processes inherit it, and its API indexes the folder for search.
    log_dir: Path | None = None
    # A log file rotates at this size and keeps this many old files (<service>.jsonl.1 ...): 4 x 10 MiB a process.
    log_file_max_bytes: int = Field(default=10 * 1024 * 1024, ge=64 * 1024)
    log_file_backups: int = Field(default=3, ge=1, le=50)
    # Hours the searchable index keeps a line; older lines are deleted as new ones arrive.
    log_retention_h: float = Field(default=72.0, gt=0, le=24 * 90)
    # Where `GET /api/ops/logs` searches: "local" the index of log_dir, "cloud" Cloud Logging (on GCP).
    log_search: Literal["local", "cloud"] = "local"

    # --- privacy (qcl.privacy, docs/privacy.md) ---
    # Truncate client addresses before a log line or an audit entry is written: IPv4 to its /24, IPv6 to its /48 (as
    # Google Analytics' anonymize_ip does); false writes them whole (a private network being debugged).
    anonymize_ip: bool = True
    # Seconds a task is kept after it was submitted: its request (a question's text) and its result (the answer).
    retention_tasks_s: float = Field(default=7 * 86400.0, ge=60, le=366 * 86400)
    # Seconds a compute job is kept after its last change: its prompts and its output.
    retention_jobs_s: float = Field(default=7 * 86400.0, ge=60, le=366 * 86400)

    # --- workflows ---
    # Seconds an executor's claim on a running execution lasts unrenewed; after a crash another executor resumes
    # the execution once it has lapsed.
    workflow_lease_s: float = Field(default=15.0, ge=0.5, le=3600)

    # --- backups (qcl.backup) ---
    # The AES-256 key backups are encrypted with, base64 (`qcl backup keygen`; Secret Manager on GCP); or a file
    # holding it. Keep it away from the backups: a backup cannot be read without it.
    backup_key: SecretStr | None = None
    backup_key_file: Path | None = None
    # Where `qcl backup create` writes and `list`/`restore` look: a folder, or gs://bucket/prefix.
    backup_to: str = Field(default=".qcl-backups", min_length=1)

    # --- oracle ---
    # Committee size n = 3f+1: 4 tolerates one faulty member, 7 tolerates two.
    oracle_nodes: Literal[4, 7] = 4
    # Base view timeout (ms); view v waits base x 2^v. The timer starts when a member has its own result, so it
    # covers network and protocol time, not inference (a decision takes a few ms on loopback).
    oracle_view_timeout_ms: float = Field(default=2000.0, ge=10, le=600_000)
    # A stable checkpoint (members forget finished jobs) every this many jobs.
    oracle_checkpoint_interval: int = Field(default=16, ge=1, le=1024)
    # The scheduler files a job pair (health score, findings) for every this-many-th analysis report.
    oracle_every_reports: int = Field(default=20, ge=1)
    # Seconds of observations a scheduled job covers (an hour: two findings rules need that much).
    oracle_window_s: int = Field(default=3600, ge=60)
    # How members reach each other: the bus (oracle-protocol topic) or UDP datagrams on loopback addresses.
    oracle_transport: Literal["bus", "loopback"] = "bus"
    # Loopback transport: member i listens on 127.0.0.1:<base port + i>.
    oracle_base_port: int = Field(default=47100, ge=1024, le=65000)
    # Run committee member i alone in this process (its own Cloud Run service or pod, holding only its own key,
    # QCL_ORACLE_NODE_KEY_<i>); unset: this process hosts all n members (qcl up, one machine).
    oracle_member: int | None = Field(default=None, ge=0, le=6)
    # The committee file a lone member trusts (public keys of every member, signed by each): written once by
    # `qcl oracle init`, mounted from Secret Manager or a ConfigMap. Required with oracle_member.
    oracle_committee_file: Path | None = None

    # --- shard pool ---
    # Where `qcl shard serve` listens: every interface, because stages talk across the pool's private network (the
    # shard_pool firewall admits only the pool's subnet); the local pool binds loopback.
    shard_host: str = Field(default="0.0.0.0", min_length=1)  # noqa: S104 - VM/pod interface; firewalled to the pool
    shard_port: int = Field(default=50051, ge=0, le=65535)
    # host:port other machines reach this shard at; empty: the bound address (the hostname when bound to 0.0.0.0).
    shard_advertise: str | None = Field(default=None, pattern=r"^[^\s:]+:\d{1,5}$")
    # Shards the coordinator heartbeats itself (host:port, comma-separated); shards sharing a Redis store register
    # themselves and need no entry here.
    shard_nodes: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Activations on the wire: fp16 halves fp32's bytes (distributed-inference.md §4.2), int8 halves them again.
    # "auto" is fp16, except fp32 for a model served int8-dynamic: there the per-tensor activation quantization
    # turns fp16 rounding into other tokens (SmolLM2, `qcl bench shard`: 90.6 % greedy agreement with fp16 on the
    # wire, 100 % with fp32; fp32 weights agree 100 % with fp16 on the wire). fp32 costs 4.6 KB more per token.
    shard_wire: Literal["auto", "fp16", "fp32", "int8"] = "auto"
    # KV caches a shard holds at once, one per session; one more is refused with an error, never evicted.
    shard_max_sessions: int = Field(default=16, ge=1, le=4096)
    # Seconds a session may sit idle before its shard drops its cache (its next frame then gets "expired").
    shard_session_ttl_s: float = Field(default=300.0, gt=0)
    # Heartbeat period, and the missed heartbeats in a row that declare a node failed (1 s x 3: issue 4).
    shard_heartbeat_s: float = Field(default=1.0, gt=0, le=60)
    shard_missed_heartbeats: int = Field(default=3, ge=1, le=100)
    # Reply deadline of one frame, plus 20 ms per token it carries; a stage slower than this is failed over.
    shard_step_timeout_s: float = Field(default=10.0, gt=0, le=3600)
    # How long a session waits for a failed layer range to be served again before its caller gets an error.
    shard_recovery_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    # Intra-op threads per shard process; 0: OMP_NUM_THREADS where set, else every core the process may use.
    shard_threads: int = Field(default=0, ge=0, le=256)
    # Where a shard runs its layers: "auto" takes the GPU when torch sees one (the cloud pool's L4s).
    shard_device: Literal["auto", "cpu", "cuda"] = "auto"
    # Stages of the local shard pool `qcl up` runs the model on (separate processes on loopback); 0: one process.
    shards: int = Field(default=0, ge=0, le=8)
    # Processes per stage of that pool: with 2, a stage can be drained or restarted while its replica serves.
    shard_replicas: int = Field(default=1, ge=1, le=4)
    # mTLS between the coordinator and the stages (qcl.pki, qcl.shard.tls): both present a certificate of the
    # project CA and a stage serves only coordinators. false: plaintext, for a trusted network only (a shard bound
    # to a non-loopback address then logs a warning). The local pool issues its own under <state_dir>/pki.
    shard_tls: bool = True
    # This process's certificate directory (cert.pem, key.pem, ca.pem: what `qcl pki issue` writes; on GCP the
    # startup script fills it from Secret Manager); unset: the local pool's, under <state_dir>/pki/nodes.
    tls_dir: Path | None = None
    # A plaintext port serving grpc.health.v1 alone (nothing else), for health checkers that present no client
    # certificate: GCP's gRPC health checks and kubelet's gRPC probes. Unset: health only on the mTLS port.
    shard_health_port: int | None = Field(default=None, ge=0, le=65535)

    @field_validator("shard_nodes", mode="before")
    @classmethod
    def _shard_addresses(cls, value: Any) -> Any:
        parts = [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value
        for part in parts if isinstance(parts, list) else []:
            host, _, port = str(part).rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"{part!r} is not a host:port address")
        return parts

    @field_validator("cors_origins", "ip_allow", "ip_deny", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any, info: ValidationInfo) -> Any:
        parts = [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value
        for part in parts if info.field_name != "cors_origins" and isinstance(parts, list) else []:
            try:
                ip_network(part)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{part!r} is not a CIDR network ({exc})") from None
        return parts

    @field_validator("oidc_principals", mode="before")
    @classmethod
    def _principals(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            pairs = [part.strip() for part in value.split(",") if part.strip()]
            value = {}
            for pair in pairs:
                address, sep, role = pair.partition("=")
                if not sep or "@" not in address or not role.strip():
                    raise ValueError(f"{pair!r} is not email=role (e.g. sa@project.iam.gserviceaccount.com=operator)")
                value[address.strip().lower()] = role.strip()
        audience = info.data.get("oidc_audience")
        if value and audience is None:
            raise ValueError("principals need QCL_OIDC_AUDIENCE, the audience their ID tokens carry")
        if not value and audience is not None:
            raise ValueError("QCL_OIDC_AUDIENCE is set but no principal may call with an ID token")
        return value


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), which can be fewer than the machine has."""
    return len(os.sched_getaffinity(0))


def cpu_threads(setting: int = 0) -> int:
    """Threads for a model's forward passes: `setting` (QCL_MODEL_THREADS, QCL_SHARD_THREADS), else OMP_NUM_THREADS
    as OpenMP itself reads it (a positive number), else every core this process may run on."""
    if setting:
        return setting
    given = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(given) if given.isdigit() and int(given) > 0 else available_cores()


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment, applying CLI overrides (None means "not given").

    Raises ConfigError naming each invalid variable.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ENV_PREFIX + ".".join(str(part) for part in error["loc"]).upper()
            problems.append(f"{name}: {error['msg']} (got {error.get('input')!r})")
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()


def as_environment(settings: Settings, names: Iterable[str]) -> dict[str, str]:
    """QCL_* variables that give a child process these settings as they are here (one that is None is left out;
    a path is made absolute, since the child may run elsewhere)."""
    env: dict[str, str] = {}
    for name in names:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, Path):
            text = str(value.resolve())
        elif isinstance(value, SecretStr):
            text = value.get_secret_value()
        else:
            text = str(value)
        env[ENV_PREFIX + name.upper()] = text
    return env

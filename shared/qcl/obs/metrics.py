"""Prometheus metrics of the process, served at /metrics by the API.

    curl -H "Authorization: Bearer $(cat .qcl/admin.key)" http://127.0.0.1:8080/metrics

Every metric is defined here, once, on prometheus_client's default registry, so that a service records into the
same series whoever imports it, and `ops/` (Grafana dashboard, alert rules) is checked against this list by a test.
Names follow https://prometheus.io/docs/practices/naming/: base units (seconds), counters end in `_total`.
Gauges that mirror another service's state (queue depth, tokens/s, nodes) are refreshed when /metrics is scraped.
"""

from __future__ import annotations

import threading
from collections import Counter as Tally
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, Info, generate_latest

if TYPE_CHECKING:
    from qcl.analysis.report import Finding

# From 1 ms (a cached read on loopback) to 30 s (a model answer on CPU).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Pub/Sub delivery takes ~50 ms a hop on the emulator; a stalled consumer shows up in minutes.
LAG_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0)

HTTP_REQUESTS = Counter("qcl_http_requests", "HTTP requests answered, by route template", ["route", "method", "status"])
HTTP_LATENCY = Histogram(
    "qcl_http_request_duration_seconds",
    "Time from request received to response ready, by route template",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
HTTP_IN_FLIGHT = Gauge("qcl_http_requests_in_flight", "HTTP requests being answered now")
RATE_LIMITED = Counter("qcl_rate_limited", "Requests refused by a rate limit", ["scope"])
API_SHED = Counter("qcl_api_shed", "Requests answered 503 overloaded before reaching a view (qcl.api.server)")
AUTH_FAILURES = Counter("qcl_auth_failures", "Requests refused by authentication or authorisation", ["reason"])
WEBSOCKET_CONNECTIONS = Gauge("qcl_websocket_connections", "Open WebSocket connections")

CACHE_HITS = Counter("qcl_cache_hits", "Lookups answered from a cache", ["cache"])
CACHE_MISSES = Counter("qcl_cache_misses", "Lookups a cache could not answer", ["cache"])

QUEUE_DEPTH = Gauge("qcl_queue_depth", "Requests or messages waiting, by queue", ["queue"])
# The job queue across every process (the store's counts): what the autoscalers of the runtimes scale the workers
# on (deploy/k8s/autoscaling: KEDA on qcl_jobs_queued), as qcl.compute.autoscale does locally.
JOBS_QUEUED = Gauge("qcl_jobs_queued", "Jobs waiting to be claimed, by priority class", ["priority"])
JOBS_RUNNING = Gauge("qcl_jobs_running", "Jobs leased to a worker")
MODEL_TOKENS_PER_S = Gauge("qcl_model_tokens_per_second", "Recent generation speed reported by the model", ["model"])
# Labelled by model so that an API without a model exports no series (and no "model down" alert fires there).
MODEL_UP = Gauge("qcl_model_up", "1 when the generation service answers its health check", ["model"])

NODES = Gauge("qcl_nodes", "Shard and oracle nodes by role and state (from node-events)", ["role", "state"])
CONSENSUS_LATENCY = Histogram(
    "qcl_oracle_consensus_latency_seconds",
    "Oracle job submitted to attestation received",
    buckets=LATENCY_BUCKETS,
)

BUS_LAG = Histogram(
    "qcl_bus_lag_seconds", "Event time to delivery at a consumer", ["topic", "consumer"], buckets=LAG_BUCKETS
)
BUS_EVENTS = Counter("qcl_bus_events_consumed", "Events handled by a consumer", ["topic", "consumer"])
LAST_ANALYSIS = Gauge(
    "qcl_pipeline_last_analysis_timestamp_seconds", "Unix time the newest network-analysis event reached the API"
)
HEALTH_SCORE = Gauge("qcl_network_health_score", "Health score of the newest analysis (0-100)")
NETWORK_FINDINGS = Gauge(
    "qcl_network_findings", "Findings in the newest analysis, by code and severity", ["code", "severity"]
)

BREAKER_OPEN = Gauge("qcl_circuit_breaker_open", "1 while a circuit breaker is open, 0 when closed", ["breaker"])
BUILD_INFO = Info("qcl_build", "Version of the running code")


def _os_threads() -> int:
    """Threads of this process as the OS counts them (native ones too: gRPC's, torch's), else Python's own."""
    try:
        return len(list(Path("/proc/self/task").iterdir()))
    except OSError:
        return threading.active_count()


# Beside prometheus_client's process_* gauges (which count no threads): `qcl bench soak --api` reads all three.
PROCESS_THREADS = Gauge("qcl_process_threads", "Threads of this process")
PROCESS_THREADS.set_function(_os_threads)


def record_findings(findings: Iterable[Finding]) -> None:
    """Count the newest analysis's findings; every code and severity seen before drops to 0 when absent now, so
    an alert on a finding resolves when the finding does."""
    counts = Tally((finding.code.value, finding.severity) for finding in findings)
    for labels in [tuple(sample.labels.values()) for family in NETWORK_FINDINGS.collect() for sample in family.samples]:
        NETWORK_FINDINGS.labels(*labels).set(0)
    for (code, severity), count in counts.items():
        NETWORK_FINDINGS.labels(code=code, severity=severity).set(count)


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def sample_names() -> set[str]:
    """Every series name the registry can expose (`_total`, `_bucket`, ... included), for consistency checks."""
    names: set[str] = set()
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "info": ("_info",),
        "gauge": ("",),
        "summary": ("", "_sum", "_count", "_created"),
    }
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
    return names

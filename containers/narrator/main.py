"""The narrator service: network-analysis and ai-requests in, ai-insights out.

python containers/narrator/main.py          # Cloud Run: Pub/Sub push endpoints on $PORT (POST /network-analysis,
                                            # POST /ai-requests), GET /healthz
python containers/narrator/main.py pull     # a pull worker (local, or a VM)

Both also run the compute layer's job workers (QCL_JOBS_WORKERS) on the narrator's model: Cloud Run keeps the
narrator's CPU allocated, and the job queue is in the shared store.
"""

from __future__ import annotations

import sys
from typing import Any

import flask

from qcl.api.server import serve_until_stopped
from qcl.bus import open_bus
from qcl.bus.push import handle_push
from qcl.config import settings
from qcl.events import AI_REQUESTS, NETWORK_ANALYSIS
from qcl.lifecycle import wait_for_stop
from qcl.narrate.service import open_narrator
from qcl.obs.logging import configure_logging
from qcl.pipeline.narrator import NarratorService, policy_from
from qcl.store import open_store


def build() -> NarratorService:
    config = settings()
    configure_logging(config.log_level, structured=True)
    return NarratorService(
        open_bus(config),
        open_store(config),
        open_narrator(config),
        policy=policy_from(config),
        task_ttl_s=config.retention_tasks_s,
    )


def create_app(service: NarratorService) -> flask.Flask:
    app = flask.Flask("narrator")

    @app.post("/network-analysis")
    def push_report() -> tuple[dict[str, Any], int]:
        body = flask.request.get_json(silent=True)
        return handle_push(body, NETWORK_ANALYSIS, "narrator", service.handle_report, service.bus)

    @app.post("/ai-requests")
    def push_request() -> tuple[dict[str, Any], int]:
        body = flask.request.get_json(silent=True)
        return handle_push(body, AI_REQUESTS, "narrator", service.handle_request, service.bus)

    @app.get("/healthz")
    @app.get("/api/health")  # the probes' path on Cloud Run, whose front end reserves paths ending in z
    def healthz() -> tuple[dict[str, Any], int]:
        # A narrator without its model still serves (templates), so only the store decides 200 vs 503.
        ok = service.store.ping()
        body = {"status": "ok" if ok else "store unreachable", "narrator": service.narrator.status()}
        return body, 200 if ok else 503

    return app


def pull(service: NarratorService, workers: Any = None) -> None:
    subscriptions = service.subscribe()
    try:
        wait_for_stop()
    finally:
        for subscription in subscriptions:
            subscription.close()
        drain(workers)
        service.close()
        service.bus.close()


def drain(workers: Any) -> None:
    """The job workers take no new job and finish those in flight, before the model closes (a scale-down's SIGTERM:
    the pod's grace period covers a job, deploy/k8s/narrator.yaml)."""
    if workers is not None:
        workers.stop()


def start_job_workers(service: NarratorService) -> Any:
    """Job workers on the narrator's model (the queue lives in the shared store: Memorystore on GCP)."""
    from qcl.compute.worker import start_workers

    return start_workers(settings(), service.store, service.narrator.model, name="//narrator/jobs")


if __name__ == "__main__":
    narrator = build()
    job_workers = start_job_workers(narrator)
    if sys.argv[1:] == ["pull"]:
        pull(narrator, job_workers)
    else:
        serve_until_stopped(create_app(narrator))
        drain(job_workers)

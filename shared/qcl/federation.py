"""Jobs across clusters: one entry point in front of several deployments (stacks, regions, clouds) that sends each
submission to the cluster that will start it soonest, and moves the jobs of a cluster that went down to another.

    federation = Federation([Cluster("eu", "https://eu.example", eu_key), Cluster("us", ...)], store)
    ids = federation.submit({"kind": "completion", "prompts": ["..."]})   # one submission, one cluster
    federation.get(ids[0])      # the job as its cluster reports it, or as last seen there
    federation.sweep()          # probe the clusters, refresh open jobs, fail over those of a cluster that is down
    create_gateway(federation, key)   # the same POST /api/jobs and GET /api/jobs/{id}, in front of them all
                                      # (`qcl federation serve --cluster eu --cluster us`, named profiles)

Routing: among the clusters that are up, the one with the lowest estimate of the time until a new job starts: the
round trip its probes measured (an EWMA) plus the wait its own forecast predicts (`GET /api/quotas`). A cluster is
down after `down_after` failed calls in a row, and up again at its next answered probe.

Failover: every accepted job is in the federation's ledger (the store) with what it takes to submit it again, until
it is final. Sweeps keep the ledger current. A job whose cluster has been down for `failover_after_s`, or whose
cluster answers that it has no such job (its store lost or replaced), is submitted again to a cluster that is up,
under the same federation id; a copy left behind is cancelled once its cluster answers again. So no accepted job is
lost, every one ends final on some cluster, and its result stays readable here even when its cluster is gone. A job
that was running when its cluster went down may run twice (at-least-once, as with a worker's lease).
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import flask
import httpx
import pydantic

from qcl.compute.jobs import FINAL_STATES, Job, JobRequest
from qcl.errors import QclError
from qcl.store.base import Store
from qcl.store.keys import FEDERATION_JOB, FEDERATION_OPEN

log = logging.getLogger(__name__)

RTT_WEIGHT = 0.3  # EWMA weight of the newest round trip


class FederationError(QclError):
    """No cluster could take a submission, or a job the federation does not know."""

    def __init__(self, message: str, status: int = 503, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


@dataclass
class Cluster:
    name: str
    url: str
    key: str = field(repr=False)
    rtt_s: float | None = None
    predicted_wait_s: float = 0.0
    failures: int = 0
    down_since: float | None = None  # the clock's time it was declared down

    @property
    def up(self) -> bool:
        return self.down_since is None

    def estimate_s(self) -> float:
        return (self.rtt_s or 0.0) + self.predicted_wait_s

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "up": self.up,
            "rtt_ms": None if self.rtt_s is None else round(self.rtt_s * 1000, 1),
            "predicted_wait_s": round(self.predicted_wait_s, 2),
            "failures": self.failures,
        }


def resubmission(job: Job, now: float) -> dict[str, Any]:
    """The body of POST /api/jobs that submits `job` again, alone (its deadline: what is left of it)."""
    body: dict[str, Any] = {
        "kind": job.kind,
        **job.payload,
        "max_tokens": job.max_tokens,
        "temperature": job.temperature,
        "stop": job.stop,
        "priority": job.priority,
        "max_attempts": job.max_attempts,
    }
    if job.deadline_at is not None:
        body["deadline_s"] = max(1.0, job.deadline_at - now)
    return body


class Federation:
    def __init__(
        self,
        clusters: Sequence[Cluster],
        store: Store,
        *,
        down_after: int = 2,
        failover_after_s: float = 10.0,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not clusters or len({c.name for c in clusters}) != len(clusters):
            raise ValueError("a federation needs one or more clusters with distinct names")
        self.clusters = {c.name: c for c in clusters}
        self.store = store
        self.down_after = down_after
        self.failover_after_s = failover_after_s
        self.clock = clock
        self.wall = wall
        self._http = httpx.Client(timeout=timeout_s, transport=transport)
        self._lock = threading.Lock()
        self.failovers = 0

    # -- talking to a cluster --------------------------------------------------------------------------------------

    def _call(self, cluster: Cluster, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; a cluster that does not answer, or answers 5xx, counts a failure (and may go down)."""
        headers = {"Authorization": f"Bearer {cluster.key}"}
        started = self.clock()
        try:
            answer = self._http.request(method, cluster.url.rstrip("/") + path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            self._failed(cluster, f"{type(exc).__name__}: {exc}")
            raise
        if answer.status_code >= 500:
            self._failed(cluster, f"HTTP {answer.status_code}")
            raise httpx.HTTPStatusError(
                f"{cluster.name}: HTTP {answer.status_code}", request=answer.request, response=answer
            )
        with self._lock:
            rtt = self.clock() - started
            cluster.rtt_s = rtt if cluster.rtt_s is None else RTT_WEIGHT * rtt + (1 - RTT_WEIGHT) * cluster.rtt_s
            cluster.failures = 0
            if cluster.down_since is not None:
                log.warning("federation: cluster %s answers again", cluster.name)
            cluster.down_since = None
        return answer

    def _failed(self, cluster: Cluster, why: str) -> None:
        with self._lock:
            cluster.failures += 1
            if cluster.failures >= self.down_after and cluster.down_since is None:
                cluster.down_since = self.clock()
                log.warning("federation: cluster %s is down (%s)", cluster.name, why)

    def probe(self) -> None:
        """Ask every cluster for its forecast; the answer times the round trip, a silence counts a failure."""
        for cluster in self.clusters.values():
            try:
                forecast = self._call(cluster, "GET", "/api/quotas").json().get("forecast", {})
            except (httpx.HTTPError, ValueError):
                continue
            wait = forecast.get("predicted_wait_s")
            cluster.predicted_wait_s = float(wait) if isinstance(wait, int | float) else 0.0

    def ranked(self) -> list[Cluster]:
        """The clusters that are up, soonest start first."""
        return sorted((c for c in self.clusters.values() if c.up), key=Cluster.estimate_s)

    # -- jobs ------------------------------------------------------------------------------------------------------

    def submit(self, body: dict[str, Any]) -> list[str]:
        """Send one submission (a job or a batch) to the best cluster that takes it; returns the federation ids.
        A refusal that is the caller's (422, 429) is passed on; a cluster that fails is skipped for the next."""
        request = JobRequest.model_validate(body)  # 422 here, naming the field, before any cluster is asked
        jobs = request.jobs(key_id="federation", now=self.wall())
        for cluster in self.ranked():
            try:
                answer = self._call(cluster, "POST", "/api/jobs", json=body)
            except httpx.HTTPError:
                continue
            if answer.status_code != 202:
                raise FederationError(
                    f"{cluster.name}: {answer.text}",
                    answer.status_code,
                    _retry_after(answer.headers.get("Retry-After")),
                )
            ids: list[str] = answer.json()["jobs"]
            for job_id, job in zip(ids, jobs, strict=True):
                self._record({"id": job_id, "cluster": cluster.name, "cluster_job": job_id, "state": "queued",
                              "body": resubmission(job, self.wall()), "moved_from": [], "job": None})  # fmt: skip
            return ids
        raise FederationError("no cluster is up to take the submission", 503, retry_after_s=self.failover_after_s)

    def _record(self, entry: dict[str, Any]) -> None:
        self.store.put(FEDERATION_JOB.key(job_id=entry["id"]), json.dumps(entry))
        if entry["state"] in FINAL_STATES and not entry["moved_from"]:
            self.store.window_remove(FEDERATION_OPEN.key(), entry["id"])
        else:
            self.store.window_add(FEDERATION_OPEN.key(), self.wall(), entry["id"])

    def entry(self, job_id: str) -> dict[str, Any]:
        raw = self.store.get(FEDERATION_JOB.key(job_id=job_id))
        if raw is None:
            raise FederationError(f"no job {job_id!r} in this federation", 404)
        found: dict[str, Any] = json.loads(raw)
        return found

    def get(self, job_id: str) -> dict[str, Any]:
        """The job as its cluster reports it now, or as last seen when the cluster does not answer; with the
        cluster it is on."""
        entry = self.entry(job_id)
        if entry["state"] not in FINAL_STATES:
            entry = self._refresh(entry)
        view = dict(entry["job"] or {"id": job_id, "state": entry["state"]})
        view["id"] = job_id
        return {**view, "cluster": entry["cluster"], "moved": len(entry["moved_from"])}

    def _refresh(self, entry: dict[str, Any]) -> dict[str, Any]:
        """The entry with its cluster's view of the job; "gone" set when the cluster answers that it has no such job
        (its store was lost or replaced: the job must run elsewhere)."""
        cluster = self.clusters.get(entry["cluster"])
        if cluster is None or not cluster.up:
            return entry
        try:
            answer = self._call(cluster, "GET", f"/api/jobs/{entry['cluster_job']}")
        except httpx.HTTPError:
            return entry
        if answer.status_code == 404:
            return {**entry, "gone": True}
        if answer.status_code == 200:
            job = answer.json()
            entry = {**entry, "state": job["state"], "job": job}
            self._record(entry)
        return entry

    def sweep(self) -> dict[str, int]:
        """One round: probe, refresh every open job, fail over those whose cluster is down past failover_after_s,
        and cancel the copies left on a cluster that came back."""
        self.probe()
        moved = refreshed = 0
        now = self.clock()
        for job_id in self.store.window_range(FEDERATION_OPEN.key()):
            try:
                entry = self.entry(job_id)
            except FederationError:
                self.store.window_remove(FEDERATION_OPEN.key(), job_id)
                continue
            entry = self._cancel_left_copies(entry)
            if entry["state"] in FINAL_STATES:
                continue
            cluster = self.clusters.get(entry["cluster"])
            if cluster is not None and cluster.up:
                refreshed += 1
                if self._refresh(entry).get("gone"):
                    moved += self._fail_over(entry)
            elif cluster is None or (
                cluster.down_since is not None and now - cluster.down_since >= self.failover_after_s
            ):
                moved += self._fail_over(entry)
        return {"refreshed": refreshed, "moved": moved}

    def _fail_over(self, entry: dict[str, Any]) -> int:
        for target in self.ranked():
            if target.name == entry["cluster"]:
                continue
            try:
                answer = self._call(target, "POST", "/api/jobs", json=entry["body"])
            except httpx.HTTPError:
                continue
            if answer.status_code != 202:
                log.warning("federation: %s refused job %s: %s", target.name, entry["id"], answer.text)
                continue
            (new_id,) = answer.json()["jobs"]
            moved_from = [*entry["moved_from"], [entry["cluster"], entry["cluster_job"]]]
            self._record({**entry, "cluster": target.name, "cluster_job": new_id, "state": "queued", "job": None,
                          "moved_from": moved_from})  # fmt: skip
            log.warning("federation: job %s moved from %s to %s", entry["id"], entry["cluster"], target.name)
            with self._lock:
                self.failovers += 1
            return 1
        return 0

    def _cancel_left_copies(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Cancel the copies of a moved job on clusters that answer again (best effort: a copy that already ran is
        left as it is)."""
        left = []
        for name, cluster_job in entry["moved_from"]:
            cluster = self.clusters.get(name)
            if cluster is None:
                continue
            if not cluster.up:
                left.append([name, cluster_job])
                continue
            try:
                self._call(cluster, "POST", f"/api/jobs/{cluster_job}/cancel")
            except httpx.HTTPError:
                left.append([name, cluster_job])
        if left != entry["moved_from"]:
            entry = {**entry, "moved_from": left}
            self._record(entry)
        return entry

    def status(self) -> dict[str, Any]:
        return {
            "clusters": [c.describe() for c in self.clusters.values()],
            "open_jobs": self.store.window_count(FEDERATION_OPEN.key()),
            "failovers": self.failovers,
        }

    def close(self) -> None:
        self._http.close()


def _retry_after(value: str | None) -> float | None:
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


def create_gateway(federation: Federation, key: str) -> flask.Flask:
    """The federation over HTTP: POST /api/jobs and GET /api/jobs/{id} as a cluster answers them (with the cluster
    a job is on), GET /api/federation for the clusters' state; every request carries `key` as its bearer token."""
    app = flask.Flask("qcl-federation")

    def error(status: int, code: str, message: str, retry_after_s: float | None = None) -> flask.Response:
        answer = flask.jsonify({"error": {"code": code, "message": message}})
        answer.status_code = status
        if retry_after_s is not None:
            answer.headers["Retry-After"] = str(max(1, round(retry_after_s)))
        return answer

    @app.before_request
    def authenticate() -> flask.Response | None:
        given = flask.request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.encode(), key.encode()):
            return error(401, "unauthenticated", "a valid key is required (Authorization: Bearer <key>)")
        return None

    @app.post("/api/jobs")
    def submit() -> Any:
        body = flask.request.get_json(silent=True)
        if not isinstance(body, dict):
            return error(400, "invalid_json", "the body must be a JSON object")
        try:
            ids = federation.submit(body)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            return error(422, "validation_error", f"{where}: {first['msg']}")
        except FederationError as exc:
            return error(exc.status, "refused" if exc.status < 500 else "unavailable", str(exc), exc.retry_after_s)
        return flask.jsonify({"jobs": ids}), 202, {"Location": f"/api/jobs/{ids[0]}"}

    @app.get("/api/jobs/<job_id>")
    def get(job_id: str) -> Any:
        try:
            return flask.jsonify(federation.get(job_id))
        except FederationError as exc:
            return error(exc.status, "not_found", str(exc))

    @app.get("/api/federation")
    def clusters() -> Any:
        return flask.jsonify(federation.status())

    return app


class Sweeper:
    """`federation.sweep()` every `every_s` seconds on a thread, until stopped."""

    def __init__(self, federation: Federation, every_s: float = 2.0) -> None:
        self.federation = federation
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="qcl-federation-sweep", daemon=True)

    def start(self) -> Sweeper:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.federation.sweep()
            except Exception:  # the ledger's store failed a round: the next one tries again
                log.exception("federation: a sweep failed")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every_s + 30)

"""Cloud Run and Cloud Monitoring behind qcl.delivery.rollout's Platform and Watch (google-cloud-run's run_v2,
google-cloud-monitoring's monitoring_v3). Credentials are the environment's (Cloud Build's service account).

    platform = CloudRunPlatform("my-project", "europe-west4", "qcl-api-svc")
    watch = CloudMonitoringWatch("my-project", "qcl-api-svc")
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from qcl.delivery.rollout import Health, RolloutError

TAGS = ("blue", "green")
DEPLOY_TIMEOUT_S = 900.0  # a GPU revision's first start (image pull, model load) is minutes


class CloudRunPlatform:
    def __init__(self, project: str, region: str, service: str, *, client: Any = None) -> None:
        from google.cloud import run_v2

        self.service = service
        self.name = f"projects/{project}/locations/{region}/services/{service}"
        self._run = run_v2
        self._client = client or run_v2.ServicesClient()

    def _get(self) -> Any:
        return self._client.get_service(name=self.name)

    def _update(self, service: Any, what: str) -> None:
        operation = self._client.update_service(service=service)
        try:
            operation.result(timeout=DEPLOY_TIMEOUT_S)
        except Exception as exc:  # the revision failed its startup probe, or the update was refused
            raise RolloutError(f"{self.service}: {what} failed: {type(exc).__name__}: {exc}") from exc

    def serving(self) -> str:
        service = self._get()
        full = [status for status in service.traffic_statuses if status.percent == 100]
        if len(full) != 1:
            split = ", ".join(f"{s.revision or 'latest'} {s.percent} %" for s in service.traffic_statuses if s.percent)
            raise RolloutError(f"{self.service}'s traffic is split ({split}); finish or undo that first")
        # A "latest" target names no revision: it is the latest ready one.
        return str(full[0].revision or service.latest_ready_revision.rsplit("/", 1)[-1])

    def _target(self, revision: str, percent: int, tag: str = "") -> Any:
        kind = self._run.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
        return self._run.TrafficTarget(type_=kind, revision=revision, percent=percent, tag=tag)

    def deploy(self, image: str, suffix: str) -> str:
        blue = self.serving()
        service = self._get()
        revision = f"{self.service}-{suffix}"
        service.template.revision = revision
        containers = list(service.template.containers)
        app = next((c for c in containers if c.name == "app"), containers[0])  # sidecars (the collector) stay
        app.image = image
        service.traffic = [self._target(blue, 100, "blue"), self._target(revision, 0, "green")]
        self._update(service, f"deploying {image} as {revision}")
        return revision

    def route(self, percents: dict[str, int]) -> None:
        service = self._get()
        tags = {t.revision: t.tag for t in service.traffic if t.tag in TAGS}
        targets = [self._target(revision, percent, tags.get(revision, "")) for revision, percent in percents.items()]
        targets += [self._target(revision, 0, tag) for revision, tag in tags.items() if revision not in percents]
        service.traffic = targets
        self._update(service, "routing " + ", ".join(f"{r} {p} %" for r, p in percents.items()))


class CloudMonitoringWatch:
    """A revision's requests, 5xx responses and p95 latency from Cloud Run's built-in metrics (they arrive with a
    delay of a minute or two, which the bake time covers)."""

    def __init__(
        self, project: str, service: str, *, client: Any = None, clock: Callable[[], float] = time.time
    ) -> None:
        from google.cloud import monitoring_v3

        self.project = project
        self.service = service
        self._monitoring = monitoring_v3
        self._client = client or monitoring_v3.MetricServiceClient()
        self._clock = clock

    def _series(self, metric: str, revision: str, seconds: float, aligner: Any, reducer: Any, by: list[str]) -> Any:
        m = self._monitoring
        now = self._clock()
        window = max(60, int(seconds))  # Cloud Monitoring aligns over a minute at least
        interval = m.TimeInterval(end_time={"seconds": int(now)}, start_time={"seconds": int(now) - window})
        aggregation = m.Aggregation(
            alignment_period={"seconds": window},
            per_series_aligner=aligner,
            cross_series_reducer=reducer,
            group_by_fields=by,
        )
        where = (
            f'metric.type="run.googleapis.com/{metric}" AND resource.type="cloud_run_revision" AND '
            f'resource.labels.service_name="{self.service}" AND resource.labels.revision_name="{revision}"'
        )
        return self._client.list_time_series(
            request={
                "name": f"projects/{self.project}",
                "filter": where,
                "interval": interval,
                "aggregation": aggregation,
                "view": m.ListTimeSeriesRequest.TimeSeriesView.FULL,
            }
        )

    def health(self, revision: str, seconds: float) -> Health:
        aligner, reducer = self._monitoring.Aggregation.Aligner, self._monitoring.Aggregation.Reducer
        requests = errors = 0
        counts = self._series(
            "request_count",
            revision,
            seconds,
            aligner.ALIGN_DELTA,
            reducer.REDUCE_SUM,
            ["metric.label.response_code_class"],
        )
        for series in counts:
            served = sum(int(point.value.int64_value) for point in series.points)
            requests += served
            if series.metric.labels.get("response_code_class") == "5xx":
                errors += served
        latencies = self._series(
            "request_latencies", revision, seconds, aligner.ALIGN_PERCENTILE_95, reducer.REDUCE_MAX, []
        )
        p95 = max((float(p.value.double_value) for s in latencies for p in s.points), default=None)
        return Health(requests=requests, errors=errors, p95_ms=p95 if requests else None)

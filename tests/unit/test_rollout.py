"""Releasing an image: the canary and blue-green decisions on a platform that keeps traffic as Cloud Run does, and
the Cloud Run and Cloud Monitoring requests the adapters build, as google-cloud-run's and google-cloud-monitoring's
own message types (no request leaves the process; nothing here ran against Google Cloud)."""

from __future__ import annotations

from typing import Any

import pytest
from google.cloud import monitoring_v3, run_v2
from typer.testing import CliRunner

from qcl.cli import app
from qcl.delivery.cli import revision_suffix
from qcl.delivery.cloudrun import CloudMonitoringWatch, CloudRunPlatform
from qcl.delivery.rollout import Health, Limits, RolloutError, plan, rollout

HEALTHY = Health(requests=200, errors=0, p95_ms=120.0)


class Traffic:
    """Revisions and their share of the traffic; a deploy adds one with none."""

    def __init__(self, serving: dict[str, int] | None = None, *, ready: bool = True) -> None:
        self.percents = serving or {"api-00007-abc": 100}
        self.ready = ready
        self.routes: list[dict[str, int]] = []

    def serving(self) -> str:
        full = [r for r, p in self.percents.items() if p == 100]
        if len(full) != 1:
            raise RolloutError("traffic is split")
        return full[0]

    def deploy(self, image: str, suffix: str) -> str:
        if not self.ready:
            raise RolloutError(f"api: deploying {image} failed: the startup probe never passed")
        self.percents[f"api-{suffix}"] = 0
        return f"api-{suffix}"

    def route(self, percents: dict[str, int]) -> None:
        assert sum(percents.values()) == 100
        self.routes.append(dict(percents))
        self.percents = {revision: percents.get(revision, 0) for revision in self.percents}


class Watch:
    """The health of the green revision at each bake, in turn."""

    def __init__(self, *healths: Health) -> None:
        self.healths = list(healths)
        self.asked: list[tuple[str, float]] = []

    def health(self, revision: str, seconds: float) -> Health:
        self.asked.append((revision, seconds))
        return self.healths.pop(0)


def release(traffic: Traffic, watch: Watch, **options: Any) -> Any:
    slept: list[float] = []
    result = rollout(traffic, watch, "repo/api:b42", suffix="b42", sleep=slept.append, bake_s=300, **options)
    return result, slept


def test_a_healthy_canary_takes_each_step_then_all_traffic() -> None:
    traffic = Traffic()
    result, slept = release(traffic, Watch(HEALTHY, HEALTHY, HEALTHY))
    assert traffic.routes == [
        {"api-b42": 10, "api-00007-abc": 90},
        {"api-b42": 50, "api-00007-abc": 50},
        {"api-b42": 100},
    ]
    assert slept == [300, 300, 300]
    assert result.promoted and result.green == "api-b42" and result.blue == "api-00007-abc"
    assert traffic.percents == {"api-00007-abc": 0, "api-b42": 100}  # blue stays deployed


def test_a_canary_over_the_error_rate_goes_back_to_blue_at_that_step() -> None:
    traffic = Traffic()
    result, _ = release(traffic, Watch(HEALTHY, Health(requests=100, errors=5, p95_ms=100.0)))
    assert traffic.routes[-1] == {"api-00007-abc": 100}
    assert len(traffic.routes) == 3  # 10 %, 50 %, back
    assert not result.promoted
    assert result.reason == "rolled back to api-00007-abc at 50 %: error rate 5.00% (5 of 100) over 1.00%"
    assert [step.percent for step in result.steps] == [10, 50]


def test_blue_green_switches_everything_at_once_and_back_on_latency() -> None:
    traffic = Traffic()
    watch = Watch(Health(requests=300, errors=0, p95_ms=3500.0))
    result, slept = release(traffic, watch, strategy="blue-green", limits=Limits(max_p95_ms=2000))
    assert traffic.routes == [{"api-b42": 100}, {"api-00007-abc": 100}]
    assert slept == [300] and watch.asked == [("api-b42", 300)]
    assert result.reason.endswith("p95 latency 3500 ms over 2000 ms")


def test_a_revision_that_never_becomes_ready_leaves_the_traffic_alone() -> None:
    traffic = Traffic(ready=False)
    with pytest.raises(RolloutError, match="the startup probe never passed"):
        release(traffic, Watch())
    assert traffic.routes == [] and traffic.percents == {"api-00007-abc": 100}


def test_a_split_traffic_is_left_for_a_person_to_finish() -> None:
    traffic = Traffic({"api-1": 90, "api-2": 10})
    with pytest.raises(RolloutError, match="split"):
        release(traffic, Watch())
    assert traffic.routes == []


def test_no_requests_in_a_bake_is_no_evidence_against_it() -> None:
    assert Health(requests=0, errors=0, p95_ms=None).problem(Limits()) is None
    assert Health(requests=1000, errors=10, p95_ms=None).problem(Limits()) is None  # 1.00 % is within 1 %


@pytest.mark.parametrize("steps", [[10, 50], [50, 10, 100], [0, 100], [10, 10, 100], []])
def test_canary_steps_must_rise_to_all_the_traffic(steps: list[int]) -> None:
    with pytest.raises(RolloutError, match="canary steps must rise from above 0 to 100"):
        plan("canary", steps)


# -- Cloud Run: the Service messages the platform sends ------------------------------------------------------------


class Operation:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def result(self, timeout: float) -> None:
        if self.error is not None:
            raise self.error


class Services:
    """Answers get_service with a Service as Cloud Run describes one; records every update."""

    def __init__(self, service: run_v2.Service, error: Exception | None = None) -> None:
        self.service = service
        self.updates: list[run_v2.Service] = []
        self.error = error

    def get_service(self, name: str) -> run_v2.Service:
        assert name == "projects/p1/locations/europe-west4/services/qcl-api-svc"
        return run_v2.Service.deserialize(run_v2.Service.serialize(self.service))  # a fresh copy, as over the wire

    def update_service(self, service: run_v2.Service) -> Operation:
        self.updates.append(service)
        return Operation(self.error)


def described(latest: bool = True) -> run_v2.Service:
    kind = run_v2.TrafficTargetAllocationType
    status = (
        run_v2.TrafficTargetStatus(type_=kind.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, percent=100)
        if latest
        else run_v2.TrafficTargetStatus(
            type_=kind.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, revision="qcl-api-svc-a", percent=100
        )
    )
    return run_v2.Service(
        name="projects/p1/locations/europe-west4/services/qcl-api-svc",
        template=run_v2.RevisionTemplate(
            containers=[
                run_v2.Container(name="app", image="repo/api:b41"),
                run_v2.Container(name="collector", image="gke.gcr.io/prometheus-engine/gmp:1.2.0"),
            ]
        ),
        traffic_statuses=[status],
        latest_ready_revision="projects/p1/locations/europe-west4/services/qcl-api-svc/revisions/qcl-api-svc-a",
    )


def test_deploy_sends_the_new_image_as_a_named_revision_with_no_traffic_beside_blue() -> None:
    services = Services(described())
    platform = CloudRunPlatform("p1", "europe-west4", "qcl-api-svc", client=services)
    assert platform.deploy("repo/api:b42", "b42") == "qcl-api-svc-b42"
    (sent,) = services.updates
    assert sent.template.revision == "qcl-api-svc-b42"
    assert [(c.name, c.image) for c in sent.template.containers] == [
        ("app", "repo/api:b42"),
        ("collector", "gke.gcr.io/prometheus-engine/gmp:1.2.0"),  # the sidecar is not the release
    ]
    revision_kind = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
    assert [(t.type_, t.revision, t.percent, t.tag) for t in sent.traffic] == [
        (revision_kind, "qcl-api-svc-a", 100, "blue"),
        (revision_kind, "qcl-api-svc-b42", 0, "green"),
    ]


def test_routing_keeps_the_blue_and_green_tags() -> None:
    service = described(latest=False)
    kind = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
    service.traffic = [
        run_v2.TrafficTarget(type_=kind, revision="qcl-api-svc-a", percent=100, tag="blue"),
        run_v2.TrafficTarget(type_=kind, revision="qcl-api-svc-b42", percent=0, tag="green"),
    ]
    services = Services(service)
    CloudRunPlatform("p1", "europe-west4", "qcl-api-svc", client=services).route({"qcl-api-svc-a": 100})
    (sent,) = services.updates
    assert [(t.revision, t.percent, t.tag) for t in sent.traffic] == [
        ("qcl-api-svc-a", 100, "blue"),
        ("qcl-api-svc-b42", 0, "green"),  # still reachable at its tag URL after the rollback
    ]


def test_a_refused_update_is_a_rollout_error_naming_the_step() -> None:
    services = Services(described(), error=RuntimeError("Revision 'qcl-api-svc-b42' is not ready"))
    platform = CloudRunPlatform("p1", "europe-west4", "qcl-api-svc", client=services)
    with pytest.raises(RolloutError, match="deploying repo/api:b42 as qcl-api-svc-b42 failed: RuntimeError: Rev"):
        platform.deploy("repo/api:b42", "b42")


# -- Cloud Monitoring: the queries and what the answers mean -------------------------------------------------------


class Metrics:
    def __init__(self, answers: dict[str, list[monitoring_v3.TimeSeries]]) -> None:
        self.answers = answers
        self.requests: list[dict[str, Any]] = []

    def list_time_series(self, request: dict[str, Any]) -> list[monitoring_v3.TimeSeries]:
        self.requests.append(request)
        metric = request["filter"].split('"')[1].rsplit("/", 1)[-1]
        return self.answers[metric]


def series(value: dict[str, Any], **labels: str) -> monitoring_v3.TimeSeries:
    return monitoring_v3.TimeSeries(metric={"labels": labels}, points=[{"value": value}])


def test_health_counts_5xx_among_all_responses_and_takes_the_p95() -> None:
    metrics = Metrics(
        {
            "request_count": [
                series({"int64_value": 180}, response_code_class="2xx"),
                series({"int64_value": 15}, response_code_class="4xx"),
                series({"int64_value": 5}, response_code_class="5xx"),
            ],
            "request_latencies": [series({"double_value": 840.5})],
        }
    )
    watch = CloudMonitoringWatch("p1", "qcl-api-svc", client=metrics, clock=lambda: 1_765_000_000.0)
    assert watch.health("qcl-api-svc-b42", 300) == Health(requests=200, errors=5, p95_ms=840.5)
    counts, latencies = metrics.requests
    assert 'resource.labels.revision_name="qcl-api-svc-b42"' in counts["filter"]
    assert counts["interval"].end_time.timestamp() - counts["interval"].start_time.timestamp() == 300
    assert list(counts["aggregation"].group_by_fields) == ["metric.label.response_code_class"]
    assert latencies["aggregation"].per_series_aligner == monitoring_v3.Aggregation.Aligner.ALIGN_PERCENTILE_95


def test_a_revision_that_served_nothing_has_no_latency() -> None:
    metrics = Metrics({"request_count": [], "request_latencies": []})
    watch = CloudMonitoringWatch("p1", "qcl-api-svc", client=metrics)
    assert watch.health("r", 30) == Health(requests=0, errors=0, p95_ms=None)
    assert metrics.requests[0]["aggregation"].alignment_period.seconds == 60  # a minute at least


# -- the command ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "suffix"),
    [
        ("europe-west4-docker.pkg.dev/p/r/api:7f3c2a1b-9d4e", "7f3c2a1b-9d4e"),
        ("repo/api:V1.2_rc", "v1-2-rc"),
        ("localhost:5000/api", "localhost-5000-api"),
    ],
)
def test_the_revision_suffix_comes_from_the_image_tag(image: str, suffix: str) -> None:
    assert revision_suffix(image) == suffix


def test_steps_that_are_not_numbers_are_a_usage_error() -> None:
    args = ["rollout", "qcl-api-svc", "repo/api:b42", "--project", "p1", "--region", "r", "--steps", "10,half"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "--steps: comma-separated whole percents such as 10,50,100 (got '10,half')" in result.output

"""The OpenAPI document is valid and complete, and schemathesis, generating requests from it, finds no 5xx answer,
no answer that breaks the document (status, content type, body schema, headers), and no invalid input accepted.

Bounded: a fixed number of generated cases per operation, with an admin key (every route reachable) and an app
that holds data to answer with (a report, history, insights, nodes, an attestation-free oracle list) and a model
runtime (a tiny model) for the OpenAI-compatible /v1 routes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from qcl.api import context
from qcl.api.schemas import Role
from qcl.config import load_settings
from qcl.events import AI_INSIGHTS, AIInsight
from qcl.model.loading import load_model
from qcl.model.service import GenerationService
from qcl.obs.monitor import OpsMonitor
from qcl.oracle.status import CommitteeState, MemberState
from qcl.pipeline.analyzer import HISTORY_KEY, LATEST_KEY, WINDOW_KEY
from qcl.pipeline.node_control import NodeControl
from qcl.qubic.synth import generate_observations
from qcl.shard.registry import NodeRecord, ShardRegistry
from qcl.store.keys import INSIGHTS_RECENT, ORACLE_COMMITTEE
from tests.integration.test_api_fixtures import Api, TemplateNarrator, make_api, report

# One worker runs this module (pytest-xdist --dist loadgroup), so its module-scoped API is stocked once.
pytestmark = pytest.mark.xdist_group("api_schema")


def reached_the_handler(ctx: Any, response: Any, case: Any) -> bool | None:
    """The fuzz runs' rate limits (make_api: bursts of 10,000) let every case reach its handler: a 429 from the
    request gate (`rate_limited`, `rate_limit_exceeded` under /v1) means the run tested the limiter, not the route.
    A handler's own 429 (a job quota) is an answer like any other."""
    if response.status_code == 429:
        error = json.loads(response.content or b"{}").get("error") or {}
        assert error.get("code") not in GATE_LIMITED, f"{case.operation.label}: rate limited before its handler"
    return None


GATE_LIMITED = ("rate_limited", "rate_limit_exceeded")
CHECKS = [
    reached_the_handler,
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]


def stocked_api(tmp_path: Path, ops: OpsMonitor) -> Api:
    tiny = load_model("tiny-random-llama", load_settings(model_cache_dir=tmp_path / "models"), progress=None)
    api = make_api(
        tmp_path,
        narrator=TemplateNarrator(),
        generation=GenerationService(tiny),
        alertmanager_url=ops.alertmanager_url,  # silences
        prometheus_url=ops.prometheus_url,
        log_dir=tmp_path / "logs",  # /api/ops/logs searches its (empty) index
    )
    api.store.put(LATEST_KEY, report(90).model_dump_json())
    api.store.list_push(HISTORY_KEY, report(90).model_dump_json(), max_len=10)
    for observation in generate_observations(start=datetime(2025, 11, 8, tzinfo=UTC), hours=0.1):
        api.store.window_add(WINDOW_KEY, observation.observed_at.timestamp(), observation.to_json_line())
    insight = AIInsight(
        kind="narrative",
        text="health 90",
        language="en",
        model="templates",
        grounded=True,
        fallback_used=True,
        confidence=1.0,
        sources=[],
        latency_ms=1.0,
    )
    published = AI_INSIGHTS.event(insight, source="//test").model_dump_json()
    api.store.list_push(INSIGHTS_RECENT.key(), published, max_len=10)
    registry = ShardRegistry(api.store, heartbeat_s=3600)  # a shard pool and a committee to describe
    for stage, layers in enumerate([(0, 10), (10, 30)]):
        registry.heartbeat(
            NodeRecord(
                node_id=f"s{stage}",
                incarnation="i1",
                address=f"127.0.0.1:{50051 + stage}",
                model="smollm2-135m-instruct",
                weights_sha256="ab" * 32,
                ranges=[layers],
                max_sessions=16,
                sessions=0,
                memory_free_bytes=10**9,
                started_at=0.0,
            )
        )
    members = [
        MemberState(node_id=f"oracle-{i}", index=i, running=True, reputation=1.0, excluded=False, tombstoned=False)
        for i in range(4)
    ]
    state = CommitteeState(
        committee_id="c" * 64,
        n=4,
        f=1,
        quorum=3,
        sequence=0,
        view=0,
        primary="oracle-0",
        members=members,
        updated_at=datetime.now(UTC),
    )
    api.store.put(ORACLE_COMMITTEE.key(), state.model_dump_json())
    api.services.nodes = NodeControl()  # node actions answer (404: this instance runs none of the nodes above)
    return api


@pytest.fixture(scope="module")
def stocked(tmp_path_factory: pytest.TempPathFactory, ops_monitor: OpsMonitor) -> Api:
    return stocked_api(tmp_path_factory.mktemp("schema"), ops_monitor)


def test_the_document_is_valid_openapi_3_1(tmp_path: Path) -> None:
    spec = make_api(tmp_path).client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_the_document_covers_every_route(tmp_path: Path) -> None:
    api = make_api(tmp_path)
    spec = api.client.get("/api/openapi.json").json
    declared = {(r.method.lower(), r.path) for r in context(api.app).routes.routes}
    documented = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    assert declared == documented
    for path, ops in spec["paths"].items():
        for op in ops.values():
            assert "default" in op["responses"], path


def test_the_docs_page_lists_every_path(tmp_path: Path) -> None:
    api = make_api(tmp_path)
    page = api.client.get("/api/docs").get_data(as_text=True)
    for path in api.client.get("/api/openapi.json").json["paths"]:
        assert path in page


def test_under_a_flood_the_gate_answers_429_before_401_as_the_document_says(tmp_path: Path) -> None:
    """The per-IP limit comes before the key is looked at (qcl.api.app): a flood without a key is answered 401 until
    the bucket is empty, then 429 with Retry-After, and both answers conform to the document; the fuzz runs'
    `reached_the_handler` check tells such a 429 from a handler's."""
    api = make_api(tmp_path, rate_limit_ip_burst=5, rate_limit_ip_per_s=0.001)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", api.app)  # the document's fetch takes one token
    operation = schema["/api/network/latest"]["GET"]
    statuses = []
    for _ in range(7):
        case = operation.Case()
        response = case.call()
        case.validate_response(response, checks=[c for c in CHECKS if c is not reached_the_handler])
        statuses.append(response.status_code)
    assert statuses == [401] * 4 + [429] * 3
    with pytest.raises(AssertionError, match="rate limited before its handler"):
        reached_the_handler(None, response, case)


def fuzz(api: Api, mode: GenerationMode, examples: int) -> list[str]:
    """Run every operation's generated cases; one line per operation that failed, with schemathesis' summary."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", api.app)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        has_input = bool(operation.path_parameters or operation.query or operation.body)
        if mode is GenerationMode.NEGATIVE and not has_input:
            continue  # nothing to make invalid

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=api.headers(Role.ADMIN), checks=CHECKS)

        try:
            run()
        except Exception as exc:  # schemathesis raises a group of failures; keep its readable summary
            failures.append(f"{operation.label}: {' '.join(_described(exc).split())[:2000]}")
    return failures


def _described(exc: BaseException) -> str:
    """The error and the ones it groups: hypothesis' "flaky" error wraps the failure it could not replay."""
    inner = [_described(e) for e in getattr(exc, "exceptions", ())]
    return " | ".join([f"{type(exc).__name__}: {exc}", *inner])


@pytest.mark.slow
def test_valid_generated_requests_get_no_5xx_and_answers_that_match_the_document(stocked: Api) -> None:
    assert fuzz(stocked, GenerationMode.POSITIVE, examples=25) == []


@pytest.mark.slow
def test_invalid_generated_requests_are_refused_with_a_4xx_in_the_error_shape(stocked: Api) -> None:
    assert fuzz(stocked, GenerationMode.NEGATIVE, examples=25) == []

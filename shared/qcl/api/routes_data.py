"""Read views for viewers: the network's analysis, insights, nodes and topology, oracle attestations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import flask

from qcl.analysis.report import AnalysisReport
from qcl.api.errors import ApiError
from qcl.api.routing import ApiRoutes
from qcl.api.schemas import (
    ID_PATTERN,
    HistoryQuery,
    HistoryResponse,
    InsightsResponse,
    LimitQuery,
    NodesResponse,
    OracleResultsResponse,
    Role,
    TopologyResponse,
)
from qcl.events import OracleResult

if TYPE_CHECKING:
    from qcl.api.context import ApiContext


def register(routes: ApiRoutes, ctx: ApiContext) -> None:
    state = ctx.state

    @routes.route(
        "GET",
        "/api/network/latest",
        role=Role.VIEWER,
        tag="network",
        summary="The newest analysis report",
        responses={200: AnalysisReport, 404: None},
    )
    def network_latest() -> flask.Response:
        """404 `no_analysis_yet` until the analyzer has published a report."""
        raw = state.latest_report_json()
        if raw is None:
            raise ApiError(404, "no_analysis_yet", "no analysis report yet; the analyzer has not published one")
        return flask.Response(raw, mimetype="application/json")  # stored as the analyzer serialised it

    @routes.route(
        "GET",
        "/api/network/history",
        role=Role.VIEWER,
        tag="network",
        summary="Analysis reports over time, oldest first",
        query=HistoryQuery,
        responses={200: HistoryResponse},
    )
    def network_history(query: HistoryQuery) -> HistoryResponse:
        """Reports observed between `from` and `to` (RFC 3339 with an offset), the newest `limit` of them."""
        if query.from_ is not None and query.to is not None and query.from_ > query.to:
            raise ApiError(422, "validation_error", "from: must not be after `to`", field="from")
        return HistoryResponse(reports=state.history(query.from_, query.to, query.limit))

    @routes.route(
        "GET",
        "/api/insights",
        role=Role.VIEWER,
        tag="ai",
        summary="Recent narratives and answers, newest first",
        query=LimitQuery,
        responses={200: InsightsResponse},
    )
    def insights(query: LimitQuery) -> InsightsResponse:
        return InsightsResponse(insights=state.recent_insights(query.limit))

    @routes.route(
        "GET",
        "/api/nodes",
        role=Role.VIEWER,
        tag="nodes",
        summary="Shard and oracle nodes: state, last event, where each shard is and each member stands",
        responses={200: NodesResponse},
    )
    def nodes() -> NodesResponse:
        """Shards from the shard registry (stage, layer ranges, replica, address, last heartbeat; a node whose record
        expired is down), oracle members from the committee's state (primary, reputation, exclusion), each with the
        last node event the API heard of it."""
        return NodesResponse(nodes=state.nodes())

    @routes.route(
        "GET",
        "/api/topology",
        role=Role.VIEWER,
        tag="nodes",
        summary="The shard pool by stage and replica, and the oracle committee with its primary",
        responses={200: TopologyResponse},
    )
    def topology() -> TopologyResponse:
        """The nodes of /api/nodes grouped: the shard pool's stages (layer range, the replicas serving it), the
        committee's id, f, quorum, and the view and primary of its latest decision."""
        return state.topology()

    @routes.route(
        "GET",
        "/api/oracle/results",
        role=Role.VIEWER,
        tag="oracle",
        summary="Recent attestations, newest first",
        query=LimitQuery,
        responses={200: OracleResultsResponse},
    )
    def oracle_results(query: LimitQuery) -> OracleResultsResponse:
        return OracleResultsResponse(results=state.oracle_results(query.limit))

    @routes.route(
        "GET",
        "/api/oracle/results/{job_id}",
        role=Role.VIEWER,
        tag="oracle",
        summary="One attestation with its certificate",
        responses={200: OracleResult, 404: None},
        path_params={"job_id": {"type": "string", "pattern": ID_PATTERN}},
    )
    def oracle_result(job_id: str) -> OracleResult:
        result = state.oracle_result(job_id)
        if result is None:
            raise ApiError(404, "not_found", f"no attestation for job {job_id!r}")
        return result

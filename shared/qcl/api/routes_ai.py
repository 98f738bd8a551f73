"""The AI endpoints: analyse a capture or a window, ask a question, the AI layer's status, the model registry.

Language: the body's `language`, else the language the question is written in (a question in English is answered in
English whatever the browser prefers), else the first supported one in Accept-Language (any zh-* reads as zh-TW,
the product's first language), else zh-TW. Answers are cached per (question, language, report) for
QCL_ANSWER_CACHE_TTL_S, so the same question about the same network state costs one model call.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import flask
import pybreaker

from qcl.analysis import analyze_capture, analyze_window
from qcl.analysis.report import AnalysisReport
from qcl.api.errors import ApiError, unavailable
from qcl.api.routing import ApiRoutes
from qcl.api.schemas import (
    AnalyzeRequest,
    AnalyzeResponse,
    BackendStatus,
    CaptureAnalysisRequest,
    GroupStatus,
    ModelsResponse,
    OracleStatus,
    QuestionRequest,
    QuestionTask,
    Role,
    StatusResponse,
)
from qcl.events import AIInsight, Language
from qcl.narrate.language import question_language
from qcl.obs import metrics
from qcl.qubic.capture import parse_line
from qcl.qubic.types import Observation
from qcl.store.keys import ANALYZER_WINDOW

if TYPE_CHECKING:
    from qcl.api.context import ApiContext


TASK_POLL_S = 0.2  # how often a streamed answer looks at its task on the board
TASK_GRACE_S = 5.0  # past the narrator's own deadline, for the bus and the task board


def language_of(given: Language | None, question: str | None = None) -> Language:
    if given is not None:
        return given
    if question is not None and (written := question_language(question)) is not None:
        return written
    for tag, _ in flask.request.accept_languages:  # best first
        tag = tag.lower()
        if tag.startswith("zh"):
            return "zh-TW"
        if tag.startswith("en"):
            return "en"
    return "zh-TW"


def model_error(exc: Exception) -> ApiError:
    """A narrator refusal as the client should see it: a bad field (422) or a busy model (503 + Retry-After)."""
    retry_after = getattr(exc, "retry_after_s", None)
    if retry_after is not None:
        return ApiError(503, "model_busy", str(exc), retry_after_s=float(retry_after))
    field = getattr(exc, "field", "question")
    return ApiError(422, "validation_error", str(exc), field=field)


def register(routes: ApiRoutes, ctx: ApiContext) -> None:
    services, state = ctx.services, ctx.state

    def narrate(report: AnalysisReport, language: Language) -> tuple[AIInsight | None, str | None]:
        if services.narrator is None:
            return None, "no narrator is configured for this API instance"
        try:
            return services.breakers.call("model", services.narrator.narrate, report, language), None
        except ApiError as exc:
            return None, exc.message
        except Exception as exc:
            raise model_error(exc) from None

    @routes.route(
        "POST",
        "/api/ai/analyze",
        role=Role.OPERATOR,
        tag="ai",
        summary="Analyse a capture or a stored window, with a grounded narrative",
        body=AnalyzeRequest,
        responses={200: AnalyzeResponse, 404: None},
    )
    def ai_analyze(body: AnalyzeRequest) -> AnalyzeResponse:
        """A capture: observations as capture lines (objects); unreadable ones become data_invalid findings, as
        with `qcl analyze`. A window: the analyzer's stored observations between `from` and `to`."""
        language = language_of(body.language)
        if isinstance(body, CaptureAnalysisRequest):
            items = [parse_line(json.dumps(obs), n) for n, obs in enumerate(body.observations, start=1)]
            result = analyze_capture(items, window_s=services.settings.window_s)
            report, findings, count, invalid = result.report, result.findings, result.observations, result.invalid
        else:
            window = body.window
            if window.from_ > window.to:
                raise ApiError(422, "validation_error", "window.from: must not be after window.to", field="window.from")
            lines = services.breakers.call(
                "store",
                services.store.window_range,
                ANALYZER_WINDOW.key(),
                window.from_.timestamp(),
                window.to.timestamp(),
            )
            if not lines:
                raise ApiError(404, "no_observations", "the analyzer holds no observations in that window")
            report = analyze_window([Observation.model_validate_json(line) for line in lines])
            findings, count, invalid = list(report.findings), len(lines), 0
        narrative, why_not = narrate(report, language)
        return AnalyzeResponse(
            report=report,
            findings=findings,
            observations=count,
            invalid=invalid,
            narrative=narrative,
            narrative_error=why_not,
        )

    @routes.route(
        "POST",
        "/api/ai/question",
        role=Role.OPERATOR,
        tag="ai",
        summary="Ask about the network; a grounded answer with sources and confidence",
        body=QuestionRequest,
        responses={200: AIInsight, 503: None},
        event_stream=True,
    )
    def ai_question(body: QuestionRequest) -> Any:
        """Answered about the newest analysis report, at once, with the composed answer (every figure a report
        value bound to its quantity). With `Accept: text/event-stream` the same endpoint streams Server-Sent
        Events: `answer` (the composed answer), then `delta` events carrying the model's phrasing sentence by
        sentence, each checked before it is sent, then `final` (the phrasing if it passed every check, else the
        composed answer with the reason). X-Cache says whether a JSON answer came from the cache."""
        language = language_of(body.language, body.question)
        report = state.latest_report()
        if services.narrator is None:
            raise unavailable("narrator", "no narrator is configured for this API instance")
        if flask.request.accept_mimetypes.best_match(["application/json", "text/event-stream"]) == "text/event-stream":
            return _event_stream(ctx, body.question, language, report)
        key = state.answer_key(body.question, language, report)
        cached = state.cached_answer(key)
        if cached is not None:
            metrics.CACHE_HITS.labels(cache="answers").inc()
            return cached, 200, {"X-Cache": "hit"}
        metrics.CACHE_MISSES.labels(cache="answers").inc()
        try:
            answer = services.narrator.answer
            insight = services.breakers.call("model", answer, body.question, language, report, phrase=False)
        except ApiError:
            raise
        except Exception as exc:
            raise model_error(exc) from None
        state.cache_answer(key, insight)
        return insight, 200, {"X-Cache": "miss"}

    @routes.route(
        "GET",
        "/api/ai/status",
        role=Role.VIEWER,
        tag="ai",
        summary="Models, queue, degraded flags, backends, shard pool and oracle, version",
        responses={200: StatusResponse},
    )
    def ai_status() -> StatusResponse:
        return _status(ctx)

    @routes.route(
        "GET",
        "/api/ai/models",
        role=Role.VIEWER,
        tag="ai",
        summary="The model registry",
        responses={200: ModelsResponse, 503: None},
    )
    def ai_models() -> ModelsResponse:
        if services.model_registry is None:
            raise unavailable("model_registry", "the model runtime is not installed in this API instance")
        return ModelsResponse(models=json.loads(json.dumps(services.model_registry(), default=str)))


def _event_stream(ctx: ApiContext, question: str, language: Language, report: AnalysisReport | None) -> Any:
    """Server-Sent Events of the answer; a field error is a 422 before the stream starts. With a model here the
    narrator phrases it in this process (Narrator.stream_answer); without one (the Cloud API image has no model
    runtime) the question goes to the narrator service as a task, as POST /api/tasks files it, and its answer is
    the final event: one path for every answer that a model phrases."""
    services = ctx.services
    narrator = services.narrator
    assert narrator is not None
    try:
        if narrator.status().get("mode") == "model" or services.bus is None:
            events = narrator.stream_answer(question, language, report, request_id=flask.g.request_id)
        else:
            events = _via_narrator_service(ctx, question, language, report)
        first = next(events)
    except ApiError:
        raise
    except Exception as exc:
        raise model_error(exc) from None

    def frames() -> Iterator[str]:
        for name, data in itertools.chain([first], events):
            yield f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return flask.Response(flask.stream_with_context(frames()), mimetype="text/event-stream", headers=headers)


def _via_narrator_service(
    ctx: ApiContext, question: str, language: Language, report: AnalysisReport | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The composed answer, then the narrator service's answer to the same question filed as a task."""
    from qcl.api.routes_tasks import submit_task_of

    services = ctx.services
    assert services.narrator is not None
    composed = services.narrator.answer(question, language, report, phrase=False)
    yield "answer", composed.model_dump(mode="json")
    task = submit_task_of(ctx, QuestionTask(kind="question", question=question, language=language))
    deadline = time.monotonic() + services.settings.narrate_deadline_s + TASK_GRACE_S
    why = f"narrator_service: no answer from the narrator service within {services.settings.narrate_deadline_s:g} s"
    while time.monotonic() < deadline:
        found = ctx.state.task(task.id)
        if found is not None and found.state == "done" and found.result:
            yield "final", found.result
            return
        if found is not None and found.state == "failed":
            why = f"narrator_service: {found.error.message if found.error else 'the task failed'}"
            break
        time.sleep(TASK_POLL_S)
    update = {"fallback_used": True, "fallback_reason": why}
    yield "final", composed.model_copy(update=update).model_dump(mode="json")


def _status(ctx: ApiContext) -> StatusResponse:
    services, state = ctx.services, ctx.state
    degraded: list[str] = []
    breakers = services.breakers.states()
    degraded += [f"breaker_open:{name}" for name, s in breakers.items() if s == pybreaker.STATE_OPEN]
    models = narrator = None
    queue_depth = None
    if services.generation is not None:
        models = _safe(services.generation.status, degraded, "model_status_failed")
        depth = (models or {}).get("queue_depth")
        queue_depth = int(depth) if isinstance(depth, int | float) else None
    if services.narrator is not None:
        narrator = _safe(services.narrator.status, degraded, "narrator_status_failed")
    mode = services.narration_mode()
    if mode == "absent":
        degraded.append("narrator_absent")
    elif mode == "templates":
        degraded.append("narration_templates_only")
    try:
        store_ok = services.store.ping()
    except Exception:
        store_ok = False
    latest = nodes = None
    results, last_job = 0, None
    if store_ok:
        try:
            latest = state.latest_report()
            nodes = state.nodes()
            recent = state.oracle_results(1)
            results, last_job = state.oracle_result_count(), (recent[0].job_id if recent else None)
        except ApiError:
            store_ok = False
    if not store_ok:
        degraded.append("store_unreachable")
    if store_ok and latest is None:
        degraded.append("no_analysis_yet")
    shards = [n for n in nodes or [] if n.role == "shard"]
    oracles = [n for n in nodes or [] if n.role == "oracle"]
    if any(n.state == "down" for n in nodes or []):
        degraded.append("nodes_down")
    bus_ok = services.bus is not None and breakers["bus"] != pybreaker.STATE_OPEN
    return StatusResponse(
        version=services.version,
        uptime_s=round(services.now().timestamp() - services.started_at, 1),
        narration=mode,
        degraded=degraded,
        models=models,
        narrator=narrator,
        queue_depth=queue_depth,
        bus=BackendStatus(backend=services.bus.backend if services.bus else "none", reachable=bus_ok),
        store=BackendStatus(backend=services.store.backend, reachable=store_ok),
        breakers=breakers,
        shard_pool=GroupStatus(up=sum(n.state == "up" for n in shards), total=len(shards)),
        oracle=OracleStatus(
            nodes=GroupStatus(up=sum(n.state == "up" for n in oracles), total=len(oracles)),
            results=results,
            last_result_job=last_job,
        ),
        latest_analysis_at=latest.observed_at if latest else None,
    )


def _safe(status: Any, degraded: list[str], flag: str) -> dict[str, Any] | None:
    try:
        value = status()
    except Exception:
        degraded.append(flag)
        return None
    return json.loads(json.dumps(value, default=str)) if isinstance(value, dict) else None

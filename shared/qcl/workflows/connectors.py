"""Connectors: the calls a workflow makes out of itself. `qcl.*` reach our services in-process; `http.*` the web.

    connectors = LocalConnectors(store=store, bus=bus, narrator=narrator, generation=generation)
    connectors.call("qcl.narrate", {"report": report_json, "language": "en"})   # an AIInsight as JSON

| call         | args                                                   | returns                               |
|--------------|--------------------------------------------------------|---------------------------------------|
| qcl.analyze  | from?, to? (RFC 3339 or Unix s), epoch?                | the analysis report of those observations |
| qcl.narrate  | report, language (zh-TW / en)                          | the narrative (AIInsight)             |
| qcl.ask      | question, language?, report? (default: the latest)      | the answer (AIInsight)                |
| qcl.oracle   | task (analysis.*), from?, to?                          | the filed job {job_id, sequence, spec} |
| qcl.complete | prompt or messages, max_tokens?, temperature?, stop?   | {text, tokens, finish_reason, model}  |
| qcl.notify   | message, severity?, data?                              | {event_id} (on workflow-events)       |
| http.get/post/put/delete/request | url, method?, headers?, query?, body?, timeout?, auth? | {code, headers, body} |

http.* never calls the cloud metadata server or a link-local address, directly or through a redirect (qcl.egress).

Failures are Workflows errors shaped like the HTTP errors the same call raises on Cloud Workflows (where each
qcl.* call is an http.post to the API, see gcp.py): `{"message", "tags": ["HttpError"], "code", "body"}`, with
400 for bad arguments, 404 for missing data and 503 for a missing service, so retry predicates such as
`${http.default_retry}` behave the same in both places.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from pydantic import ValidationError

from qcl.analysis import AnalysisReport, analyze_window, check_consistency
from qcl.bus.base import Bus
from qcl.egress import EgressRefused, egress_client, refusal
from qcl.events import WORKFLOW_EVENTS, WorkflowEvent
from qcl.qubic.types import Observation
from qcl.store.base import Store
from qcl.store.keys import ANALYSIS_LATEST, ANALYZER_WINDOW
from qcl.workflows.errors import WorkflowRaised, raised

log = logging.getLogger(__name__)

QCL_CONNECTORS = ("qcl.analyze", "qcl.narrate", "qcl.ask", "qcl.oracle", "qcl.complete", "qcl.notify")
HTTP_CONNECTORS = ("http.get", "http.post", "http.put", "http.delete", "http.patch", "http.request")


class Narrating(Protocol):
    def narrate(self, report: AnalysisReport, language: Any) -> Any: ...

    def answer(self, question: str, language: Any, report: AnalysisReport | None) -> Any: ...


def http_error(code: int, message: str) -> WorkflowRaised:
    return raised("HttpError", message, code=code, body={"error": message})


class LocalConnectors:
    """Connectors over the services of this process; absent services answer 503 when called, not at deploy."""

    names = frozenset(QCL_CONNECTORS + HTTP_CONNECTORS)

    def __init__(
        self,
        *,
        store: Store,
        bus: Bus | None = None,
        narrator: Narrating | None = None,
        generation: Any = None,
        http: httpx.Client | None = None,
        source: str = "//qcl/workflows",
    ) -> None:
        self.store, self.bus, self.narrator, self.generation = store, bus, narrator, generation
        self.http = http or egress_client(timeout=30.0, follow_redirects=True)
        self.source = source
        self.context: dict[str, Any] = {}  # the execution calling (set per call by the service)

    def available(self) -> dict[str, str | None]:
        """Each qcl.* connector and why it cannot run here (None: it can)."""
        needs = {
            "qcl.narrate": (self.narrator, "no narrator is running in this process"),
            "qcl.ask": (self.narrator, "no narrator is running in this process"),
            "qcl.oracle": (self.bus, "no event bus is configured for this process"),
            "qcl.notify": (self.bus, "no event bus is configured for this process"),
            "qcl.complete": (self.generation, "no model is running in this process"),
        }
        return {name: (needs[name][1] if name in needs and needs[name][0] is None else None) for name in QCL_CONNECTORS}

    def call(self, name: str, args: dict[str, Any], *, context: Mapping[str, Any] | None = None) -> Any:
        if name.startswith("http."):
            return self._http(name.removeprefix("http."), args)
        handler = getattr(self, "_" + name.removeprefix("qcl."), None)
        if name not in QCL_CONNECTORS or handler is None:
            raise http_error(404, f"unknown connector {name!r}")
        try:
            return handler(args, dict(context or {}))
        except (ValueError, TypeError) as exc:  # arguments of the wrong shape (pydantic's errors are ValueErrors)
            raise http_error(400, f"{name}: invalid arguments: {exc}") from None

    # -- qcl.* ---------------------------------------------------------------------------------------------------------

    def _analyze(self, args: dict[str, Any], context: dict[str, Any]) -> Any:
        start, end = _when(args.get("from"), "from", float("-inf")), _when(args.get("to"), "to", float("inf"))
        observations = [
            Observation.model_validate_json(line) for line in self.store.window_range(ANALYZER_WINDOW.key(), start, end)
        ]
        epoch = args.get("epoch")
        if epoch is not None:
            if not isinstance(epoch, int) or isinstance(epoch, bool):
                raise http_error(400, f"epoch: must be an integer, got {epoch!r}")
            observations = [o for o in observations if o.stats.epoch == epoch]
        consistent: list[Observation] = []
        for observation in observations:  # as the analyzer does: skip what contradicts the window so far
            if check_consistency(consistent, observation) is None:
                consistent.append(observation)
        if not consistent:
            raise http_error(404, "no stored observations in that window (is the analyzer running?)")
        return analyze_window(consistent).model_dump(mode="json")

    def _report(self, raw: Any) -> AnalysisReport | None:
        if raw is None:
            latest = self.store.get(ANALYSIS_LATEST.key())
            return None if latest is None else AnalysisReport.model_validate_json(latest)
        try:
            return AnalysisReport.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise http_error(400, f"report.{where}: {first['msg']}") from None

    def _narrate(self, args: dict[str, Any], context: dict[str, Any]) -> Any:
        narrator = self._narrator()
        report = self._report(args.get("report"))
        if report is None:
            raise http_error(404, "report: none given and the analyzer has none yet")
        language = _language(args.get("language", "zh-TW"))
        return narrator.narrate(report, language).model_dump(mode="json")

    def _ask(self, args: dict[str, Any], context: dict[str, Any]) -> Any:
        narrator = self._narrator()
        question = args.get("question")
        if not isinstance(question, str) or not question.strip():
            raise http_error(400, "question: a non-empty string is required")
        report = self._report(args.get("report"))
        try:
            return narrator.answer(question, _language(args.get("language", "zh-TW")), report).model_dump(mode="json")
        except ValueError as exc:  # QuestionError and friends name the field
            raise http_error(400, str(exc)) from None

    def _oracle(self, args: dict[str, Any], context: dict[str, Any]) -> Any:
        from qcl.oracle.errors import JobError
        from qcl.oracle.jobs import analysis_spec
        from qcl.oracle.scheduler import submit_job

        bus = self._bus()
        task = args.get("task", "analysis.health_score")
        start, end = _when(args.get("from"), "from", float("-inf")), _when(args.get("to"), "to", float("inf"))
        lines = self.store.window_range(ANALYZER_WINDOW.key(), start, end)
        if not lines:
            raise http_error(404, "no stored observations in that window for the oracle to certify")
        blob = ("\n".join(lines) + "\n").encode()
        try:
            spec = analysis_spec(str(task), blob, subject=args.get("subject"))
        except JobError as exc:
            raise http_error(400, f"task: {exc}") from None
        request = submit_job(bus, self.store, spec, blob, source=self.source)
        return request.model_dump(mode="json")

    def _complete(self, args: dict[str, Any], context: dict[str, Any]) -> Any:
        from qcl.model.errors import ModelBusyError, ModelUnavailableError
        from qcl.model.params import GenerationParams

        if self.generation is None:
            raise http_error(503, "qcl.complete: no model is running in this process")
        messages = args.get("messages")
        if messages is None:
            prompt = args.get("prompt")
            if not isinstance(prompt, str) or not prompt:
                raise http_error(400, "prompt: a non-empty string is required (or messages)")
            messages = [{"role": "user", "content": prompt}]
        try:
            params = GenerationParams(
                max_new_tokens=int(args.get("max_tokens", 64)),
                temperature=float(args.get("temperature", 0.0)),
                stop=tuple(args.get("stop") or ()),
                priority="standard",  # a workflow step: after people, before batch jobs and background narration
            )
            result = self.generation.generate(messages, params)
        except ModelBusyError as exc:
            raise http_error(503, f"the model is busy: {exc}") from None
        except ModelUnavailableError as exc:
            raise http_error(503, f"the model is unavailable: {exc}") from None
        except (ValueError, TypeError) as exc:
            raise http_error(400, str(exc)) from None
        return {
            "text": result.text,
            "tokens": result.tokens,
            "finish_reason": result.finish_reason,
            "model": result.model,
        }

    def _notify(self, args: dict[str, Any], context: dict[str, Any]) -> Any:
        bus = self._bus()
        try:
            event = WorkflowEvent(
                workflow=str(context.get("workflow", "adhoc")),
                execution_id=str(context.get("execution_id", uuid.uuid4().hex)),
                revision=int(context.get("revision", 1)),
                severity=args.get("severity", "info"),
                message=args.get("message", ""),
                data=args.get("data"),
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            raise http_error(400, f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
        envelope = WORKFLOW_EVENTS.event(event, source=self.source, subject=f"workflow/{event.workflow}")
        bus.publish(WORKFLOW_EVENTS, envelope)
        return {"event_id": envelope.id}

    def _narrator(self) -> Narrating:
        if self.narrator is None:
            raise http_error(503, "no narrator is running in this process")
        return self.narrator

    def _bus(self) -> Bus:
        if self.bus is None:
            raise http_error(503, "no event bus is configured for this process")
        return self.bus

    # -- http.* --------------------------------------------------------------------------------------------------------

    def _http(self, verb: str, args: dict[str, Any]) -> Any:
        method = str(args.get("method", "GET")).upper() if verb == "request" else verb.upper()
        url = args.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise raised("ValueError", f"http.{verb}: url must be an http(s) URL, got {url!r}")
        why = refusal(url)  # here too for a client given by the caller; the default one checks redirects as well
        if why:
            raise raised("ValueError", f"http.{verb}: refused to call {url}: {why}")
        body = args.get("body")
        try:
            response = self.http.request(
                method,
                url,
                params=args.get("query"),
                headers={str(k): str(v) for k, v in (args.get("headers") or {}).items()},
                json=body if body is not None and not isinstance(body, str) else None,
                content=body if isinstance(body, str) else None,
                timeout=float(args.get("timeout", 30.0)),
            )
        except EgressRefused as exc:  # a redirect to a forbidden address
            raise raised("ValueError", f"http.{verb} {url}: {exc}") from None
        except httpx.TimeoutException as exc:
            raise raised("TimeoutError", f"http.{verb} {url}: timed out ({exc})") from None
        except httpx.HTTPError as exc:
            raise raised("ConnectionError", f"http.{verb} {url}: {exc}") from None
        try:
            decoded: Any = response.json() if "json" in response.headers.get("content-type", "") else response.text
        except json.JSONDecodeError:
            decoded = response.text
        answer = {"code": response.status_code, "headers": dict(response.headers), "body": decoded}
        if response.status_code >= 400:
            raise raised("HttpError", f"HTTP server responded with error code {response.status_code}", **answer)
        return answer


def _language(value: Any) -> Any:
    if value not in ("zh-TW", "en"):
        raise http_error(400, f"language: must be zh-TW or en, got {value!r}")
    return value


def _when(value: Any, field: str, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).timestamp()
        except ValueError:
            pass
    raise http_error(400, f"{field}: an RFC 3339 time or Unix seconds, got {value!r}")

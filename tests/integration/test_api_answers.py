"""The question endpoint with the real narrator: the composed answer at once, and Server-Sent Events that send the
model's phrasing only sentence by sentence after each sentence passed the checks."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from qcl.analysis import analyze_capture
from qcl.analysis.report import AnalysisReport
from qcl.api import context
from qcl.api.schemas import Role
from qcl.model.params import GenerationParams
from qcl.narrate.questions import QuestionMatcher
from qcl.narrate.service import Narrator
from qcl.pipeline.analyzer import LATEST_KEY
from qcl.pipeline.narrator import NarratorService
from qcl.qubic.capture import read_capture
from qcl.qubic.synth import sample_capture_path
from tests.integration.test_api_fixtures import Api, ingesting_api, make_api


@cache
def final_report() -> AnalysisReport:
    return analyze_capture(read_capture(sample_capture_path())).report  # market cap 148,050,688 USD


@dataclass
class Reply:
    text: str
    finish_reason: str = "stop"
    tokens: int = 3


@dataclass
class StreamingModel:
    """Streams `reply` in small pieces, as the generation service does, and records each request."""

    reply: str
    model_id: str = "streaming-model"
    calls: list[GenerationParams] = field(default_factory=list)

    def generate(self, messages: Sequence[Mapping[str, str]], params: GenerationParams) -> Reply:
        self.calls.append(params)
        return Reply(self.reply)

    def stream(self, messages: Sequence[Mapping[str, str]], params: GenerationParams) -> Iterator[str]:
        self.calls.append(params)
        for start in range(0, len(self.reply), 7):
            yield self.reply[start : start + 7]


def answering_api(tmp_path: Path, model: StreamingModel | None) -> Api:
    narrator = Narrator(model, matcher=QuestionMatcher(encoder=None), writes=("en",))
    api = make_api(tmp_path, narrator=narrator)
    api.store.put(LATEST_KEY, final_report().model_dump_json())
    return api


def events(api: Api, question: str, language: str = "en") -> list[tuple[str, dict[str, Any]]]:
    headers = api.headers(Role.OPERATOR, Accept="text/event-stream")
    response = api.client.post("/api/ai/question", headers=headers, json={"question": question, "language": language})
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    found = []
    for frame in response.get_data(as_text=True).strip().split("\n\n"):
        name, data = (line.split(": ", 1)[1] for line in frame.splitlines())
        found.append((name, json.loads(data)))
    return found


def test_the_json_answer_is_the_composed_one_without_waiting_for_the_model(tmp_path: Path) -> None:
    model = StreamingModel("The market cap is 148,050,688 USD.")
    api = answering_api(tmp_path, model)
    response = api.client.post(
        "/api/ai/question", headers=api.headers(Role.OPERATOR), json={"question": "市值多少？", "language": "zh-TW"}
    )
    assert response.status_code == 200 and model.calls == []
    assert response.json["text"] == "市值為 148,050,688 美元（約 1.48 億美元）。"


def test_the_stream_sends_the_composed_answer_then_checked_sentences_then_the_final_answer(tmp_path: Path) -> None:
    model = StreamingModel("The market cap is 148,050,688 USD. In words, the market cap is about 148.05 million USD.")
    got = events(answering_api(tmp_path, model), "What's the market cap?")
    assert [name for name, _ in got] == ["answer", "delta", "delta", "final"]
    assert got[0][1]["text"] == "The market cap is 148,050,688 USD (about 148.05 million USD)."
    assert got[1][1] == {"text": "The market cap is 148,050,688 USD."}
    assert got[-1][1]["model"] == "streaming-model" and got[-1][1]["grounded"] is True
    assert model.calls[0].max_new_tokens > 0


def test_a_sentence_that_fails_the_check_is_never_sent_and_what_was_sent_stands(tmp_path: Path) -> None:
    model = StreamingModel("The market cap is 148,050,688 USD. Also 148,050,688 QU were burned.")
    got = events(answering_api(tmp_path, model), "What's the market cap?")
    assert [name for name, _ in got] == ["answer", "delta", "final"]
    final = got[-1][1]
    assert final["model"] == "streaming-model" and final["text"] == "The market cap is 148,050,688 USD."
    assert "burned" not in json.dumps([data for _, data in got[1:]])


def test_a_language_the_model_does_not_write_streams_no_model_text(tmp_path: Path) -> None:
    model = StreamingModel("市值為 148,050,688 美元。")
    got = events(answering_api(tmp_path, model), "市值多少？", "zh-TW")
    assert [name for name, _ in got] == ["answer", "final"] and model.calls == []
    assert got[-1][1]["fallback_reason"].startswith("language_unsupported: streaming-model")


def test_a_forecast_is_declined_on_the_stream_too(tmp_path: Path) -> None:
    model = StreamingModel("The price will double.")
    got = events(answering_api(tmp_path, model), "Will the price rise tomorrow?")
    assert [name for name, _ in got] == ["answer", "final"] and model.calls == []
    assert got[0][1]["text"].startswith("I can't predict where the price")


@pytest.mark.parametrize("question", ["", "x" * 501, "price\u0000?"])
def test_a_bad_question_on_the_stream_is_a_422_before_any_event(tmp_path: Path, question: str) -> None:
    api = answering_api(tmp_path, None)
    headers = api.headers(Role.OPERATOR, Accept="text/event-stream")
    response = api.client.post("/api/ai/question", headers=headers, json={"question": question})
    assert response.status_code == 422 and response.json["error"]["field"] == "question"


# --- without a model in the API process, the narrator service phrases the streamed answer --------------------------


@pytest.fixture
def cloud_shaped(tmp_path: Path) -> Iterator[tuple[Api, StreamingModel]]:
    """An API without a model runtime (templates here, like the Cloud image) and a narrator service with a model."""
    model = StreamingModel("The market cap is 148,050,688 USD.")
    with ingesting_api(tmp_path, narrator=Narrator(None, matcher=QuestionMatcher(encoder=None))) as api:
        api.store.put(LATEST_KEY, final_report().model_dump_json())
        narrator = Narrator(model, matcher=QuestionMatcher(encoder=None), writes=("en",))
        subscriptions = NarratorService(api.bus, api.store, narrator, name="//narrator").subscribe()
        yield api, model
        for subscription in subscriptions:
            subscription.close()


def test_the_stream_without_a_local_model_ends_with_the_narrator_services_answer(
    cloud_shaped: tuple[Api, StreamingModel],
) -> None:
    api, model = cloud_shaped
    got = events(api, "What's the market cap?")
    assert [name for name, _ in got] == ["answer", "final"]
    assert got[0][1]["model"] == "template"
    assert got[-1][1]["text"] == "The market cap is 148,050,688 USD." and got[-1][1]["model"] == "streaming-model"
    assert len(model.calls) == 1
    tasks = [entry for entry in context(api.app).log.read_after(0) if entry["type"] == "task"]
    assert tasks and tasks[-1]["data"]["request"]["question"] == "What's the market cap?"


def test_a_sentence_without_a_figure_waits_for_the_one_that_brings_it(tmp_path: Path) -> None:
    model = StreamingModel("Good question. The market cap is 148,050,688 USD.")
    got = events(answering_api(tmp_path, model), "What's the market cap?")
    assert [name for name, _ in got] == ["answer", "delta", "final"]
    assert got[1][1] == {"text": "Good question. The market cap is 148,050,688 USD."}


def test_a_reply_that_never_states_the_asked_figure_sends_nothing(tmp_path: Path) -> None:
    model = StreamingModel("The network is healthy. Nothing is wrong.")
    got = events(answering_api(tmp_path, model), "What's the market cap?")
    assert [name for name, _ in got] == ["answer", "final"]
    assert got[-1][1]["fallback_reason"].startswith("ungrounded: no figure")


def test_the_stream_carries_the_request_id(tmp_path: Path) -> None:
    api = answering_api(tmp_path, StreamingModel("The market cap is 148,050,688 USD."))
    headers = api.headers(Role.OPERATOR, Accept="text/event-stream", **{"X-Request-Id": "ask-1"})
    response = api.client.post("/api/ai/question", headers=headers, json={"question": "market cap?", "language": "en"})
    assert '"request_id": "ask-1"' in response.get_data(as_text=True)


def test_without_a_model_the_stream_says_so() -> None:
    narrator = Narrator(None, matcher=QuestionMatcher(encoder=None))
    got = list(narrator.stream_answer("What's the market cap?", "en", final_report()))
    assert [name for name, _ in got] == ["answer", "final"]
    assert got[-1][1]["fallback_reason"].startswith("templates_only: no model configured")

"""The official `openai` client, unchanged, against the API on a real server over loopback (tiny model).

Listing models, chat and text completions (plain and streamed), sampling parameters, the errors OpenAI's client
turns into its exceptions, and a client that disconnects mid-stream cancelling its generation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from qcl.api import build_services, create_app
from qcl.api.schemas import Role
from qcl.api.server import ApiServer
from qcl.bus.memory import MemoryBus
from qcl.config import load_settings
from qcl.model.loading import LoadedModel, load_model
from qcl.model.service import GenerationService
from qcl.shard.errors import ShardError
from qcl.store.memory import MemoryStore
from tests.integration.test_api_fixtures import api_settings

# One worker runs this module (pytest-xdist --dist loadgroup), so its module-scoped model loads once.
pytestmark = pytest.mark.xdist_group("api_openai")

MODEL = "tiny-random-llama"
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello to the Qubic network."}]


@dataclass
class Served:
    server: ApiServer
    generation: GenerationService
    keys: dict[Role, str]

    def client(self, role: Role = Role.OPERATOR, key: str | None = None) -> OpenAI:
        return OpenAI(base_url=f"{self.server.url}/v1", api_key=key or self.keys[role], max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    return load_model(MODEL, load_settings(model_cache_dir=tmp_path_factory.mktemp("models")), progress=None)


@pytest.fixture(scope="module")
def served(tiny: LoadedModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # No result cache: a streamed answer after the same greedy request is decoded again, not replayed in one piece.
    with GenerationService(tiny, result_cache=0) as generation:
        settings = api_settings(tmp_path_factory.mktemp("api"))
        services = build_services(settings, store=MemoryStore(), bus=MemoryBus(), generation=generation)
        keys = {role: services.keys.create(role, f"test {role.value}", created_by="test")[1] for role in Role}
        server = ApiServer(create_app(services, start_stream=False), "127.0.0.1", 0, grace_s=3)
        server.start()
        yield Served(server, generation, keys)
        server.stop()


def _wait_until(condition: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"condition not reached within {timeout_s} s"
        time.sleep(0.01)


def test_the_client_lists_the_served_model(served: Served) -> None:
    client = served.client(Role.VIEWER)
    assert [model.id for model in client.models.list()] == [MODEL]
    assert client.models.retrieve(MODEL).owned_by == "qcl"


def test_a_chat_completion_counts_its_tokens_and_says_why_it_stopped(served: Served) -> None:
    answer = served.client().chat.completions.create(model=MODEL, messages=HELLO, max_tokens=5, temperature=0)
    choice = answer.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason == "length"
    assert answer.usage is not None and answer.usage.completion_tokens == 5
    assert answer.usage.prompt_tokens > 0
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + 5
    assert answer.model == MODEL and answer.id.startswith("chatcmpl-")


def test_a_streamed_chat_completion_joins_to_the_same_text_as_the_plain_one(served: Served) -> None:
    client = served.client()
    plain = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=12, temperature=0)
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=HELLO,
            max_tokens=12,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    with_choices = [chunk for chunk in chunks if chunk.choices]
    assert with_choices[0].choices[0].delta.role == "assistant"
    assert len(with_choices) > 3  # role, several deltas, finish: streamed, not sent in one piece
    assert "".join(c.choices[0].delta.content or "" for c in with_choices) == plain.choices[0].message.content
    assert [c.choices[0].finish_reason for c in with_choices][-1] == "length"
    assert len({chunk.id for chunk in chunks}) == 1
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 12


def test_a_completion_continues_a_raw_prompt_plain_and_streamed(served: Served) -> None:
    client = served.client()
    plain = client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=8, temperature=0)
    assert plain.object == "text_completion" and plain.choices[0].finish_reason == "length"
    assert plain.usage is not None and plain.usage.completion_tokens == 8
    chat = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Once upon a time"}], max_tokens=8, temperature=0
    )
    assert chat.usage is not None
    assert plain.usage.prompt_tokens < chat.usage.prompt_tokens  # the raw prompt, without the chat template
    streamed = client.completions.create(
        model=MODEL, prompt=["Once upon a time"], max_tokens=8, temperature=0, stream=True
    )
    assert "".join(chunk.choices[0].text for chunk in streamed) == plain.choices[0].text


def test_a_stop_sequence_cuts_the_text_and_finishes_with_stop(served: Served) -> None:
    client = served.client()
    full = client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=30, temperature=0)
    text = full.choices[0].text
    stop = text[len(text) // 2 : len(text) // 2 + 3]
    cut = client.completions.create(
        model=MODEL, prompt="Once upon a time", max_tokens=30, temperature=0, stop=[stop, "\x00never"]
    )
    assert cut.choices[0].finish_reason == "stop"
    assert cut.choices[0].text == text[: text.index(stop)]


def test_a_seed_makes_sampling_repeatable(served: Served) -> None:
    client = served.client()

    def sample(seed: int) -> str:
        answer = client.chat.completions.create(
            model=MODEL, messages=HELLO, max_tokens=16, temperature=1.2, top_p=0.95, seed=seed, user="tester"
        )
        return answer.choices[0].message.content or ""

    assert sample(7) == sample(7)
    assert sample(7) != sample(8)


def test_top_p_zero_is_greedy(served: Served) -> None:
    client = served.client()

    def text(temperature: float, top_p: float) -> str:
        answer = client.chat.completions.create(
            model=MODEL, messages=HELLO, max_tokens=12, temperature=temperature, top_p=top_p
        )
        return answer.choices[0].message.content or ""

    assert text(temperature=1.5, top_p=0) == text(temperature=0, top_p=1)


def test_an_unknown_model_is_a_not_found_error_naming_the_model(served: Served) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        served.client().chat.completions.create(model="gpt-4o", messages=HELLO)
    assert caught.value.code == "model_not_found" and caught.value.param == "model"
    assert caught.value.type == "invalid_request_error"


def test_more_than_one_choice_is_a_bad_request_naming_n(served: Served) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        served.client().chat.completions.create(model=MODEL, messages=HELLO, n=2)
    assert caught.value.param == "n" and "only n=1" in caught.value.message


def test_an_unknown_key_is_an_authentication_error(served: Served) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        served.client(key="qcl_not-a-key").models.list()
    assert caught.value.code == "invalid_api_key"


def test_a_viewer_key_may_list_models_but_not_generate(served: Served) -> None:
    viewer = served.client(Role.VIEWER)
    assert viewer.models.list().data
    with pytest.raises(openai.PermissionDeniedError) as caught:
        viewer.chat.completions.create(model=MODEL, messages=HELLO)
    assert "operator" in caught.value.message


def test_a_client_that_disconnects_mid_stream_cancels_its_generation(served: Served) -> None:
    status = served.generation.status
    cancelled_before, served_before = status()["requests_cancelled"], status()["requests_served"]
    body = {"model": MODEL, "messages": HELLO, "max_tokens": 1500, "temperature": 0, "stream": True}
    headers = {"Authorization": f"Bearer {served.keys[Role.OPERATOR]}"}
    events = 0
    with (
        httpx.Client(timeout=30) as http,
        http.stream("POST", f"{served.server.url}/v1/chat/completions", json=body, headers=headers) as response,
    ):
        for line in response.iter_lines():
            events += line.startswith("data: ")
            if events == 4:  # the role chunk and three deltas: generation is under way
                break
    # The connection is closed here. Without cancellation the model would go on to decode all 1,500 tokens and
    # the request would end as served with finish_reason "length"; it stops at its next token instead.
    _wait_until(lambda: status()["requests_cancelled"] == cancelled_before + 1 and not status()["busy"])
    assert status()["requests_served"] == served_before + 1


def test_a_model_failure_mid_stream_reaches_the_client_as_an_error_event(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = served.generation._runner
    take = runner._take
    taken: list[int] = []

    def failing_take(row: Any, token: int) -> None:  # the model's fourth token fails, as a lost shard would
        taken.append(token)
        if len(taken) == 4:
            raise ShardError("stage 1 went away")
        take(row, token)

    monkeypatch.setattr(runner, "_take", failing_take)
    stream = served.client().chat.completions.create(
        model=MODEL, messages=HELLO, max_tokens=50, temperature=0, stream=True
    )
    received: list[str] = []
    with pytest.raises(openai.APIError, match="generation failed: stage 1 went away"):
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert len(received) >= 2  # the stream had started: the error came as an event, not as a status

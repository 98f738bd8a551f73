"""The /v1 routes over the shard pool (`qcl up --shards 2`: two stage processes, real gRPC), with the openai client.

The same answer as one node (greedy), streamed; and a client that disconnects cancels its pipeline session.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from openai import OpenAI

from qcl.api.schemas import Role
from qcl.api.server import ApiServer
from qcl.config import Settings, load_settings
from qcl.model.loading import load_model
from qcl.model.service import GenerationParams, GenerationService
from qcl.shard.coordinator import ShardedModel, open_local_sharded_model
from qcl.store.memory import MemoryStore
from tests.integration.test_api_fixtures import Api, make_api

# Stage-process pools run one at a time, on one worker (pytest-xdist --dist loadgroup): each is several model processes.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stage-pools")]  # starts two stage processes

MODEL = "tiny-random-qwen2"
QUESTION = "How healthy is the network?"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("shard")
    return load_settings(model=MODEL, model_cache_dir=root / "models", state_dir=root / "state", shard_threads=1)


@pytest.fixture(scope="module")
def sharded(settings: Settings) -> Iterator[ShardedModel]:
    model = open_local_sharded_model(
        settings.model_copy(update={"model_result_cache": 0}), store=MemoryStore(), stages=2
    )
    yield model
    model.close()


@pytest.fixture(scope="module")
def served(sharded: ShardedModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, ApiServer]]:
    api = make_api(tmp_path_factory.mktemp("api"), generation=sharded)
    server = ApiServer(api.app, "127.0.0.1", 0, grace_s=3)
    server.start()
    yield api, server
    server.stop()


def test_a_streamed_chat_completion_over_the_pool_is_the_single_nodes_answer(
    served: tuple[Api, ApiServer], settings: Settings
) -> None:
    api, server = served
    client = OpenAI(base_url=f"{server.url}/v1", api_key=api.keys[Role.OPERATOR], max_retries=0)
    chunks = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": QUESTION}], max_tokens=16, temperature=0, stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    with GenerationService(load_model(MODEL, settings, progress=None), result_cache=0) as single:
        assert text == single.generate(QUESTION, GenerationParams(max_new_tokens=16)).text


def test_a_client_that_disconnects_cancels_its_pipeline_session(
    served: tuple[Api, ApiServer], sharded: ShardedModel
) -> None:
    api, server = served
    before = sharded.status()["requests_cancelled"]
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": QUESTION}],
        "max_tokens": 1500,
        "temperature": 0,
        "stream": True,
    }
    with (
        httpx.Client(timeout=30) as http,
        http.stream("POST", f"{server.url}/v1/chat/completions", json=body, headers=api.headers(Role.OPERATOR)) as r,
    ):
        events = 0
        for line in r.iter_lines():
            events += line.startswith("data: ")
            if events == 4:
                break
    deadline = time.monotonic() + 30
    while sharded.status()["requests_cancelled"] == before or sharded.status()["busy"]:
        assert time.monotonic() < deadline, "the pipeline session was not cancelled"
        time.sleep(0.02)

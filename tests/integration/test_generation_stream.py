"""The generation service's open_stream(): deltas then the result, raw prompts, and cancellation by close()."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qcl.config import load_settings
from qcl.model.errors import ContextLengthError, GenerationCancelledError
from qcl.model.loading import LoadedModel, load_model
from qcl.model.service import GenerationParams, GenerationService, RawPrompt

# One worker runs this module (pytest-xdist --dist loadgroup), so its module-scoped model loads once.
pytestmark = pytest.mark.xdist_group("generation_stream")

LONG = GenerationParams(max_new_tokens=1500, ban_eos=True)  # seconds of decoding on the tiny model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    settings = load_settings(model_cache_dir=tmp_path_factory.mktemp("models"))
    return load_model("tiny-random-llama", settings, progress=None)


@pytest.fixture
def service(tiny: LoadedModel) -> Iterator[GenerationService]:
    with GenerationService(tiny, max_batch=1, batch_window_ms=0, result_cache=0) as running:
        yield running


def test_the_deltas_join_to_the_result_which_carries_usage(service: GenerationService) -> None:
    stream = service.open_stream("Hello", GenerationParams(max_new_tokens=10, ban_eos=True))
    text = "".join(stream)
    result = stream.result()
    assert text == result.text and result.tokens == 10 and result.prompt_tokens > 0


def test_a_raw_prompt_skips_the_chat_template(service: GenerationService) -> None:
    params = GenerationParams(max_new_tokens=4)
    raw, chat = service.generate(RawPrompt("Hello"), params), service.generate("Hello", params)
    assert raw.prompt_tokens < chat.prompt_tokens


def test_a_context_overflow_says_how_many_tokens_the_prompt_has(service: GenerationService) -> None:
    with pytest.raises(ContextLengthError) as caught:
        service.generate(RawPrompt("Hello"), GenerationParams(max_new_tokens=2048))
    assert caught.value.context_length == 2048 and caught.value.prompt_tokens >= 1


def test_closing_a_stream_mid_generation_stops_it(service: GenerationService) -> None:
    stream = service.open_stream("Hello", LONG)
    deltas = iter(stream)
    next(deltas)
    stream.close()
    with pytest.raises(GenerationCancelledError):  # finished, it would have answered with its 1,500 tokens
        stream.result()
    assert service.status()["requests_cancelled"] == 1


def test_a_stream_closed_while_queued_is_cancelled(service: GenerationService) -> None:
    running = service.open_stream("First", LONG)
    next(iter(running))  # the worker is busy with it (max_batch 1)
    queued = service.open_stream("Second", LONG)
    queued.close()
    running.close()
    with pytest.raises(GenerationCancelledError):
        queued.result()
    assert service.status()["requests_cancelled"] == 2

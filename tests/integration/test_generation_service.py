"""The generation service on the tiny models: parameters, stops, deadlines, the bounded queue, batching, caching."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from qcl.config import load_settings
from qcl.model.errors import (
    GenerationDeadlineError,
    InvalidGenerationRequestError,
    ModelBusyError,
    ModelUnavailableError,
    UnknownModelError,
)
from qcl.model.loading import LoadedModel, load_model
from qcl.model.service import GenerationParams, GenerationResult, GenerationService, load_service
from qcl.model.steps import greedy_tokens

# One worker runs this module (pytest-xdist --dist loadgroup), so its module-scoped model loads once.
pytestmark = pytest.mark.xdist_group("generation_service")

PROMPTS = [
    "What is the health of the network?",
    "Summarise tick 17,500,000 of epoch 160 in one sentence, please, with the share of empty ticks.",
    "為什麼現在空 tick 變多？",
    "Hi",
]
# Long enough that a short deadline always passes first, on any machine (the tiny context holds 2048 tokens).
LONG = GenerationParams(max_new_tokens=1900, ban_eos=True, deadline_s=1.0)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module", params=["tiny-random-llama", "tiny-random-qwen2"])
def tiny(request: pytest.FixtureRequest, cache_dir: Path) -> LoadedModel:
    return load_model(request.param, load_settings(model_cache_dir=cache_dir), progress=None)


@pytest.fixture()
def service(tiny: LoadedModel) -> Iterator[GenerationService]:
    with GenerationService(tiny, max_batch=1, batch_window_ms=0) as running:
        yield running


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "condition not reached within 30 s"
        time.sleep(0.005)


def test_greedy_generation_is_deterministic(tiny: LoadedModel) -> None:
    params = GenerationParams(max_new_tokens=16, ban_eos=True)
    with GenerationService(tiny, result_cache=0) as uncached:  # the second answer is computed, not remembered
        first, second = (uncached.generate(PROMPTS[0], params) for _ in range(2))
    assert not second.cached
    assert second.raw_text == first.raw_text


def test_greedy_tokens_match_the_per_step_reference(service: GenerationService, tiny: LoadedModel) -> None:
    result = service.generate(PROMPTS[1], GenerationParams(max_new_tokens=12, ban_eos=True))
    text = tiny.tokenizer.apply_chat_template(
        [{"role": "user", "content": PROMPTS[1]}], add_generation_prompt=True, tokenize=False
    )
    expected = greedy_tokens(tiny.model, tiny.tokenizer.encode(text, add_special_tokens=False), 12)
    assert result.raw_text == tiny.tokenizer.decode(expected, skip_special_tokens=True)
    assert (result.tokens, result.finish_reason) == (12, "length")


def test_sampling_with_a_seed_is_reproducible(service: GenerationService) -> None:
    params = GenerationParams(max_new_tokens=16, temperature=0.9, top_p=0.95, seed=42, ban_eos=True)
    assert service.generate(PROMPTS[0], params).raw_text == service.generate(PROMPTS[0], params).raw_text


def test_sampling_with_different_seeds_differs(service: GenerationService) -> None:
    drawn = {
        service.generate(PROMPTS[0], GenerationParams(max_new_tokens=16, temperature=1.0, seed=seed)).raw_text
        for seed in range(4)
    }
    assert len(drawn) > 1


def test_stop_sequence_ends_the_text_before_it(service: GenerationService) -> None:
    free = service.generate(PROMPTS[0], GenerationParams(max_new_tokens=24, ban_eos=True)).raw_text
    stop = free[6:9]
    result = service.generate(PROMPTS[0], GenerationParams(max_new_tokens=24, ban_eos=True, stop=(stop,)))
    assert result.finish_reason == "stop"
    assert result.raw_text == free[: free.index(stop)]


def test_streamed_deltas_join_to_the_generated_text(service: GenerationService) -> None:
    params = GenerationParams(max_new_tokens=20, ban_eos=True)
    deltas = list(service.stream(PROMPTS[1], params))
    assert len(deltas) > 1
    assert "".join(deltas) == service.generate(PROMPTS[1], params).text


def test_stream_never_shows_a_stop_sequence(service: GenerationService) -> None:
    free = service.generate(PROMPTS[2], GenerationParams(max_new_tokens=24, ban_eos=True)).raw_text
    stop = free[8:11]
    streamed = "".join(service.stream(PROMPTS[2], GenerationParams(max_new_tokens=24, ban_eos=True, stop=(stop,))))
    assert streamed == free[: free.index(stop)]


def test_deadline_during_generation_returns_the_text_so_far(service: GenerationService) -> None:
    result = service.generate(PROMPTS[0], LONG)
    assert result.finish_reason == "deadline"
    assert 0 < result.tokens < LONG.max_new_tokens


def test_deadline_passing_in_the_queue_raises(service: GenerationService) -> None:
    blocker = threading.Thread(target=service.generate, args=(PROMPTS[0], LONG))
    blocker.start()
    _wait_until(lambda: service.status()["busy"])
    with pytest.raises(GenerationDeadlineError, match="in the queue, before generation started"):
        service.generate(PROMPTS[1], GenerationParams(max_new_tokens=4, deadline_s=0.05))
    blocker.join()


def test_full_queue_refuses_with_a_retry_after(tiny: LoadedModel) -> None:
    with GenerationService(tiny, queue_size=1, max_batch=1, batch_window_ms=0) as small:
        running = threading.Thread(target=small.generate, args=(PROMPTS[0], LONG))
        running.start()
        _wait_until(lambda: small.status()["busy"])
        waiting = threading.Thread(target=small.generate, args=(PROMPTS[1], GenerationParams(max_new_tokens=4)))
        waiting.start()
        _wait_until(lambda: small.status()["queue_depth"] == 1)
        with pytest.raises(ModelBusyError, match=r"busy \(1 requests queued\), retry after \d+ s") as refused:
            small.generate(PROMPTS[2], GenerationParams(max_new_tokens=4))
        assert refused.value.retry_after_s >= 1
        running.join()
        waiting.join()


def test_requests_arriving_together_are_batched_with_unbatched_results(tiny: LoadedModel) -> None:
    params = GenerationParams(max_new_tokens=14, ban_eos=True)
    with GenerationService(tiny, max_batch=1, result_cache=0) as alone:
        expected = [alone.generate(prompt, params).raw_text for prompt in PROMPTS]
    results: list[GenerationResult | None] = [None] * len(PROMPTS)
    with GenerationService(tiny, max_batch=4, batch_window_ms=5000, result_cache=0) as batched:
        start = threading.Barrier(len(PROMPTS))

        def ask(index: int) -> None:
            start.wait()
            results[index] = batched.generate(PROMPTS[index], params)

        threads = [threading.Thread(target=ask, args=(index,)) for index in range(len(PROMPTS))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert batched.status()["largest_batch"] > 1
    assert [result.raw_text for result in results if result] == expected


def test_rows_of_a_batch_finish_on_their_own_limits(tiny: LoadedModel) -> None:
    with GenerationService(tiny, max_batch=2, batch_window_ms=5000, result_cache=0) as batched:
        results: dict[int, GenerationResult] = {}
        threads = [
            threading.Thread(
                target=lambda n=n: results.update({n: batched.generate(PROMPTS[0], GenerationParams(n, ban_eos=True))})
            )
            for n in (3, 11)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert (results[3].tokens, results[11].tokens) == (3, 11)
    assert results[11].raw_text.startswith(results[3].raw_text)


def test_repeated_greedy_request_is_served_from_the_cache(service: GenerationService) -> None:
    params = GenerationParams(max_new_tokens=8)
    first = service.generate(PROMPTS[3], params)
    again = service.generate(PROMPTS[3], params)
    assert (first.cached, again.cached) == (False, True)
    assert again.raw_text == first.raw_text
    assert service.status()["cache_hits"] == 1


def test_sampled_requests_are_never_cached(service: GenerationService) -> None:
    params = GenerationParams(max_new_tokens=8, temperature=0.8, seed=1)
    service.generate(PROMPTS[3], params)
    assert not service.generate(PROMPTS[3], params).cached


def test_health_check_runs_a_forward_pass(service: GenerationService) -> None:
    assert service.health_check()


def test_status_reports_the_model_and_its_queue(service: GenerationService, tiny: LoadedModel) -> None:
    status = service.status()
    assert status["model"] == tiny.spec.id
    assert status["quantization"] == "none"
    assert status["loaded"] is True
    assert status["queue_depth"] == 0
    assert status["threads"] >= 1


def test_closed_service_refuses_requests_and_fails_its_health_check(tiny: LoadedModel) -> None:
    service = GenerationService(tiny)
    service.close()
    assert not service.health_check()
    with pytest.raises(ModelUnavailableError, match="stopped"):
        service.generate(PROMPTS[0])


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ("", "prompt is empty"),
        ("   \n", "prompt is empty"),
        ([], "expected at least one message"),
        ([{"role": "robot", "content": "hi"}], r"messages\[0\].role: expected one of system, user, assistant"),
        ([{"role": "user"}], r"messages\[0\].content: expected a string"),
    ],
)
def test_bad_prompt_is_refused_with_a_clear_error(service: GenerationService, messages: object, message: str) -> None:
    with pytest.raises(InvalidGenerationRequestError, match=message):
        service.generate(messages, GenerationParams(max_new_tokens=4))  # type: ignore[arg-type]


def test_prompt_plus_max_new_tokens_beyond_the_context_is_refused(service: GenerationService) -> None:
    with pytest.raises(InvalidGenerationRequestError, match="exceeds the context length"):
        service.generate(PROMPTS[0], GenerationParams(max_new_tokens=2040))


def test_params_of_the_wrong_type_are_refused(service: GenerationService) -> None:
    with pytest.raises(InvalidGenerationRequestError, match="expected GenerationParams"):
        service.generate(PROMPTS[0], {"max_new_tokens": 4})  # type: ignore[arg-type]


def test_load_service_reads_the_model_and_queue_settings(cache_dir: Path) -> None:
    settings = load_settings(model="tiny-random-qwen2", model_cache_dir=cache_dir, model_queue_size=3, model_threads=1)
    threads_before = torch.get_num_threads()
    try:
        with load_service(settings) as service:
            assert (service.model_id, service.queue_size, service.threads) == ("tiny-random-qwen2", 3, 1)
            assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads_before)  # the setting is process-wide


def test_load_service_with_an_unknown_model_id_is_a_clear_error(cache_dir: Path) -> None:
    with pytest.raises(UnknownModelError, match="'no-such-model' is unavailable: not in the model registry"):
        load_service(load_settings(model="no-such-model", model_cache_dir=cache_dir))


def test_load_service_for_an_unavailable_model_says_why(cache_dir: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="no local path configured"):
        load_service(load_settings(model="deepseek-r1-distill-qwen-1.5b", model_cache_dir=cache_dir))

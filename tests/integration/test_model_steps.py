"""Per-step inference (embed, run_layers, final_logits, sample) against transformers, on both tiny architectures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from qcl.config import load_settings
from qcl.model.errors import ModelUnavailableError
from qcl.model.loading import LoadedModel, load_model, state_dict_sha256
from qcl.model.params import GenerationParams
from qcl.model.steps import (
    decode_one,
    embed,
    final_logits,
    greedy_tokens,
    layer_count,
    new_cache,
    positions_for,
    prefill,
    run_layers,
    sample,
    suppress,
)

# One worker runs this module (pytest-xdist --dist loadgroup), so its module-scoped model loads once.
pytestmark = pytest.mark.xdist_group("model_steps")

TINY = ["tiny-random-llama", "tiny-random-qwen2"]
PROMPT = [{"role": "user", "content": "What is the health of the Qubic network at tick 17,500,000?"}]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module", params=TINY)
def tiny(request: pytest.FixtureRequest, cache_dir: Path) -> Iterator[LoadedModel]:
    yield load_model(request.param, load_settings(model_cache_dir=cache_dir), progress=None)


def _prompt_ids(loaded: LoadedModel) -> list[int]:
    text = loaded.tokenizer.apply_chat_template(PROMPT, add_generation_prompt=True, tokenize=False)
    return list(loaded.tokenizer.encode(text, add_special_tokens=False))


def _generate_reference(loaded: LoadedModel, ids: list[int], new_tokens: int) -> list[int]:
    with torch.inference_mode():
        out = loaded.model.generate(
            torch.tensor([ids]), max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False
        )
    return list(out[0, len(ids) :].tolist())


def test_same_seed_builds_the_same_weights_every_time(tiny: LoadedModel, cache_dir: Path) -> None:
    again = load_model(tiny.spec.id, load_settings(model_cache_dir=cache_dir), progress=None)
    assert state_dict_sha256(again.model) == tiny.weights_sha256


def test_building_a_tiny_model_leaves_the_global_random_state_alone(tiny: LoadedModel, cache_dir: Path) -> None:
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    load_model(tiny.spec.id, load_settings(model_cache_dir=cache_dir), progress=None)
    assert torch.equal(torch.rand(3), expected)


def test_tiny_vocabulary_matches_its_tokenizer(tiny: LoadedModel) -> None:
    assert tiny.model.config.vocab_size == len(tiny.tokenizer)
    assert sum(p.numel() for p in tiny.model.parameters()) == tiny.spec.parameters


def test_greedy_steps_reproduce_transformers_generate_token_for_token(tiny: LoadedModel) -> None:
    ids = _prompt_ids(tiny)
    assert greedy_tokens(tiny.model, ids, 32) == _generate_reference(tiny, ids, 32)


@torch.inference_mode()
def test_layers_run_in_three_stages_with_their_own_caches_equal_the_whole_model(tiny: LoadedModel) -> None:
    # What the shard pool does: each stage holds a range of layers and its own KV cache.
    model, ids = tiny.model, torch.tensor([_prompt_ids(tiny)])
    whole = greedy_tokens(model, ids[0].tolist(), 12)
    stages = [range(0, 1), range(1, layer_count(model))]
    caches = [new_cache(model) for _ in stages]
    mask = torch.ones_like(ids)
    tokens: list[int] = []
    step_input = ids
    for _ in range(12):
        hidden = embed(model, step_input)
        positions = positions_for(mask, step_input.shape[1])
        for layers, cache in zip(stages, caches, strict=True):
            hidden = run_layers(model, hidden, layers, cache, positions, mask)
        token = int(final_logits(model, hidden).argmax(-1))
        tokens.append(token)
        step_input = torch.tensor([[token]])
        mask = torch.cat([mask, torch.ones(1, 1, dtype=mask.dtype)], dim=-1)
    assert tokens == whole


@torch.inference_mode()
def test_left_padding_does_not_change_a_rows_greedy_tokens(tiny: LoadedModel) -> None:
    ids = _prompt_ids(tiny)
    pad = tiny.tokenizer.pad_token_id
    padded = torch.tensor([[pad] * 5 + ids])
    mask = torch.tensor([[0] * 5 + [1] * len(ids)])
    cache = new_cache(tiny.model)
    logits = prefill(tiny.model, padded, mask, cache)
    tokens = []
    for _ in range(16):
        token = logits.argmax(-1)
        tokens.append(int(token))
        mask = torch.cat([mask, torch.ones(1, 1, dtype=mask.dtype)], dim=-1)
        logits = decode_one(tiny.model, token, mask, cache)
    assert tokens == greedy_tokens(tiny.model, ids, 16)


def test_sampling_with_the_same_seed_draws_the_same_tokens(tiny: LoadedModel) -> None:
    logits = torch.randn(4, tiny.model.config.vocab_size, generator=torch.Generator().manual_seed(0))
    params = GenerationParams(temperature=1.0, top_p=0.9, top_k=50)
    first = sample(logits, params, torch.Generator().manual_seed(11))
    second = sample(logits, params, torch.Generator().manual_seed(11))
    assert torch.equal(first, second)


def test_top_k_of_one_samples_the_greedy_token() -> None:
    logits = torch.randn(8, 100, generator=torch.Generator().manual_seed(1))
    drawn = sample(logits, GenerationParams(temperature=1.5, top_k=1), torch.Generator().manual_seed(2))
    assert torch.equal(drawn, logits.argmax(-1))


def test_tiny_top_p_keeps_only_the_most_likely_token() -> None:
    logits = torch.randn(8, 100, generator=torch.Generator().manual_seed(3))
    drawn = sample(logits, GenerationParams(temperature=1.0, top_p=1e-6), torch.Generator().manual_seed(4))
    assert torch.equal(drawn, logits.argmax(-1))


def test_suppressed_token_is_never_chosen() -> None:
    logits = torch.zeros(1, 10)
    logits[0, 3] = 5.0
    assert int(suppress(logits, [3]).argmax(-1)) != 3


def test_target_model_loads_from_a_local_checkpoint_folder(tmp_path: Path, cache_dir: Path) -> None:
    # The tiny Qwen2 saved as a transformers checkpoint stands in for the 1.5B target's local folder.
    source = load_model("tiny-random-qwen2", load_settings(model_cache_dir=cache_dir), progress=None)
    source.model.save_pretrained(tmp_path / "checkpoint")
    source.tokenizer.save_pretrained(tmp_path / "checkpoint")
    settings = load_settings(model_path=tmp_path / "checkpoint", model_cache_dir=tmp_path / "cache")
    loaded = load_model("deepseek-r1-distill-qwen-1.5b", settings, quantization="none", progress=None)
    assert loaded.from_cache
    assert state_dict_sha256(loaded.model) == source.weights_sha256
    assert loaded.weights_sha256 == load_model("deepseek-r1-distill-qwen-1.5b", settings, progress=None).weights_sha256


def test_registry_quantization_choice_applies_unless_overridden(tmp_path: Path, cache_dir: Path) -> None:
    settings = load_settings(model_cache_dir=cache_dir)
    assert load_model("tiny-random-qwen2", settings, progress=None).quantization == "none"
    assert load_model("tiny-random-qwen2", settings, quantization="int8", progress=None).quantization == "int8-dynamic"
    forced = load_settings(model_cache_dir=cache_dir, quantization="int8")
    assert load_model("tiny-random-qwen2", forced, progress=None).quantization == "int8-dynamic"


def test_loading_an_unavailable_model_says_why(cache_dir: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="no local path configured"):
        load_model("deepseek-r1-distill-qwen-1.5b", load_settings(model_cache_dir=cache_dir), progress=None)

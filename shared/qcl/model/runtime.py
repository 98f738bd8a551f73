"""Runtimes the generation service decodes with: torch (the default) or llama.cpp (QCL_MODEL_RUNTIME).

    decoding = runtime.start()
    logits = decoding.prefill([prompt_ids, other_prompt_ids])   # (rows, vocab) next-token logits, fp32
    logits = decoding.step([token, other_token])                # one new token per live row
    decoding.keep([1])                                          # row 0 finished: drop its state
    decoding.close()

A runtime only runs forward passes; the batch runner (qcl/model/batch.py) samples, stops, streams and answers
on the logits, so every runtime gets the same sampling, stop sequences, limits, deadlines, cancellation and
priorities. Calls on one decoding are made under the service's model lock, one at a time.
"""

from __future__ import annotations

from typing import Literal, Protocol

import torch
from transformers import PreTrainedModel

from qcl.model.steps import decode_one, new_cache, prefill

RuntimeName = Literal["torch", "llama.cpp"]


class Decoding(Protocol):
    """The model state of one batch of rows (KV cache and positions) on one runtime."""

    def prefill(self, prompts: list[list[int]]) -> torch.Tensor: ...
    def step(self, tokens: list[int]) -> torch.Tensor: ...
    def keep(self, rows: list[int]) -> None: ...
    def close(self) -> None: ...


class Runtime(Protocol):
    name: RuntimeName

    def start(self) -> Decoding: ...


class TorchRuntime:
    """The per-step torch functions (qcl/model/steps.py) on a transformers model, rows left-padded into a batch."""

    name: RuntimeName = "torch"

    def __init__(self, model: PreTrainedModel, pad_id: int) -> None:
        self.model = model
        self.pad_id = pad_id

    def start(self) -> TorchDecoding:
        return TorchDecoding(self.model, self.pad_id)


class TorchDecoding:
    def __init__(self, model: PreTrainedModel, pad_id: int) -> None:
        self.model = model
        self.pad_id = pad_id
        self.cache = new_cache(model)
        self.mask = torch.zeros(0, 0, dtype=torch.long)  # (rows, seen): 0 = left padding

    @torch.inference_mode()
    def prefill(self, prompts: list[list[int]]) -> torch.Tensor:
        longest = max(len(prompt) for prompt in prompts)
        pads = [longest - len(prompt) for prompt in prompts]
        ids = torch.tensor([[self.pad_id] * pad + prompt for pad, prompt in zip(pads, prompts, strict=True)])
        self.mask = (torch.arange(longest)[None, :] >= torch.tensor(pads)[:, None]).long()
        return prefill(self.model, ids, self.mask, self.cache)

    @torch.inference_mode()
    def step(self, tokens: list[int]) -> torch.Tensor:
        self.mask = torch.cat([self.mask, torch.ones_like(self.mask[:, :1])], dim=-1)
        return decode_one(self.model, torch.tensor(tokens), self.mask, self.cache)

    def keep(self, rows: list[int]) -> None:
        self.cache.batch_select_indices(torch.tensor(rows))
        self.mask = self.mask[rows]

    def close(self) -> None:
        self.cache = new_cache(self.model)  # the KV tensors go with the old cache

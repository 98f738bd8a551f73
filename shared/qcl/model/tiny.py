"""Tiny random models of both architectures, built from a small config and a fixed seed (no downloads).

    from qcl.model.loading import load_model
    loaded = load_model("tiny-random-qwen2", settings)

The same seed gives the same weights on every run and machine (torch's CPU generator is deterministic), so tests
can rely on their outputs being repeatable. Weights are scaled up from transformers' default init (0.02) so that the
random logits have clear winners and greedy decoding is not decided by rounding noise.
"""

from __future__ import annotations

from typing import Any

import torch
from tokenizers import Tokenizer, decoders, pre_tokenizers
from tokenizers.models import BPE
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from qcl.model.registry import TINY_SEED, ModelSpec

INIT_STD = 0.2
# ChatML, as Qwen2 instruct models use it.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
BYTE_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def byte_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level tokenizer: one token per byte plus ChatML specials and R1's think tags (261 tokens)."""
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())  # the 256 printable stand-ins for bytes
    backend = Tokenizer(BPE(vocab={symbol: index for index, symbol in enumerate(alphabet)}, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    specials = {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, **specials)
    tokenizer.add_special_tokens({"additional_special_tokens": BYTE_SPECIALS[1:2]})
    tokenizer.add_tokens(["<think>", "</think>"])  # ordinary text tokens in R1's tokenizer, not special ones
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def _common_config(spec: ModelSpec, tokenizer: PreTrainedTokenizerBase) -> dict[str, Any]:
    common = {
        "vocab_size": len(tokenizer),
        "hidden_size": spec.hidden_size,
        "intermediate_size": 128,
        "num_hidden_layers": spec.layers,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": spec.context_length,
        "initializer_range": INIT_STD,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
    }
    return common


def build_tiny(spec: ModelSpec, tokenizer: PreTrainedTokenizerBase) -> PreTrainedModel:
    """The tiny model of `spec`, initialised from TINY_SEED without touching the global random state."""
    common = _common_config(spec, tokenizer)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_SEED)
        model: PreTrainedModel
        if spec.architecture == "llama":
            model = LlamaForCausalLM(LlamaConfig(**common, tie_word_embeddings=True))  # tied, as SmolLM2
        else:  # untied, as the R1 1.5B distill
            model = Qwen2ForCausalLM(Qwen2Config(**common, tie_word_embeddings=False, use_sliding_window=False))
    return model.eval()

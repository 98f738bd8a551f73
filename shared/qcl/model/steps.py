"""Inference as small pure steps: embed, run a range of decoder layers, final logits, sample.

    from qcl.model.steps import new_cache, prefill, decode_one, sample
    cache = new_cache(model)
    logits = prefill(model, input_ids, attention_mask, cache)          # (batch, vocab)
    token = sample(logits, params, generator)                          # (batch,)
    logits = decode_one(model, token, attention_mask_plus_one, cache)  # (batch, vocab)

The single-node service and the shard pool run the same functions: a shard stage calls `run_layers` on its own
range of layers with its own cache; stage 0 adds `embed`, the last stage `final_logits` and `sample`.
Works for the Llama and Qwen2 families of transformers 5.x (decoder under `model.model`, LM head `model.lm_head`):
a decoder layer there takes the rotary position embeddings, computed by the model's rotary module from the
position ids, together with the cache (model-facts.md, "Layer-wise execution").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import torch
from transformers import DynamicCache, PreTrainedModel
from transformers.masking_utils import create_causal_mask, create_sliding_window_causal_mask

MaskFactory = Callable[..., Any]
_MASKS: dict[str, MaskFactory] = {
    "full_attention": create_causal_mask,
    "sliding_attention": create_sliding_window_causal_mask,
}


class SamplingParams(Protocol):
    """What `sample` reads from a request's parameters (GenerationParams satisfies it)."""

    @property
    def temperature(self) -> float: ...
    @property
    def top_p(self) -> float: ...
    @property
    def top_k(self) -> int: ...


def new_cache(model: PreTrainedModel) -> DynamicCache:
    """An empty KV cache with one slot per decoder layer; a shard stage fills only the slots of its layers."""
    return DynamicCache(config=model.config)


def layer_count(model: PreTrainedModel) -> int:
    return int(model.config.num_hidden_layers)


def embed(model: PreTrainedModel, input_ids: torch.Tensor) -> torch.Tensor:
    """Token ids (batch, seq) -> hidden states (batch, seq, hidden)."""
    return model.model.embed_tokens(input_ids)


def positions_for(attention_mask: torch.Tensor, new_tokens: int) -> torch.Tensor:
    """Position ids (batch, new_tokens) of the last `new_tokens` columns of a left-padded mask (batch, seen).

    Padding sits on the left, so a row's first real token is position 0; padded columns get position 1, as
    transformers' generate() gives them (they are masked out anyway).
    """
    positions = attention_mask.long().cumsum(-1) - 1  # (batch, seen)
    positions = positions.masked_fill(attention_mask == 0, 1)
    return positions[:, -new_tokens:]


def run_layers(
    model: PreTrainedModel,
    hidden: torch.Tensor,
    layers: range,
    cache: DynamicCache,
    positions: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Hidden states (batch, seq, hidden) through decoder layers `layers`, appending their keys/values to `cache`.

    `positions` (batch, seq) are the new tokens' position ids; `attention_mask` (batch, seen + seq) marks real
    tokens with 1 and left padding with 0, or is None for unpadded input (causal masking is then implicit).
    """
    decoder = model.model
    position_embeddings = decoder.rotary_emb(hidden, position_ids=positions)  # (cos, sin), each (batch, seq, head)
    layer_types: Sequence[str] = getattr(model.config, "layer_types", None) or ["full_attention"] * layer_count(model)
    masks: dict[str, Any] = {}
    for index in layers:
        kind = layer_types[index]
        if kind not in masks:
            # Built before any layer of the range updates the cache, sized on this range's first layer of the kind
            # (the cache slots of other stages' layers stay empty).
            masks[kind] = _MASKS[kind](
                config=model.config,
                inputs_embeds=hidden,
                attention_mask=attention_mask,
                cache=cache,
                position_ids=positions,
                layer_idx=index,
            )
        hidden = decoder.layers[index](
            hidden,
            attention_mask=masks[kind],
            position_embeddings=position_embeddings,
            position_ids=positions,
            cache=cache,
            use_cache=True,
        )
    return hidden


def final_logits(model: PreTrainedModel, hidden: torch.Tensor) -> torch.Tensor:
    """Hidden states (batch, seq, hidden) -> next-token logits (batch, vocab) at the last position, in fp32."""
    last = model.model.norm(hidden[:, -1:, :])  # (batch, 1, hidden)
    return model.lm_head(last)[:, -1, :].float()


def suppress(logits: torch.Tensor, token_ids: Sequence[int]) -> torch.Tensor:
    """Logits with `token_ids` made impossible (for example end-of-sequence when a caller bans it)."""
    if not token_ids:
        return logits
    logits = logits.clone()
    logits[..., list(token_ids)] = float("-inf")
    return logits


def sample(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator | None = None) -> torch.Tensor:
    """Next token ids (batch,) from logits (batch, vocab): argmax at temperature 0, else top-k/top-p sampling."""
    if params.temperature == 0:
        return logits.argmax(dim=-1)
    scores = logits / params.temperature
    if params.top_k > 0:
        kth_best = torch.topk(scores, min(params.top_k, scores.shape[-1]), dim=-1).values[..., -1:]  # (batch, 1)
        scores = scores.masked_fill(scores < kth_best, float("-inf"))
    if params.top_p < 1.0:
        ordered, order = torch.sort(scores, descending=True, dim=-1)
        cumulative = ordered.softmax(dim=-1).cumsum(dim=-1)
        # Drop a token when the tokens before it already reach top_p; the most likely token always stays.
        drop_sorted = (cumulative - ordered.softmax(dim=-1)) >= params.top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        scores = scores.masked_fill(drop, float("-inf"))
    probabilities = scores.softmax(dim=-1)  # (batch, vocab)
    return torch.multinomial(probabilities, num_samples=1, generator=generator).squeeze(-1)


def prefill(
    model: PreTrainedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, cache: DynamicCache
) -> torch.Tensor:
    """Run the prompt (batch, seq) through the whole model, filling `cache`; next-token logits (batch, vocab)."""
    mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
    hidden = embed(model, input_ids)  # (batch, seq, hidden)
    hidden = run_layers(model, hidden, range(layer_count(model)), cache, positions_for(mask, input_ids.shape[1]), mask)
    return final_logits(model, hidden)


def decode_one(
    model: PreTrainedModel, token_ids: torch.Tensor, attention_mask: torch.Tensor, cache: DynamicCache
) -> torch.Tensor:
    """One new token per row (batch,) through the model; `attention_mask` (batch, seen + 1) already counts it."""
    hidden = embed(model, token_ids[:, None])  # (batch, 1, hidden)
    hidden = run_layers(
        model, hidden, range(layer_count(model)), cache, positions_for(attention_mask, 1), attention_mask
    )
    return final_logits(model, hidden)


@torch.inference_mode()
def greedy_tokens(
    model: PreTrainedModel, input_ids: Sequence[int], max_new_tokens: int, *, banned: Sequence[int] = ()
) -> list[int]:
    """Greedy continuation of one prompt built from the steps above, for `max_new_tokens` tokens (no early stop).

    The reference loop the tests compare with transformers' generate() and the benchmark times.
    """
    ids = torch.tensor([list(input_ids)])  # (1, seq)
    mask = torch.ones_like(ids)
    cache = new_cache(model)
    logits = prefill(model, ids, mask, cache)
    tokens: list[int] = []
    for step in range(max_new_tokens):
        token = suppress(logits, banned).argmax(dim=-1)  # (1,)
        tokens.append(int(token))
        if step + 1 < max_new_tokens:
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=-1)
            logits = decode_one(model, token, mask, cache)
    return tokens

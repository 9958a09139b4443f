"""The starting encoders: the tiny model built from the sweep's data, or a hub model.

The tiny model is saved with ``save_pretrained`` and loaded back with ``from_pretrained``,
the same code path a hub model takes; its weights are random, so its numbers show the
machinery working, not a finding.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizer

TINY_VOCAB_SIZE = 2000
# Retrieval's recipe encodes up to 512 tokens.
TINY_MAX_LENGTH = 512


def build_tiny_model(texts: Iterable[str], out_dir: str | Path, seed: int = 0) -> Path:
    """Train a sentencepiece-style tokenizer on ``texts``, then save a small random XLM-R."""
    out_dir = Path(out_dir)
    tokenizer = XLMRobertaTokenizer().train_new_from_iterator(texts, vocab_size=TINY_VOCAB_SIZE)
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=256,
        # XLM-R numbers positions from padding_idx + 1.
        max_position_embeddings=TINY_MAX_LENGTH + tokenizer.pad_token_id + 1,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    XLMRobertaModel(config).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir

"""The starting encoders: the tiny model built from the sweep's data, or a hub model.

The tiny model is saved with ``save_pretrained`` and loaded back with ``from_pretrained``,
the same code path a hub model takes; its weights are random, so its numbers show the
machinery working, not a finding. Everything in it follows from its texts and seed: the
same texts give the same ``tokenizer.json`` and weights, byte for byte, in any process.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import sentencepiece
import torch
from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizer

from sweeper.plan.scales import LOCAL_MODELS, TINY_MODEL

TINY_VOCAB_SIZE = 2000
# Pieces longer than one character, beyond every character, where the text has more
# characters than TINY_VOCAB_SIZE holds.
LONGER_PIECES = 500
# Retrieval's recipe encodes up to 512 tokens.
TINY_MAX_LENGTH = 512
# XLM-R's own layout: these four first (its tokenizer looks <unk> up at id 3), <mask> last.
LEADING_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")
MASK = "<mask>"


def train_unigram_pieces(texts: Iterable[str], vocab_size: int = TINY_VOCAB_SIZE) -> list[tuple[str, float]]:
    """A unigram vocabulary (piece, log probability), as XLM-R's own was made: with
    SentencePiece, on one thread, so the same texts always give the same pieces and scores.

    Not tokenizers' ``train_new_from_iterator``: its Unigram trainer walks Rust hash maps and
    sets whose order is seeded anew in every process (the words it sums over in EM, and the
    characters it appends last), so each process wrote a different ``tokenizer.json``."""
    texts = list(texts)
    characters = len(set().union(*texts))
    if characters >= vocab_size:
        # Every character is a piece (coverage 1.0), and SentencePiece refuses a vocabulary
        # smaller than the characters: text in many scripts (LAReQA's pools hold Chinese and
        # Arabic) can have more. Larger only there: every other sweep's pieces stay the same.
        vocab_size = characters + LONGER_PIECES
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=model,
        model_type="unigram",
        vocab_size=vocab_size,
        # A soft limit: a small sample set stops at the pieces its text supports.
        hard_vocab_limit=False,
        character_coverage=1.0,
        # SentencePiece skips longer lines (4192 bytes by default); QA contexts can be longer.
        max_sentence_length=1 << 16,
        # The tokenizer applies no normalizer, so the pieces are of the raw text.
        normalization_rule_name="identity",
        num_threads=1,
        # Only <unk> (id 0) from SentencePiece; XLM-R's specials are placed around the pieces.
        unk_id=0,
        bos_id=-1,
        eos_id=-1,
        pad_id=-1,
        minloglevel=2,
    )
    processor = sentencepiece.SentencePieceProcessor(model_proto=model.getvalue())
    return [(processor.id_to_piece(i), processor.get_score(i)) for i in range(1, processor.get_piece_size())]


def build_tiny_tokenizer(texts: Iterable[str]) -> XLMRobertaTokenizer:
    pieces = train_unigram_pieces(texts)
    vocab = [(token, 0.0) for token in LEADING_SPECIALS] + pieces + [(MASK, 0.0)]
    return XLMRobertaTokenizer(vocab=vocab)


def build_tiny_model(
    texts: Iterable[str],
    out_dir: str | Path,
    seed: int = 0,
    model: str = TINY_MODEL,
    tokenizer: XLMRobertaTokenizer | None = None,
) -> Path:
    """Save a small random XLM-R of ``model``'s shape (``LOCAL_MODELS``), with a
    sentencepiece-style tokenizer trained on ``texts`` (or the one given: every local scale
    of a sweep shares one)."""
    out_dir = Path(out_dir)
    tokenizer = tokenizer or build_tiny_tokenizer(texts)
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer),
        **LOCAL_MODELS[model],
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

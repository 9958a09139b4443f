"""Tagging F1 as XTREME's evaluate.py scores udpos and panx: seqeval's ``f1_score`` with its
defaults, on the gold and predicted tag sequences (one list of tags per sentence)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from seqeval.metrics import f1_score


def tagging_f1(predictions: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> float:
    """Micro F1 over chunks, on a 0-1 scale.

    seqeval's default reads tags conlleval-style: for IOB2 NER tags that is entity-level F1.
    evaluate.py calls the same function on POS tags, which carry no B-/I- prefix; seqeval
    then takes a tag's first letter as its chunk position and the rest as its type, so runs
    of equal POS tags mostly count as one chunk. That is the benchmark's definition of POS
    F1 (not token accuracy), and it is kept here.
    """
    if len(predictions) != len(gold) or not gold:
        raise ValueError(f"{len(predictions)} predicted sentences for {len(gold)} gold sentences")
    for index, (predicted, expected) in enumerate(zip(predictions, gold, strict=True)):
        if len(predicted) != len(expected):
            raise ValueError(f"sentence {index}: {len(predicted)} predicted tags for {len(expected)} words")
    with warnings.catch_warnings():
        # Every POS tag draws "... seems not to be NE tag"; that reading is the intended one.
        warnings.filterwarnings("ignore", message=".*seems not to be NE tag", category=UserWarning)
        # seqeval recognises sentences only as lists (not tuples) of tags.
        return float(f1_score([list(tags) for tags in gold], [list(tags) for tags in predictions]))

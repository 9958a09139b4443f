"""Tagging scores as XTREME's evaluate.py computes them for udpos and panx: seqeval's
``f1_score``, ``precision_score`` and ``recall_score`` with their defaults, on the gold and
predicted tag sequences (one list of tags per sentence)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence


def tagging_scores(predictions: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> dict[str, float]:
    """Micro ``f1``, ``precision`` and ``recall`` over chunks, on a 0-1 scale.

    seqeval's default reads tags conlleval-style: for IOB2 NER tags that is entity-level F1.
    evaluate.py calls the same functions on POS tags, which carry no B-/I- prefix; seqeval
    then takes a tag's first letter as its chunk position and the rest as its type, so runs
    of equal POS tags mostly count as one chunk. That is the benchmark's definition of POS
    F1 (not token accuracy), and it is kept here.

    evaluate.py installs seqeval unpinned; this is the definition of seqeval 1.x, the release
    ``pip install seqeval`` gives. Releases before 1.0 took a POS tag's whole name as its
    type; 1.x takes the name without its first letter, so CCONJ and SCONJ share the type
    "CONJ" and an SCONJ right after a CCONJ restarts the chunk instead of closing it.
    """
    # seqeval imports scikit-learn (seconds), and the registry imports this module.
    from seqeval.metrics import f1_score, precision_score, recall_score

    if len(predictions) != len(gold) or not gold:
        raise ValueError(f"{len(predictions)} predicted sentences for {len(gold)} gold sentences")
    for index, (predicted, expected) in enumerate(zip(predictions, gold, strict=True)):
        if len(predicted) != len(expected):
            raise ValueError(f"sentence {index}: {len(predicted)} predicted tags for {len(expected)} words")
    # seqeval recognises sentences only as lists (not tuples) of tags.
    expected, predicted = [list(tags) for tags in gold], [list(tags) for tags in predictions]
    with warnings.catch_warnings():
        # Every POS tag draws "... seems not to be NE tag"; that reading is the intended one.
        warnings.filterwarnings("ignore", message=".*seems not to be NE tag", category=UserWarning)
        # No predicted (or no gold) chunk: seqeval scores 0 and warns, as evaluate.py saw it.
        warnings.filterwarnings("ignore", message=".*ill-defined", category=UserWarning)
        return {
            "f1": float(f1_score(expected, predicted)),
            "precision": float(precision_score(expected, predicted)),
            "recall": float(recall_score(expected, predicted)),
        }


def tagging_f1(predictions: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> float:
    """The F1 of ``tagging_scores``: the task metric the tagging family logs."""
    return tagging_scores(predictions, gold)["f1"]

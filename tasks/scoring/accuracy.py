"""Accuracy: the share of predictions equal to their gold value (labels, choice indices, pairs)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence


def accuracy(predictions: Sequence[Hashable], gold: Sequence[Hashable]) -> float:
    """On a 0-1 scale; one prediction per gold value, in the same order."""
    if len(predictions) != len(gold) or not gold:
        raise ValueError(f"{len(predictions)} predictions for {len(gold)} gold values")
    return sum(p == g for p, g in zip(predictions, gold, strict=True)) / len(gold)

"""Evaluation in batches of similar length: little padding, predictions in the features' order.

The Trainer's evaluation loader reads features in order and the family's collator pads each
batch to its own longest, so predicting on the features sorted by length pads each batch
only to lengths close to its own; the outputs are then put back in the features' order.
Longest first: a batch size too large for the device fails on the first batch, not at the
end of an evaluation.

Neither order makes padding a result. Outputs with a position axis (tagging's logits, QA's
start and end logits) hold, past a feature's own length, the model's outputs at its batch's
pad tokens and then the Trainer's -100 past its batch's width, both of which depend on the
batch; the families read only a feature's own positions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tasks.batching import feature_lengths

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import Trainer


def length_order(lengths: np.ndarray) -> np.ndarray:
    """Feature indices, longest first; equal lengths keep their order."""
    return np.argsort(-np.asarray(lengths), kind="stable")


def restore_order(outputs: Any, order: np.ndarray) -> Any:
    """Outputs computed on ``features.select(order)`` put back in the features' order: every
    array (or every array of a tuple or list) reordered along its first axis only."""
    if isinstance(outputs, tuple | list):
        return type(outputs)(restore_order(output, order) for output in outputs)
    restored = np.empty_like(outputs)
    restored[order] = outputs
    return restored


def predict_by_length(trainer: Trainer, features: Dataset) -> Any:
    """``trainer.predict(features).predictions``, computed in batches of similar length."""
    order = length_order(feature_lengths(features))
    return restore_order(trainer.predict(features.select(order)).predictions, order)

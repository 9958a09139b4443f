"""The narrow interface every task family implements: encode, model, decode, score."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tasks.registry import Task

if TYPE_CHECKING:
    # For annotations only: transformers' model classes take seconds to import.
    import numpy as np
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


class TaskFamily(abc.ABC):
    """Everything task-specific about learning and scoring one kind of task.

    A family turns raw rows into model inputs with a ``labels`` column, builds the
    model head on a pretrained encoder, turns logits into label names, and scores
    predicted label names against gold ones with the task's metric.
    """

    @abc.abstractmethod
    def encode(self, rows: Dataset, task: Task, tokenizer: PreTrainedTokenizerBase, max_length: int) -> Dataset:
        """Tokenize ``rows``; the result holds only model inputs and ``labels``."""

    @abc.abstractmethod
    def build_model(self, encoder_path: str, task: Task) -> PreTrainedModel:
        """A fresh task head on the encoder saved at ``encoder_path``."""

    @abc.abstractmethod
    def decode(self, logits: np.ndarray, task: Task) -> list[str]:
        """Predicted label names, one per example."""

    @abc.abstractmethod
    def gold(self, rows: Dataset, task: Task) -> list[str] | None:
        """Gold label names, or None where the split carries no labels."""

    @abc.abstractmethod
    def score(self, predictions: Sequence[str], gold: Sequence[str]) -> dict[str, float]:
        """The task metric(s), keyed by metric slug, on a 0-1 scale."""

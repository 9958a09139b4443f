"""The narrow interface every task family implements: encode, model, predict, score."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from tasks.task import Task

if TYPE_CHECKING:
    # For annotations only: transformers' model classes take seconds to import.
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# Runs the model over encoded features (model inputs; evaluation batches features of similar
# length, and the family's collator pads each batch to its own longest) and returns its
# outputs in feature order, as Trainer.predict(...).predictions: arrays with a position axis
# hold batch padding past each feature's own length, which a family must never read.
Infer = Callable[["Dataset"], Any]


class TaskFamily(abc.ABC):
    """Everything task-specific about learning and scoring one kind of task.

    A family turns raw rows (the hub's columns) into training features with a ``labels``
    column, builds the model head on a pretrained encoder, predicts one JSON-serialisable
    value per row (a label, a tag sequence, an answer string, a ranking), and scores
    predictions against gold values with the task's metric.
    """

    @abc.abstractmethod
    def encode(self, rows: Dataset, task: Task, tokenizer: PreTrainedTokenizerBase, max_length: int) -> Dataset:
        """Training features: model inputs and ``labels``, nothing else."""

    def collator(self, tokenizer: PreTrainedTokenizerBase) -> Callable:
        """Batches features, padding each batch to its own longest."""
        from transformers import DataCollatorWithPadding

        return DataCollatorWithPadding(tokenizer)

    def check_rows(self, rows: Dataset, task: Task) -> str | None:
        """What makes ``rows`` unreadable as ``task``'s (a missing column, a value of the wrong
        type, a label outside the task's set), naming the first offending row; None where
        they are fine. Run on every split before a sweep writes anything."""
        return None

    @abc.abstractmethod
    def build_model(self, encoder_path: str, task: Task) -> PreTrainedModel:
        """A fresh task head on the encoder saved at ``encoder_path``."""

    @abc.abstractmethod
    def predict(
        self,
        rows: Dataset,
        task: Task,
        tokenizer: PreTrainedTokenizerBase,
        max_length: int,
        infer: Infer,
        language: str,
        data: str,
    ) -> list:
        """One prediction per row, in row order. ``language`` is the split's language and
        ``data`` the data root (``"hub"`` or a local mirror directory), for families that
        read other splits or files than ``rows`` (BUCC's dev threshold, Mewsli-X's
        candidates); the others ignore them."""

    @abc.abstractmethod
    def gold(self, rows: Dataset, task: Task) -> list | None:
        """Gold values, one per row, or None where the split carries no labels."""

    @abc.abstractmethod
    def score(self, predictions: Sequence, gold: Sequence, task: Task, language: str) -> dict[str, float]:
        """The task metric(s), keyed by metric slug, on a 0-1 scale. ``task`` says how to
        score (its settings), so gold values are plain; ``language`` is for metrics that
        normalise text per language (MLQA)."""


def label_head(task: Task) -> dict:
    """The ``from_pretrained`` arguments of a head over ``task.labels``, named in its config."""
    return {
        "num_labels": len(task.labels),
        "id2label": dict(enumerate(task.labels)),
        "label2id": {name: index for index, name in enumerate(task.labels)},
    }


def missing_column(rows: Dataset, names: Iterable[str]) -> str | None:
    """The first of ``names`` that ``rows`` lack, as a message listing the columns they have."""
    for name in names:
        if name not in rows.column_names:
            return f"no column {name!r} (it has {', '.join(rows.column_names)})"
    return None


def first_bad_row(values: Iterable[object], is_bad: Callable[[object], bool], column: str, expected: str) -> str | None:
    """The first row (numbered from 1) whose value in ``column`` ``is_bad``, as a message."""
    for number, value in enumerate(values, start=1):
        if is_bad(value):
            return f"row {number}: {column} is {value!r}; valid: {expected}"
    return None


def is_text(value: object) -> bool:
    return isinstance(value, str)


def label_index_check(labels: Sequence[str]) -> Callable[[object], bool]:
    """Bad label values for ``labels``: not an index into them (None and -1 mark unlabelled rows)."""

    def is_bad(value: object) -> bool:
        if value is None:
            return False
        return isinstance(value, bool) or not isinstance(value, int) or not -1 <= value < len(labels)

    return is_bad

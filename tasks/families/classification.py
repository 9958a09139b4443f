"""Sentence and sentence-pair classification (XNLI, PAWS-X, MNLI, QQP): one label per input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tasks.families._base import (
    Infer,
    TaskFamily,
    first_bad_row,
    is_text,
    label_head,
    label_index_check,
    missing_column,
)
from tasks.scoring.accuracy import accuracy
from tasks.task import Task

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedModel


class Classification(TaskFamily):
    def encode(self, rows: Dataset, task: Task, tokenizer, max_length: int) -> Dataset:
        # SNLI marks pairs without annotator consensus -1: no gold label, nothing to learn.
        label = task.columns["label"]
        labelled = rows.filter(lambda row: row[label] is not None and row[label] >= 0)
        return self._features(labelled, task, tokenizer, max_length)

    def _features(self, rows: Dataset, task: Task, tokenizer, max_length: int) -> Dataset:
        columns = task.columns
        pair = "text_b" in columns

        def tokenize(batch: dict) -> dict:
            texts = (batch[columns["text_a"]], batch[columns["text_b"]]) if pair else (batch[columns["text_a"]],)
            encoded = tokenizer(*texts, truncation=True, max_length=max_length)
            encoded["labels"] = batch[columns["label"]]
            return encoded

        return rows.map(tokenize, batched=True, remove_columns=rows.column_names)

    def check_rows(self, rows: Dataset, task: Task) -> str | None:
        texts = [task.columns[role] for role in ("text_a", "text_b") if role in task.columns]
        label = task.columns["label"]
        problem = missing_column(rows, [*texts, label])
        for column in texts:
            problem = problem or first_bad_row(rows[column], lambda v: not is_text(v), column, "text")
        labels = f"an index 0..{len(task.labels) - 1} into {', '.join(task.labels)} (-1: unlabelled)"
        return problem or first_bad_row(rows[label], label_index_check(task.labels), label, labels)

    def build_model(self, encoder_path: str, task: Task) -> PreTrainedModel:
        # Imported here: only trials build models, and listing tasks should stay fast.
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification.from_pretrained(encoder_path, **label_head(task))

    def predict(
        self, rows: Dataset, task: Task, tokenizer, max_length: int, infer: Infer, language: str, data: str
    ) -> list[str]:
        features = self._features(rows, task, tokenizer, max_length).remove_columns("labels")
        return [task.labels[index] for index in infer(features).argmax(axis=-1)]

    def gold(self, rows: Dataset, task: Task) -> list[str] | None:
        labels = list(rows[task.columns["label"]])
        # Unlabeled test splits (GLUE's) mark every label -1.
        if any(label is None or label < 0 for label in labels):
            return None
        outside = [label for label in labels if label >= len(task.labels)]
        if outside:
            raise ValueError(f"{task.name}: label {outside[0]} outside 0..{len(task.labels) - 1} {task.labels}")
        return [task.labels[label] for label in labels]

    def score(self, predictions: Sequence[str], gold: Sequence[str], task: Task, language: str) -> dict[str, float]:
        return {"accuracy": accuracy(predictions, gold)}

    def submission_format(self, task: Task) -> str:
        return "label"

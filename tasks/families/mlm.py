"""Continued masked-language modelling, interleaved with an intermediate task (one of the
paper's alternatives): plain text the user points to, as one more member of a multi-task run.

A family that is trained, never evaluated or selected on: it encodes text, masks it in its
collator and builds an MLM head; predicting and scoring are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from tasks.families._base import Infer, TaskFamily, first_bad_row, is_text, missing_column
from tasks.task import Recipe, Source, Task

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

MLM = "mlm"
# BERT's and XLM-R's masking rate.
MASKING_PROBABILITY = 0.15


def text_files(path: str | Path) -> list[Path]:
    """A ``.txt`` file, or every ``.txt`` file in a directory (sorted)."""
    path = Path(path)
    return sorted(path.rglob("*.txt")) if path.is_dir() else [path]


def mlm_task(path: str | Path) -> Task:
    """The MLM member over the text at ``path``: one document or sentence per line."""
    files = [Source(MLM, "text", None, "train", path=str(file.resolve())) for file in text_files(path)]
    return Task(
        name=MLM,
        kind="intermediate",
        family=MLM,
        metric="",
        languages=(),
        train=files[0],
        train_with=tuple(files[1:]),
        dev={},
        train_source=MLM,
        recipe=Recipe(epochs=1, max_length=256),
    )


class MaskedLM(TaskFamily):
    evaluated = False

    def encode(self, rows: Dataset, task: Task, tokenizer: PreTrainedTokenizerBase, max_length: int) -> Dataset:
        texts = rows.filter(lambda row: bool(row["text"].strip()))

        def tokenize(batch: dict) -> dict:
            return tokenizer(batch["text"], truncation=True, max_length=max_length, return_special_tokens_mask=True)

        return texts.map(tokenize, batched=True, remove_columns=texts.column_names)

    def check_rows(self, rows: Dataset, task: Task) -> str | None:
        return missing_column(rows, ["text"]) or first_bad_row(rows["text"], lambda v: not is_text(v), "text", "text")

    def collator(self, tokenizer: PreTrainedTokenizerBase):
        from transformers import DataCollatorForLanguageModeling

        return DataCollatorForLanguageModeling(tokenizer, mlm_probability=MASKING_PROBABILITY)

    def build_model(self, encoder_path: str, task: Task) -> PreTrainedModel:
        from transformers import AutoModelForMaskedLM

        # The output layer starts as a copy of the input embeddings (XLM-R ties them): tied to
        # the shared encoder's, a checkpoint would hold one tensor twice.
        return AutoModelForMaskedLM.from_pretrained(encoder_path, tie_word_embeddings=False)

    def predict(
        self, rows: Dataset, task: Task, tokenizer, max_length: int, infer: Infer, language: str, data: str
    ) -> NoReturn:
        raise _never_evaluated(task)

    def gold(self, rows: Dataset, task: Task) -> NoReturn:
        raise _never_evaluated(task)

    def score(self, predictions: Sequence, gold: Sequence, task: Task, language: str) -> NoReturn:
        raise _never_evaluated(task)


def _never_evaluated(task: Task) -> TypeError:
    return TypeError(f"{task.name}: continued MLM is trained, never evaluated")

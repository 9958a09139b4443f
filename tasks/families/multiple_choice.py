"""Multiple choice (XCOPA; the SIQA, COPA, HellaSwag, Cosmos QA and CommonsenseQA intermediates):
a context, maybe a question, N choices, and the index of the right one.

Every choice is encoded as a pair with the same first segment, ``<s> context [question]
</s></s> choice </s>``, and the model scores the N pairs of a row together
(``AutoModelForMultipleChoice``). A prediction is the chosen index, an int.

``task.columns`` maps roles to the hub's columns:

- ``context``: the passage or premise; several columns, comma-separated, are joined with a space.
- ``question`` (optional): shown after the context. ``settings.question_text`` may map its
  values to the text shown: COPA's ``cause``/``effect`` become English connectives (the same
  English words in every XCOPA language, as the dataset stores them in English).
- ``choices``: one column per choice, comma-separated (``choice1,choice2``); or one column
  holding the list (``endings``); or a field of a struct column holding it (``choices.text``).
- ``label``: the gold choice, as its 0-based index (an int, or a digit string as in HellaSwag).
- ``label_keys`` (optional, values rather than a column): the label values that name the
  choices in order, comma-separated: ``1,2,3`` for SIQA, ``A,B,C,D,E`` for CommonsenseQA.

For example: COPA ``{"context": "premise", "question": "question", "choices": "choice1,choice2",
"label": "label"}``; HellaSwag ``{"context": "ctx", "choices": "endings", "label": "label"}``;
Cosmos QA ``{"context": "context", "question": "question", "choices":
"answer0,answer1,answer2,answer3", "label": "label"}``; CommonsenseQA ``{"context": "question",
"choices": "choices.text", "label": "answerKey", "label_keys": "A,B,C,D,E"}``.

A task whose English training data has other columns than its evaluation data (XCOPA trains
on SIQA) gives them in ``settings.train_columns``; rows that lack ``task.columns``'
columns are read with those.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tasks.families._base import Infer, TaskFamily
from tasks.scoring.accuracy import accuracy
from tasks.task import Task

if TYPE_CHECKING:
    import torch
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

Columns = Mapping[str, str]


def _columns_of(rows: Dataset, task: Task) -> Columns:
    """The column mapping that ``rows`` carry: the task's own, or its training source's."""
    for columns in (task.columns, task.settings.train_columns):
        if columns and _read_columns(columns) <= set(rows.column_names):
            return columns
    raise ValueError(
        f"{task.name}: rows with columns {rows.column_names} match neither the task's columns "
        f"{dict(task.columns)} nor settings.train_columns"
    )


def _read_columns(columns: Columns) -> set[str]:
    names = columns["context"].split(",") + columns["choices"].split(",") + [columns["label"]]
    if "question" in columns:
        names.append(columns["question"])
    # A struct field (``choices.text``) is read from its column.
    return {name.partition(".")[0] for name in names}


def _prompts(batch: Mapping[str, list], columns: Columns, question_text: Mapping[str, str]) -> list[str]:
    parts = [batch[name] for name in columns["context"].split(",")]
    if "question" in columns:
        parts.append([question_text.get(value, value) for value in batch[columns["question"]]])
    # HellaSwag's ctx_b may be empty; no doubled spaces.
    return [" ".join(part.strip() for part in row if part and part.strip()) for row in zip(*parts, strict=True)]


def _choices(batch: Mapping[str, list], columns: Columns) -> list[list[str]]:
    names = columns["choices"].split(",")
    if len(names) > 1:
        return [list(row) for row in zip(*(batch[name] for name in names), strict=True)]
    name, _, field = names[0].partition(".")
    return [list(value[field] if field else value) for value in batch[name]]


def _label_indices(batch: Mapping[str, list], columns: Columns, choices: list[list[str]]) -> list[int | None]:
    """Gold indices; None where a row is unlabelled (-1, empty or missing, as in hub test splits)."""
    keys = columns["label_keys"].split(",") if "label_keys" in columns else None
    indices: list[int | None] = []
    for value, row_choices in zip(batch[columns["label"]], choices, strict=True):
        # SIQA's labels once carried a trailing newline ("1\n").
        text = "" if value is None else str(value).strip()
        if keys is not None:
            index = keys.index(text) if text in keys else None
        else:
            index = int(text) if text.isdigit() else None
        if index is not None and index >= len(row_choices):
            raise ValueError(f"label {value!r} names choice {index} of {len(row_choices)}")
        indices.append(index)
    return indices


@dataclass(frozen=True)
class MultipleChoiceCollator:
    """Pads a batch of rows to (batch, choices, longest pair in the batch)."""

    tokenizer: PreTrainedTokenizerBase

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        import torch

        counts = {len(feature["input_ids"]) for feature in features}
        if len(counts) != 1:
            raise ValueError(f"rows of one batch have different numbers of choices: {sorted(counts)}")
        n_choices = counts.pop()
        inputs = [key for key in features[0] if key != "labels"]
        pairs = [{key: feature[key][i] for key in inputs} for feature in features for i in range(n_choices)]
        batch = self.tokenizer.pad(pairs, return_tensors="pt")
        batch = {key: value.view(len(features), n_choices, -1) for key, value in batch.items()}
        if "labels" in features[0]:
            batch["labels"] = torch.tensor([feature["labels"] for feature in features], dtype=torch.long)
        return batch


class MultipleChoice(TaskFamily):
    def encode(self, rows: Dataset, task: Task, tokenizer, max_length: int) -> Dataset:
        return self._features(rows, task, tokenizer, max_length, labelled=True)

    def check_rows(self, rows: Dataset, task: Task) -> str | None:
        try:
            columns = _columns_of(rows, task)
            for number, row in enumerate(rows, start=1):
                batch = {name: [value] for name, value in row.items()}
                try:
                    _label_indices(batch, columns, _choices(batch, columns))
                except (ValueError, TypeError, KeyError) as error:
                    return f"row {number}: {error}"
        except ValueError as error:
            return str(error)
        return None

    def _features(self, rows: Dataset, task: Task, tokenizer, max_length: int, labelled: bool) -> Dataset:
        columns = _columns_of(rows, task)
        question_text = task.settings.question_text

        def tokenize(batch: dict) -> dict:
            prompts = _prompts(batch, columns, question_text)
            choices = _choices(batch, columns)
            firsts = [prompt for prompt, row in zip(prompts, choices, strict=True) for _ in row]
            seconds = [choice for row in choices for choice in row]
            # longest_first cuts the long side (a Cosmos QA passage), never a short choice away.
            flat = tokenizer(firsts, seconds, truncation="longest_first", max_length=max_length)
            encoded: dict[str, list] = {key: [] for key in flat}
            start = 0
            for row in choices:
                for key, values in flat.items():
                    encoded[key].append(values[start : start + len(row)])
                start += len(row)
            if labelled:
                labels = _label_indices(batch, columns, choices)
                if None in labels:
                    raise ValueError(f"{task.name}: training rows without a label")
                encoded["labels"] = labels
            return encoded

        return rows.map(tokenize, batched=True, remove_columns=rows.column_names)

    def collator(self, tokenizer: PreTrainedTokenizerBase) -> MultipleChoiceCollator:
        return MultipleChoiceCollator(tokenizer)

    def build_model(self, encoder_path: str, task: Task) -> PreTrainedModel:
        # Imported here: only trials build models, and listing tasks should stay fast.
        from transformers import AutoModelForMultipleChoice

        return AutoModelForMultipleChoice.from_pretrained(encoder_path)

    def predict(
        self, rows: Dataset, task: Task, tokenizer, max_length: int, infer: Infer, language: str, data: str
    ) -> list[int]:
        features = self._features(rows, task, tokenizer, max_length, labelled=False)
        return infer(features).argmax(axis=-1).tolist()

    def gold(self, rows: Dataset, task: Task) -> list[int] | None:
        columns = _columns_of(rows, task)
        batch = rows.to_dict()
        labels = _label_indices(batch, columns, _choices(batch, columns))
        return None if None in labels else labels

    def score(self, predictions: Sequence[int], gold: Sequence[int], task: Task, language: str) -> dict[str, float]:
        return {"accuracy": accuracy(predictions, gold)}

    def submission_format(self, task: Task) -> str:
        return "choice"

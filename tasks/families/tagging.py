"""Token tagging (UD POS, PAN-X NER, CCG supertags): one tag per word, learned on the word's
first sub-token.

``task.columns`` maps ``tokens`` to the column holding a row's words and ``tags`` to the
column holding one tag per word: an index into ``task.labels`` (which lists the hub's
ClassLabel names in order) or the tag itself. Words are tokenized as given
(``is_split_into_words``); a word's first sub-token carries its tag and every other position
-100, as XTREME's run_tag does. A prediction is one tag per word; a word that no sub-token
represents (past ``max_length``, or tokenized to nothing) gets ``settings.fallback_tag``
("O" unless set), so a prediction always has as many tags as its row has words.

A source whose rows spell the tags differently (universal_dependencies, for the UD languages
google/xtreme lacks) is read through ``settings.other_schema``, used when rows lack the
``tags`` column: ``tags`` (its tag column), ``tag_names`` (that column's ClassLabel names in
order) and ``drop_where`` (``{column: value}``: rows' entries that are not words, such as
multiword-token ranges, dropped from words and tags alike).

Scores follow ``task.metric``: "f1" (XTREME's seqeval F1) or "accuracy" (the share of words
tagged right, as jiant scores CCG). A tag set too large to list in the registry (CCGbank's
some 1,300 categories, from licensed data) is ``settings.tag_set = "data"``: the task's
labels are then every tag its training and English dev splits hold, sorted, filled in by
``with_tag_set`` once the data is known.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from tasks.data import is_present, load_split, training_sources
from tasks.families._base import Infer, TaskFamily, first_bad_row, label_head, missing_column
from tasks.scoring.accuracy import accuracy
from tasks.scoring.tagging import tagging_f1
from tasks.task import Task

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# The label of positions that carry no tag; transformers' token-classification loss skips it.
IGNORED = -100


@dataclass(frozen=True)
class _Schema:
    """How one source's rows hold their tags."""

    tags: str
    tag_names: Sequence[str]
    drop_where: Mapping[str, object] = field(default_factory=dict)


def _schema(columns: Sequence[str], task: Task) -> _Schema | None:
    """The schema of rows with these columns; None where they carry no tags (unlabelled)."""
    if task.columns["tags"] in columns:
        return _Schema(task.columns["tags"], task.labels)
    other = task.settings.other_schema
    if other and other["tags"] in columns:
        return _Schema(other["tags"], tuple(other["tag_names"]), dict(other.get("drop_where", {})))
    return None


def _read(batch: Mapping[str, list], task: Task, schema: _Schema | None) -> tuple[list[list[str]], list[list[str]]]:
    """The words of each row and their tag names (empty lists where the rows carry no tags)."""
    words, tags = [], []
    for index, row_words in enumerate(batch[task.columns["tokens"]]):
        if schema is None:
            words.append(list(row_words))
            tags.append([])
            continue
        dropped = {
            position
            for column, value in schema.drop_where.items()
            for position, entry in enumerate(batch[column][index])
            if entry == value
        }
        kept = [position for position in range(len(row_words)) if position not in dropped]
        row_tags = batch[schema.tags][index]
        words.append([row_words[position] for position in kept])
        tags.append([_tag_name(row_tags[position], schema.tag_names) for position in kept])
    return words, tags


def with_tag_set(task: Task, data: str) -> Task:
    """``task`` with its labels read from ``data`` where ``settings.tag_set`` is "data" (every
    tag of its training and English dev splits, sorted); otherwise, or where that data is
    missing (the plan says so), ``task`` itself."""
    sources = (*training_sources(task), task.dev["en"]) if task.settings.tag_set == "data" else ()
    if not sources or not all(is_present(source, data) for source in sources):
        return task
    tags: set[str] = set()
    for source in sources:
        for row_tags in load_split(source, data)[task.columns["tags"]]:
            tags.update(row_tags)
    return dataclasses.replace(task, labels=tuple(sorted(tags)))


def _is_words(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(word, str) for word in value)


def _bad_tag(tags: object, n_words: int, names: Sequence[str], known: set[str] | None) -> str | None:
    """What is wrong with one row's tags: not one per word, or a tag outside the tag set."""
    if not isinstance(tags, list) or len(tags) != n_words:
        return f"is {tags!r}; valid: a list of {n_words} tags, one per word"
    for tag in tags:
        if isinstance(tag, int) and not isinstance(tag, bool) and 0 <= tag < len(names):
            continue
        if isinstance(tag, str) and (known is None or tag in known):
            continue
        return f"holds {tag!r}; valid: an index 0..{len(names) - 1} or a tag of {', '.join(names[:20])}"
    return None


def _tag_name(value: int | str, names: Sequence[str]) -> str:
    return value if isinstance(value, str) else names[value]


def _checked(tags: list[str], task: Task) -> list[str]:
    outside = [tag for tag in tags if tag not in task.labels]
    if outside:
        raise ValueError(f"{task.name}: tag {outside[0]!r} is not one of {task.labels}")
    return tags


def _word_starts(word_ids: Sequence[int | None], n_words: int) -> list[int]:
    """The position of each word's first sub-token, -1 for a word no sub-token represents."""
    starts = [-1] * n_words
    for position, word in enumerate(word_ids):
        if word is not None and starts[word] < 0:
            starts[word] = position
    return starts


def _tokenize(words: list[list[str]], tokenizer: PreTrainedTokenizerBase, max_length: int) -> tuple[dict, list]:
    """Model inputs for the rows' words, and each row's word starts."""
    encoded = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
    starts = [_word_starts(encoded.word_ids(index), len(row)) for index, row in enumerate(words)]
    return dict(encoded), starts


class Tagging(TaskFamily):
    def encode(self, rows: Dataset, task: Task, tokenizer, max_length: int) -> Dataset:
        schema = _schema(rows.column_names, task)
        if schema is None:
            raise ValueError(f"{task.name}: rows with columns {rows.column_names} carry no tags to train on")
        label_ids = {name: index for index, name in enumerate(task.labels)}

        def tokenize(batch: dict) -> dict:
            words, tags = _read(batch, task, schema)
            encoded, starts = _tokenize(words, tokenizer, max_length)
            encoded["labels"] = []
            for row_ids, row_starts, row_tags in zip(encoded["input_ids"], starts, tags, strict=True):
                labels = [IGNORED] * len(row_ids)
                for start, tag in zip(row_starts, _checked(row_tags, task), strict=True):
                    if start >= 0:
                        labels[start] = label_ids[tag]
                encoded["labels"].append(labels)
            return encoded

        return rows.map(tokenize, batched=True, remove_columns=rows.column_names)

    def check_rows(self, rows: Dataset, task: Task) -> str | None:
        words = task.columns["tokens"]
        problem = missing_column(rows, [words])
        problem = problem or first_bad_row(rows[words], lambda value: not _is_words(value), words, "a list of words")
        schema = _schema(rows.column_names, task)
        if problem or schema is None:
            return problem
        known = None if task.settings.tag_set == "data" else set(schema.tag_names)
        for number, (row_words, row_tags) in enumerate(zip(rows[words], rows[schema.tags], strict=True), start=1):
            bad = _bad_tag(row_tags, len(row_words), schema.tag_names, known)
            if bad:
                return f"row {number}: {schema.tags} {bad}"
        return None

    def collator(self, tokenizer):
        from transformers import DataCollatorForTokenClassification

        # Pads labels with -100 as well as the inputs.
        return DataCollatorForTokenClassification(tokenizer)

    def build_model(self, encoder_path: str, task: Task) -> PreTrainedModel:
        # Imported here: only trials build models, and listing tasks should stay fast.
        from transformers import AutoModelForTokenClassification

        return AutoModelForTokenClassification.from_pretrained(encoder_path, **label_head(task))

    def predict(
        self, rows: Dataset, task: Task, tokenizer, max_length: int, infer: Infer, language: str, data: str
    ) -> list[list[str]]:
        schema = _schema(rows.column_names, task)
        fallback = task.settings.fallback_tag

        def tokenize(batch: dict) -> dict:
            encoded, starts = _tokenize(_read(batch, task, schema)[0], tokenizer, max_length)
            return {**encoded, "word_starts": starts}

        features = rows.map(tokenize, batched=True, remove_columns=rows.column_names)
        # Logits of shape (rows, positions, labels); rows shorter than the longest are padded.
        predicted = np.asarray(infer(features.remove_columns("word_starts"))).argmax(axis=-1)
        return [
            [task.labels[predicted[index, start]] if start >= 0 else fallback for start in starts]
            for index, starts in enumerate(features["word_starts"])
        ]

    def gold(self, rows: Dataset, task: Task) -> list[list[str]] | None:
        schema = _schema(rows.column_names, task)
        if schema is None:
            return None
        return [_checked(tags, task) for tags in _read(rows.to_dict(), task, schema)[1]]

    def score(
        self, predictions: Sequence[Sequence[str]], gold: Sequence[Sequence[str]], task: Task, language: str
    ) -> dict[str, float]:
        if task.metric == "accuracy":
            pairs = [
                pair
                for predicted, expected in zip(predictions, gold, strict=True)
                for pair in zip(predicted, expected, strict=True)
            ]
            return {"accuracy": accuracy([p for p, _ in pairs], [g for _, g in pairs])}
        return {"f1": tagging_f1(predictions, gold)}

    def resolve(self, task: Task, data: str) -> Task:
        return with_tag_set(task, data)

    def submission_format(self, task: Task) -> str:
        return "tags"

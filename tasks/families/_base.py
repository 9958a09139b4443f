"""The narrow interface every task family implements: encode, model, predict, score; and
the hooks with defaults that a family overrides where it needs more (multi-task, MLM)."""

from __future__ import annotations

import abc
import dataclasses
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from tasks.batching import RANDOM, Batching, LengthGroupedBatches, feature_lengths
from tasks.data import HUB, is_present, load_training_stages, own_sources, training_sources
from tasks.task import Source, Task

if TYPE_CHECKING:
    # For annotations only: transformers' model classes take seconds to import.
    import numpy as np
    from datasets import Dataset
    from torch.utils.data import Sampler
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# Runs the model over encoded features (model inputs; evaluation batches features of similar
# length, and the family's collator pads each batch to its own longest) and returns its
# outputs in feature order, as Trainer.predict(...).predictions: arrays with a position axis
# hold batch padding past each feature's own length, which a family must never read.
Infer = Callable[["Dataset"], Any]
# The family of a multi-task run (``with_mlm`` makes one).
MULTITASK = "multitask"


@dataclass
class Evaluation:
    """Metrics keyed ``{split}/{metric}/{lang}`` (0-1 scale), the predictions behind them, and
    the ids that key them in submission files (None: keyed by line order)."""

    metrics: dict[str, float] = field(default_factory=dict)
    predictions: dict[tuple[str, str], list] = field(default_factory=dict)
    ids: dict[tuple[str, str], list | None] = field(default_factory=dict)


# Evaluates one task alone with one model on (languages, splits) at a max length: the
# sweeper's loop over splits, which a family calls once per task it scores.
EvaluateAlone = Callable[[Task, "PreTrainedModel", Iterable[str], Iterable[str], int], Evaluation]


class TaskFamily(abc.ABC):
    """Everything task-specific about learning and scoring one kind of task.

    A family turns raw rows (the hub's columns) into training features with a ``labels``
    column, builds the model head on a pretrained encoder, predicts one JSON-serialisable
    value per row (a label, a tag sequence, an answer string, a ranking), and scores
    predictions against gold values with the task's metric.
    """

    # Whether a trained model is scored on the task's data (continued MLM is trained only).
    evaluated: ClassVar[bool] = True
    # Whether the Trainer passes every column of a batch to the model (multi-task's model
    # routes a batch by a column of its own), rather than those the model's forward names.
    forwards_whole_batches: ClassVar[bool] = False
    # Whether every split a task of it reads is a member's (multi-task): a list of the catalog's
    # sources shows them under the members, not again under the composite task.
    reads_members_splits: ClassVar[bool] = False

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

    def submission_format(self, task: Task) -> str:
        """The layout of the task's leaderboard files (``tasks/scoring/submission.py``)."""
        raise ValueError(f"{task.name}: a {task.family} task writes no submission files")

    # Hooks with defaults: what a single task does; multi-task and MLM override them.

    def resolve(self, task: Task, data: str) -> Task:
        """``task`` as the data present makes it (CCG's tag set, a multi-task run's members)."""
        return task

    def members(self, task: Task) -> tuple[Task, ...]:
        """The tasks a composite run trains together; none for a task trained alone."""
        return ()

    def split_readers(self, task: Task, languages: Iterable[str] | None = None) -> list[tuple[Task, Source]]:
        """Every split ``task`` reads (for ``languages``), each with the task whose family reads it."""
        return [(task, source) for source in own_sources(task, languages)]

    def training_data_problem(self, task: Task, data: str) -> str | None:
        """What is missing for ``task`` to train on ``data`` (its English training stages and
        English dev split, for model selection); None where nothing is, or it trains not (BUCC)."""
        if task.train is None:
            return None
        needed = [*training_sources(task), task.dev["en"]]
        unbound = [source for source in needed if source.local_only and source.path is None]
        if data == HUB and unbound:
            layout = ", ".join(source.local_path("DIR") for source in unbound)
            if task.release is not None:
                return (
                    f"{task.name}'s data is not on the hub; valid: --local-data DIR after "
                    f"`xsweep data fetch {task.name} --out DIR` (which writes {layout})"
                )
            return f"{task.name}'s data is not on the hub (licensed); valid: --local-data DIR holding {layout}"
        missing = [source.local_path(data) for source in needed if not is_present(source, data)]
        if missing:
            return f"{task.name} needs its English training and dev data; expected {', '.join(missing)}"
        return None

    def training_stages(
        self, task: Task, data: str, tokenizer: PreTrainedTokenizerBase, max_length: int
    ) -> list[Callable[[], Dataset]]:
        """Per training stage, a function making its features (made when the stage starts)."""
        stages = load_training_stages(task, data)
        return [functools.partial(self.encode, rows, task, tokenizer, max_length) for rows in stages]

    def training_collator(self, task: Task, tokenizer: PreTrainedTokenizerBase) -> Callable:
        return self.collator(tokenizer)

    def train_lengths(self, features: Dataset) -> np.ndarray:
        """Each training feature's length in tokens, as its batch is padded (grouping sorts on it)."""
        return feature_lengths(features)

    def train_sampler(self, task: Task, features: Any, batching: Batching) -> Sampler | LengthGroupedBatches | None:
        """The order training draws features in: batches grouped by length, or (``random``)
        None, the Trainer's own shuffle."""
        if batching.order == RANDOM:
            return None
        return LengthGroupedBatches(self.train_lengths(features), batching)

    def evaluate(
        self,
        task: Task,
        model: PreTrainedModel,
        alone: EvaluateAlone,
        languages: Iterable[str],
        splits: Iterable[str],
        max_length: int,
    ) -> Evaluation:
        """The trained model's scores on ``task``'s (split, language)s."""
        return alone(task, model, languages, splits, max_length)

    def with_translations(self, task: Task, translations: Callable[[Task], tuple[Source, ...]]) -> Task:
        """``task`` training on its machine-translated data as well (``translations(task)``)."""
        return dataclasses.replace(task, train_with=(*task.train_with, *translations(task)))

    def with_local_data(self, task: Task, root: str) -> Task:
        """``task`` reading its local-only splits (no hub copy: LAReQA's pool, BUCC, Cosmos QA,
        CCG) from ``root``, a folder in the local layout, where it holds them, and every other
        split from ``--data``."""
        settings = task.settings
        named = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
        return dataclasses.replace(
            task,
            train=task.train.read_from(root) if task.train is not None else None,
            train_with=tuple(source.read_from(root) for source in task.train_with),
            then_train=task.then_train.read_from(root) if task.then_train is not None else None,
            dev={lang: source.read_from(root) for lang, source in task.dev.items()},
            test={lang: source.read_from(root) for lang, source in task.test.items()},
            settings=dataclasses.replace(
                settings, **{name: value.read_from(root) for name, value in named.items() if isinstance(value, Source)}
            ),
        )

    def with_mlm(self, task: Task, mlm: Task) -> Task:
        """``task`` interleaved with continued MLM: a two-member multi-task run selected on the
        task's own English dev score."""
        return dataclasses.replace(
            task,
            name=f"{task.name}+{mlm.name}",
            family=MULTITASK,
            metric="score",
            train=None,
            train_with=(),
            dev={},
            # MLM's text is usually far larger than the task: each member gets half the batches.
            settings={"members": (task, mlm), "sampling": "uniform"},
        )


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

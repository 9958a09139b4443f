"""The task registry: every task is a declarative entry, never code.

Names are the official XTREME scorer's keys for targets and the paper's names for
intermediate tasks. A task family (``tasks/families``) holds the code that an entry names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["target", "intermediate"]


@dataclass(frozen=True)
class Source:
    """One split of one dataset: where it lives on the hub and in a local mirror.

    The local mirror layout is ``DIR/<folder>/<config>/<split>.jsonl``, with the hub's
    own column names, so a mirror is a plain copy of what the hub serves.
    """

    folder: str
    dataset: str
    config: str | None
    split: str
    revision: str = "main"

    def local_path(self, root: str) -> str:
        return f"{root}/{self.folder}/{self.config or 'default'}/{self.split}.jsonl"


@dataclass(frozen=True)
class Recipe:
    """Fine-tuning defaults from jiant's XTREME recipe (DESIGN.md)."""

    epochs: float
    max_length: int = 256
    batch_size: int = 32
    warmup_ratio: float = 0.1


@dataclass(frozen=True)
class Size:
    """How much data the hub version holds, for cost planning: the published split sizes,
    and the mean XLM-R tokens of one example (estimated, special tokens included)."""

    train_examples: int
    eval_examples_per_language: int
    mean_tokens: int


@dataclass(frozen=True)
class Task:
    name: str
    kind: Kind
    family: str
    metric: str
    languages: tuple[str, ...]
    train: Source
    dev: Mapping[str, Source]
    test: Mapping[str, Source] = field(default_factory=dict)
    columns: Mapping[str, str] = field(default_factory=dict)
    labels: tuple[str, ...] = ()
    # The name of the English dataset the task trains on (MNLI for XNLI), so a cell whose
    # intermediate is that same dataset can be flagged.
    train_source: str = ""
    recipe: Recipe = Recipe(epochs=2)
    size: Size = Size(0, 0, 0)

    @property
    def non_english(self) -> tuple[str, ...]:
        return tuple(lang for lang in self.languages if lang != "en")


def _per_language(
    folder: str,
    dataset: str,
    languages: tuple[str, ...],
    split: str,
    revision: str,
) -> dict[str, Source]:
    return {lang: Source(folder, dataset, lang, split, revision) for lang in languages}


XNLI_LANGUAGES = tuple("ar bg de el en es fr hi ru sw th tr ur vi zh".split())
PAWSX_LANGUAGES = tuple("de en es fr ja ko zh".split())
NLI_LABELS = ("entailment", "neutral", "contradiction")
NLI_COLUMNS = {"text_a": "premise", "text_b": "hypothesis", "label": "label"}

# These hub repositories hold parquet files on their default branch, which `datasets`
# loads as data without running scripts. The revision enters every cell key.
GLUE = "nyu-mll/glue"
GLUE_REVISION = "main"
XNLI = "facebook/xnli"
XNLI_REVISION = "main"
PAWSX = "google-research-datasets/paws-x"
PAWSX_REVISION = "main"

MNLI_TRAIN = Source("mnli", GLUE, "mnli", "train", GLUE_REVISION)

TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            name="mnli",
            kind="intermediate",
            family="classification",
            metric="accuracy",
            languages=("en",),
            train=MNLI_TRAIN,
            dev={"en": Source("mnli", GLUE, "mnli", "validation_matched", GLUE_REVISION)},
            columns=NLI_COLUMNS,
            labels=NLI_LABELS,
            train_source="mnli",
            recipe=Recipe(epochs=2),
            size=Size(train_examples=392_702, eval_examples_per_language=9_815, mean_tokens=48),
        ),
        Task(
            name="qqp",
            kind="intermediate",
            family="classification",
            metric="accuracy",
            languages=("en",),
            train=Source("qqp", GLUE, "qqp", "train", GLUE_REVISION),
            dev={"en": Source("qqp", GLUE, "qqp", "validation", GLUE_REVISION)},
            columns={"text_a": "question1", "text_b": "question2", "label": "label"},
            labels=("not_duplicate", "duplicate"),
            train_source="qqp",
            recipe=Recipe(epochs=2),
            size=Size(train_examples=363_846, eval_examples_per_language=40_430, mean_tokens=34),
        ),
        Task(
            name="xnli",
            kind="target",
            family="classification",
            metric="accuracy",
            languages=XNLI_LANGUAGES,
            train=MNLI_TRAIN,
            dev=_per_language("xnli", XNLI, XNLI_LANGUAGES, "validation", XNLI_REVISION),
            test=_per_language("xnli", XNLI, XNLI_LANGUAGES, "test", XNLI_REVISION),
            columns=NLI_COLUMNS,
            labels=NLI_LABELS,
            train_source="mnli",
            recipe=Recipe(epochs=2),
            size=Size(train_examples=392_702, eval_examples_per_language=2_490 + 5_010, mean_tokens=48),
        ),
        Task(
            name="pawsx",
            kind="target",
            family="classification",
            metric="accuracy",
            languages=PAWSX_LANGUAGES,
            train=Source("pawsx", PAWSX, "en", "train", PAWSX_REVISION),
            dev=_per_language("pawsx", PAWSX, PAWSX_LANGUAGES, "validation", PAWSX_REVISION),
            test=_per_language("pawsx", PAWSX, PAWSX_LANGUAGES, "test", PAWSX_REVISION),
            columns={"text_a": "sentence1", "text_b": "sentence2", "label": "label"},
            labels=("different", "paraphrase"),
            train_source="paws",
            recipe=Recipe(epochs=5),
            size=Size(train_examples=49_401, eval_examples_per_language=2_000 + 2_000, mean_tokens=60),
        ),
    )
}


def targets() -> list[Task]:
    return [task for task in TASKS.values() if task.kind == "target"]


def intermediates() -> list[Task]:
    return [task for task in TASKS.values() if task.kind == "intermediate"]


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; valid: {', '.join(TASKS)}") from None

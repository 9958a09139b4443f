"""What a task entry is: its sources, recipe, size and the fields a family reads."""

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
    # Where several languages share one split (TyDiQA-GoldP): only the rows whose id starts
    # so ("english" for "english-…"). The local mirror keeps the whole split.
    id_prefix: str | None = None
    # A file of the user's own, read wherever --data points (translated intermediate data,
    # text for continued MLM): JSON lines, or plain text (``.txt``, a ``text`` column).
    path: str | None = None

    @property
    def local_only(self) -> bool:
        """No hub copy (licensed data: CCGbank): the user brings it in the local layout."""
        return not self.dataset

    def local_path(self, root: str) -> str:
        if self.path is not None:
            return self.path
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
    # None: evaluated straight from the encoder (BUCC; Tatoeba in XTREME).
    train: Source | None
    dev: Mapping[str, Source]
    test: Mapping[str, Source] = field(default_factory=dict)
    # A second English training stage after ``train`` (XCOPA: SIQA, then COPA).
    then_train: Source | None = None
    # More training data in ``train``'s columns, shuffled in with it (ANLI+: ANLI R1-R3
    # with MNLI and SNLI).
    train_with: tuple[Source, ...] = ()
    columns: Mapping[str, str] = field(default_factory=dict)
    labels: tuple[str, ...] = ()
    # The name of the English dataset the task trains on (MNLI for XNLI), so a cell whose
    # intermediate is that same dataset can be flagged.
    train_source: str = ""
    recipe: Recipe = Recipe(epochs=2)
    size: Size = Size(0, 0, 0)
    # Family-specific knobs with the family's defaults when absent (QA's doc stride,
    # retrieval's pooling layer); data, so a new task changes no code.
    settings: Mapping[str, object] = field(default_factory=dict)

    @property
    def non_english(self) -> tuple[str, ...]:
        return tuple(lang for lang in self.languages if lang != "en")


def per_language(
    folder: str,
    dataset: str,
    languages: tuple[str, ...],
    split: str,
    revision: str,
) -> dict[str, Source]:
    """One source per language, the language being the dataset's config."""
    return {lang: Source(folder, dataset, lang, split, revision) for lang in languages}

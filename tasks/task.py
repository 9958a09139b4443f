"""What a task entry is: its sources, recipe, size, submission layout and the settings its
family reads (each family's settings a frozen dataclass, checked when the entry is made)."""

from __future__ import annotations

import functools
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

Kind = Literal["target", "intermediate"]
CONVERTED = "refs/convert/parquet"


def is_commit(revision: str) -> bool:
    """A full commit SHA (40 hex digits), not a branch or tag that can move."""
    return len(revision) == 40 and all(c in "0123456789abcdef" for c in revision)


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
    # How the repository holds the split at ``revision`` (tasks/hub.py): "configs", parquet
    # files its README's ``configs`` name, loaded by config name; "converted", the hub's parquet
    # export (``<config>/<split>/NNNN.parquet``, no README), read by file path: there `datasets`
    # knows one config, ``default``, and refuses the config names; "files", a converted
    # repository's ``<config>/<split>-NNNNN-of-NNNNN.parquet`` read by file path, which
    # `datasets` loads at a revision whose tree still holds a loading script (it refuses such a
    # repository by name); "archive", JSON lines in a ``<config>.jsonl.tar.gz`` at the
    # repository's root with no README config (Mewsli-X's candidates), read by path through
    # `datasets`' json builder, which extracts archives.
    layout: Literal["configs", "converted", "files", "archive"] = "configs"

    @property
    def pinned(self) -> bool:
        """Whether ``revision`` is a commit: the data a cell saw cannot change under it."""
        return is_commit(self.revision)

    @property
    def local_only(self) -> bool:
        """No hub copy (licensed data: CCGbank): the user brings it in the local layout."""
        return not self.dataset

    def local_path(self, root: str) -> str:
        if self.path is not None:
            return self.path
        return f"{root}/{self.folder}/{self.config or 'default'}/{self.split}.jsonl"

    def read_from(self, root: str) -> Source:
        """A local-only split that ``root``'s local layout (``--local-data``) holds, read from
        there whatever ``--data`` says; any other split (one ``root`` lacks: CCG kept in a
        ``--data`` mirror) as it is."""
        path = self.local_path(root)
        if not self.local_only or self.path is not None or not Path(path).is_file():
            return self
        return replace(self, path=path)


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
class Submission:
    """Where a target's predictions go on the leaderboards (``tasks/scoring/submission.py``);
    the file format follows from the family."""

    # The leaderboards that score the task: "xtreme", "xtreme-r".
    benchmarks: tuple[str, ...] = ()
    # The task's languages that XTREME-R added: XTREME scores the others.
    added_in_xtreme_r: tuple[str, ...] = ()
    # Label files hold the label's index (PAWS-X), not its name (XNLI).
    labels_as_indices: bool = False


@dataclass(frozen=True)
class Release:
    """Where a local-only task's official files are, for ``xsweep data fetch`` (tasks/fetch.py):
    ``base_url`` and the files under it, ``{lang}`` standing for each of the task's languages."""

    base_url: str
    files: tuple[str, ...]

    def urls(self, languages: tuple[str, ...], base_url: str | None = None) -> dict[str, str]:
        """Each file's name (languages filled in) -> its URL, under ``base_url`` where given."""
        base = (base_url or self.base_url).rstrip("/") + "/"
        names = dict.fromkeys(name.format(lang=lang) for lang in languages for name in self.files)
        return {name: base + name for name in names}


class SettingsError(ValueError):
    """An entry's settings name an unknown knob or give one a value of the wrong type."""


@dataclass(frozen=True)
class Settings:
    """The knobs of a family without any (classification, MLM); the base of the others.

    Every field's value is checked against its annotation when the settings are made."""

    def __post_init__(self) -> None:
        for name, hint in _hints(type(self)).items():
            value = getattr(self, name)
            if not _fits(value, hint):
                raise SettingsError(f"{name} {value!r} is not {_spelled(hint)}")

    def sources(self) -> tuple[Source, ...]:
        """Splits the settings name (Mewsli-X's candidate entities): read, checked, mirrored."""
        return tuple(getattr(self, f.name) for f in fields(self) if isinstance(getattr(self, f.name), Source))


@dataclass(frozen=True)
class MultipleChoiceSettings(Settings):
    # The columns of English training data laid out otherwise than the task's (XCOPA's SIQA).
    train_columns: Mapping[str, str] | None = None
    # The text shown for a question value (COPA's cause/effect as English connectives).
    question_text: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TaggingSettings(Settings):
    # The tag of a word no sub-token represents.
    fallback_tag: str = "O"
    # How rows of another source spell their tags: ``tags``, ``tag_names``, ``drop_where``.
    other_schema: Mapping[str, object] | None = None
    # "data": the labels are every tag of the training and English dev splits (CCG).
    tag_set: Literal["labels", "data"] = "labels"


@dataclass(frozen=True)
class SpanQASettings(Settings):
    doc_stride: int = 128
    max_question_length: int = 64
    n_best: int = 20
    max_answer_length: int = 30
    normalisation: Literal["squad", "mlqa"] = "squad"
    unanswerable: bool = False
    null_score_threshold: float = 0.0


@dataclass(frozen=True)
class RetrievalSettings(Settings):
    setup: Literal["translation", "mining", "answer", "entity"]
    layer: float | int = 14 / 24
    normalize: bool = True
    logit_scale: float = 100.0
    query_side: Literal["source", "target"] = "source"
    alternate_columns: Mapping[str, str] = field(default_factory=dict)
    candidates: Source | None = None
    train_language: str | None = None
    neighbourhood: int = 4


@dataclass(frozen=True)
class MultiTaskSettings(Settings):
    # Registry names in the catalog; resolved tasks in a run's effective task.
    members: tuple[str | Task, ...]
    sampling: Literal["temperature", "proportional", "uniform"] = "temperature"
    temperature: float = 2.0
    # The members left out for want of data (filled in when the task is resolved).
    left_out: tuple[Task, ...] = ()


# The settings type of each family; an entry of a family not listed here is refused.
SETTINGS: dict[str, type[Settings]] = {
    "classification": Settings,
    "multiple_choice": MultipleChoiceSettings,
    "tagging": TaggingSettings,
    "span_qa": SpanQASettings,
    "retrieval": RetrievalSettings,
    "multitask": MultiTaskSettings,
    "mlm": Settings,
}


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
    # The family's knobs: written as a mapping in the catalog (plain data), held as the
    # family's settings dataclass (its defaults where a key is absent).
    settings: Settings = field(default_factory=Settings)
    submission: Submission = Submission()
    # The official files a local-only task is built from (``xsweep data fetch``).
    release: Release | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", _settings(self.name, self.family, self.settings))

    @property
    def non_english(self) -> tuple[str, ...]:
        return tuple(lang for lang in self.languages if lang != "en")


def _settings(entry: str, family: str, given: Settings | Mapping[str, object]) -> Settings:
    """``given`` as ``family``'s settings; a ``SettingsError`` naming ``entry`` where it is not."""
    kind = SETTINGS.get(family)
    if kind is None:
        raise SettingsError(f"task {entry!r}: no family {family!r}; valid: {', '.join(SETTINGS)}")
    if type(given) is kind:
        return given
    if type(given) is Settings:
        given = {}  # the default: none given
    if not isinstance(given, Mapping):
        raise SettingsError(f"task {entry!r}: settings are a {type(given).__name__}; valid: {kind.__name__}")
    known = [f.name for f in fields(kind)]
    unknown = [key for key in given if key not in known]
    if unknown:
        raise SettingsError(f"task {entry!r}: unknown setting {unknown[0]!r}; valid: {', '.join(known) or 'none'}")
    try:
        return kind(**given)
    except (TypeError, SettingsError) as error:  # a wrong type, or a required setting left out
        raise SettingsError(f"task {entry!r}: settings: {error}") from None


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    return {name: hint for name, hint in get_type_hints(kind).items() if name in {f.name for f in fields(kind)}}


def _fits(value: object, hint: Any) -> bool:
    """Whether ``value`` is of the annotated type (unions, literals, tuples, mappings, classes)."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        return any(_fits(value, arg) for arg in args)
    if origin is Literal:
        return value in args
    if origin is tuple:
        return isinstance(value, tuple) and all(_fits(item, args[0]) for item in value)
    if origin is Mapping:
        return isinstance(value, Mapping) and all(_fits(k, args[0]) and _fits(v, args[1]) for k, v in value.items())
    if hint is object:
        return True
    if hint is type(None):
        return value is None
    if hint in (int, float) and isinstance(value, bool):
        return False
    if hint is float:
        return isinstance(value, int | float)
    return isinstance(value, hint)


def _spelled(hint: Any) -> str:
    if get_origin(hint) is Literal:
        return " or ".join(repr(arg) for arg in get_args(hint))
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "").replace("collections.abc.", "").replace("tasks.task.", "")


def per_language(
    folder: str,
    dataset: str,
    languages: tuple[str, ...],
    split: str,
    revision: str,
) -> dict[str, Source]:
    """One source per language, the language being the dataset's config."""
    return {lang: Source(folder, dataset, lang, split, revision) for lang in languages}

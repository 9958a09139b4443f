"""The paper's two alternatives to plain intermediate training, as settings of a sweep's
intermediate runs: machine-translated intermediate data, and continued multilingual MLM on
text the user points to, interleaved with the intermediate task."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tasks.families import family_of
from tasks.families.mlm import mlm_task, text_files
from tasks.task import Source, Task


class AlternativeError(ValueError):
    """A missing or empty input of an alternative; the message names the setting."""


@dataclass(frozen=True)
class Alternatives:
    """A sweep's alternatives for its intermediate runs (absolute paths), or None."""

    translated_data: str | None = None
    mlm_text: str | None = None


def translated_sources(task: Task, directory: str | Path) -> tuple[Source, ...]:
    """``DIR/<task>/<lang>/train.jsonl``: the task's training data machine-translated into
    each ``<lang>``, in the English training split's columns."""
    files = sorted(Path(directory).glob(f"{task.name}/*/train.jsonl"))
    if not files:
        raise AlternativeError(
            f"--translated-data: no {directory}/{task.name}/<lang>/train.jsonl for intermediate {task.name}"
        )
    return tuple(Source(task.name, "translated", file.parent.name, "train", path=str(file.resolve())) for file in files)


def check_inputs(translated_data: str | None, mlm_text: str | None) -> None:
    """Refuse a path that is not there before anything starts."""
    if translated_data is not None and not Path(translated_data).is_dir():
        raise AlternativeError(
            f"--translated-data: {translated_data} is not a directory; valid: DIR/<task>/<lang>/train.jsonl"
        )
    if mlm_text is not None and not (Path(mlm_text).exists() and text_files(mlm_text)):
        raise AlternativeError(f"--mlm-text: {mlm_text} is neither a .txt file nor a directory holding .txt files")


def with_alternatives(task: Task, alternatives: Alternatives) -> Task:
    """The intermediate task a run trains: its own English data, plus translations where
    given, interleaved with MLM on the given text where given (each family says how: a
    multi-task run's members each take their translations). A target is returned as it is."""
    if task.kind != "intermediate":
        return task
    if alternatives.translated_data is not None:
        directory = alternatives.translated_data
        task = family_of(task.family).with_translations(task, lambda member: translated_sources(member, directory))
    if alternatives.mlm_text is not None:
        task = family_of(task.family).with_mlm(task, mlm_task(alternatives.mlm_text))
    return task

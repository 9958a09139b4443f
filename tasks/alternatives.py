"""The paper's two alternatives to plain intermediate training, as settings of a sweep's
intermediate runs: machine-translated intermediate data, and continued multilingual MLM on
text the user points to, interleaved with the intermediate task."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tasks.mlm import mlm_task, text_files
from tasks.multitask import MULTITASK, is_multitask
from tasks.task import Source, Task


class AlternativeError(ValueError):
    """A missing or empty input of an alternative; the message names the setting."""


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


def with_alternatives(task: Task, translated_data: str | None, mlm_text: str | None) -> Task:
    """The intermediate task a run trains: its own English data, plus translations where
    given, interleaved with MLM on the given text where given (a two-member multi-task run
    selected on the task's own English dev score). A target is returned as it is."""
    if task.kind != "intermediate":
        return task
    if translated_data is not None:
        if is_multitask(task):
            from tasks.multitask import member_tasks

            members = tuple(with_alternatives(member, translated_data, None) for member in member_tasks(task))
            task = dataclasses.replace(task, settings={**task.settings, "members": members})
        else:
            task = dataclasses.replace(task, train_with=(*task.train_with, *translated_sources(task, translated_data)))
    if mlm_text is None:
        return task
    if is_multitask(task):
        members = (*task.settings["members"], mlm_task(mlm_text))
        return dataclasses.replace(task, settings={**task.settings, "members": members})
    return dataclasses.replace(
        task,
        name=f"{task.name}+mlm",
        family=MULTITASK,
        metric="score",
        train=None,
        train_with=(),
        dev={},
        # MLM's text is usually far larger than the task: each member gets half the batches.
        settings={"members": (task, mlm_task(mlm_text)), "sampling": "uniform"},
    )

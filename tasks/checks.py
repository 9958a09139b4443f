"""Data checked before a sweep writes anything: every split a task reads, against the columns,
types and labels its family reads, with the first offending file and row in the message."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from tasks.data import HUB, DataError, task_sources
from tasks.families import family_of
from tasks.families._base import first_bad_row, is_text, missing_column
from tasks.mlm import MLM
from tasks.multitask import is_multitask, member_tasks
from tasks.task import Source, Task

if TYPE_CHECKING:
    from datasets import Dataset


def split_readers(task: Task, languages: Iterable[str] | None = None) -> list[tuple[Task, Source]]:
    """Every split ``task`` reads (as ``task_sources``, in its order), each with the task whose
    family reads its rows: a multi-task run's member, not the run."""
    if is_multitask(task):
        return [pair for member in member_tasks(task) for pair in split_readers(member, ("en",))]
    return [(task, source) for source in task_sources(task, languages)]


def check_split(task: Task, source: Source, rows: Dataset, data: str) -> None:
    """Raise ``DataError`` naming the split, the task and the first offending row, where
    ``task``'s family could not read ``rows``."""
    if len(rows) == 0:
        problem: str | None = "no rows; valid: at least one"
    elif source in task.settings.values():
        problem = None  # another table the family reads its own way (Mewsli-X's candidates)
    elif task.family == MLM:
        problem = missing_column(rows, ["text"]) or first_bad_row(
            rows["text"], lambda v: not is_text(v), "text", "text"
        )
    else:
        problem = family_of(task.family).check_rows(rows, task)
    if problem:
        where = (
            source.local_path(data)
            if data != HUB or source.path
            else f"{source.dataset}:{source.config}:{source.split}"
        )
        raise DataError(f"--data: {where} ({task.name}): {problem}")

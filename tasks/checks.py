"""Data checked before a sweep writes anything: every split a task reads, against the columns,
types and labels its family reads, with the first offending file and row in the message."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasks.data import HUB, DataError
from tasks.families import family_of
from tasks.task import Source, Task

if TYPE_CHECKING:
    from datasets import Dataset


def check_split(task: Task, source: Source, rows: Dataset, data: str) -> None:
    """Raise ``DataError`` naming the split, the task and the first offending row, where
    ``task``'s family could not read ``rows``."""
    if len(rows) == 0:
        problem: str | None = "no rows; valid: at least one"
    elif source in task.settings.sources():
        problem = None  # another table the family reads its own way (Mewsli-X's candidates)
    else:
        problem = family_of(task.family).check_rows(rows, task)
    if problem:
        where = (
            source.local_path(data)
            if data != HUB or source.path
            else f"{source.dataset}:{source.config}:{source.split}"
        )
        option = "--local-data" if source.local_only and source.path else "--data"
        raise DataError(f"{option}: {where} ({task.name}): {problem}")

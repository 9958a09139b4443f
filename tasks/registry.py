"""The task registry: every task is a declarative entry (``tasks/catalog``), never code.

Names are the official XTREME scorer's keys for targets and the paper's names for
intermediate tasks. A task family (``tasks/families``) holds the code that an entry names.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tasks.catalog import ENTRIES
from tasks.task import Kind, Recipe, Size, Source, Submission, Task

TASKS: dict[str, Task] = {task.name: task for task in ENTRIES}


def targets() -> list[Task]:
    return [task for task in TASKS.values() if task.kind == "target"]


def intermediates() -> list[Task]:
    return [task for task in TASKS.values() if task.kind == "intermediate"]


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; valid: {', '.join(TASKS)}") from None


@contextmanager
def registered(task: Task) -> Iterator[Task]:
    """``task`` in the registry for the duration of the block, as if it were a catalog entry
    (a task of the user's own, in this process only); an existing name is refused."""
    if task.name in TASKS:
        raise ValueError(f"task {task.name!r} is already registered")
    TASKS[task.name] = task
    try:
        yield task
    finally:
        del TASKS[task.name]


__all__ = [
    "TASKS",
    "Kind",
    "Recipe",
    "Size",
    "Source",
    "Submission",
    "Task",
    "get_task",
    "intermediates",
    "registered",
    "targets",
]

"""The task registry: every task is a declarative entry (``tasks/catalog``), never code.

Names are the official XTREME scorer's keys for targets and the paper's names for
intermediate tasks. A task family (``tasks/families``) holds the code that an entry names.
"""

from __future__ import annotations

from tasks.catalog import ENTRIES
from tasks.task import Kind, Recipe, Size, Source, Task

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


__all__ = ["TASKS", "Kind", "Recipe", "Size", "Source", "Task", "get_task", "intermediates", "targets"]

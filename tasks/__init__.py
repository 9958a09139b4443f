"""What is learned and how it is scored: the task registry, task families, data loading."""

from tasks.data import (
    HUB,
    DataError,
    fingerprint,
    is_present,
    languages_present,
    load_split,
    load_training_stages,
    mirror_sources,
    mirror_split,
    task_sources,
    texts_of,
    training_sources,
    write_split,
)
from tasks.families import FAMILIES, TaskFamily, family_of
from tasks.registry import TASKS, Recipe, Size, Source, Task, get_task, intermediates, targets

__all__ = [
    "FAMILIES",
    "DataError",
    "HUB",
    "TASKS",
    "Recipe",
    "Size",
    "Source",
    "Task",
    "TaskFamily",
    "family_of",
    "fingerprint",
    "get_task",
    "intermediates",
    "is_present",
    "languages_present",
    "load_split",
    "load_training_stages",
    "mirror_sources",
    "mirror_split",
    "task_sources",
    "targets",
    "texts_of",
    "training_sources",
    "write_split",
]

"""What is learned and how it is scored: the task registry, task families, data loading."""

from tasks.alternatives import Alternatives
from tasks.data import (
    HUB,
    DataError,
    fingerprint,
    is_present,
    languages_present,
    load_split,
    load_training_stages,
    mirror_split,
    texts_of,
    training_sources,
    write_split,
)
from tasks.families import FAMILIES, Evaluation, TaskFamily, family_of
from tasks.registry import TASKS, Recipe, Size, Source, Task, get_task, intermediates, registered, targets
from tasks.resolve import resolve, resolve_task, with_local_data
from tasks.sources import mirror_sources, split_readers, task_sources

__all__ = [
    "FAMILIES",
    "Alternatives",
    "DataError",
    "Evaluation",
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
    "registered",
    "resolve",
    "resolve_task",
    "split_readers",
    "task_sources",
    "targets",
    "texts_of",
    "training_sources",
    "with_local_data",
    "write_split",
]

"""Task families: the code behind registry entries, one class per kind of task."""

from tasks.families._base import TaskFamily
from tasks.families.classification import Classification

FAMILIES: dict[str, TaskFamily] = {"classification": Classification()}


def family_of(task_family: str) -> TaskFamily:
    return FAMILIES[task_family]


__all__ = ["FAMILIES", "TaskFamily", "family_of"]

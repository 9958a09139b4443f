"""The effective task of a run: the catalog entry as the data present and the sweep's
alternatives make it. The plan resolves each task once, and so does each trial."""

from __future__ import annotations

from tasks.alternatives import Alternatives, with_alternatives
from tasks.families import family_of
from tasks.registry import get_task
from tasks.task import Task

NO_ALTERNATIVES = Alternatives()


def resolve(name: str, data: str, alternatives: Alternatives = NO_ALTERNATIVES) -> Task:
    """The task ``name`` as a run on ``data`` trains and scores it: a multi-task run narrowed
    to its members with data, CCG's tag set read from its data, then the alternatives
    applied (translated training data, an MLM member)."""
    return resolve_task(get_task(name), data, alternatives)


def resolve_task(task: Task, data: str, alternatives: Alternatives = NO_ALTERNATIVES) -> Task:
    """As ``resolve``, for a task that is not (or not only) a catalog entry."""
    return with_alternatives(family_of(task.family).resolve(task, data), alternatives)

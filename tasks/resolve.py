"""The effective task of a run: the catalog entry as the data present and the sweep's
alternatives make it. The plan resolves each task once, and so does each trial."""

from __future__ import annotations

from tasks.alternatives import Alternatives, with_alternatives
from tasks.families import family_of
from tasks.registry import get_task
from tasks.task import Task

NO_ALTERNATIVES = Alternatives()


def resolve(name: str, data: str, alternatives: Alternatives = NO_ALTERNATIVES, local_data: str | None = None) -> Task:
    """The task ``name`` as a run on ``data`` trains and scores it: its local-only splits read
    from ``local_data`` where given, a multi-task run narrowed to its members with data, CCG's
    tag set read from its data, then the alternatives applied (translated training data, an
    MLM member)."""
    return resolve_task(get_task(name), data, alternatives, local_data)


def resolve_task(
    task: Task, data: str, alternatives: Alternatives = NO_ALTERNATIVES, local_data: str | None = None
) -> Task:
    """As ``resolve``, for a task that is not (or not only) a catalog entry."""
    task = with_local_data(task, local_data)
    return with_alternatives(family_of(task.family).resolve(task, data), alternatives)


def with_local_data(task: Task, local_data: str | None) -> Task:
    """``task`` reading its local-only splits (LAReQA's pool, BUCC, Cosmos QA, CCG: no hub copy)
    from ``local_data``, a folder in the local layout (``xsweep data fetch --out``), where it
    holds them, and the others from ``--data``; as it is without one."""
    if local_data is None:
        return task
    return family_of(task.family).with_local_data(task, local_data)

"""Every split a task reads, through its family (a multi-task run's are its members'): for
checks before a sweep, data fingerprints, and local mirrors."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from tasks.families import family_of
from tasks.task import Source, Task


def split_readers(task: Task, languages: Iterable[str] | None = None) -> list[tuple[Task, Source]]:
    """Every split ``task`` reads (for ``languages``, default all of its own), each with the
    task whose family reads its rows: a multi-task run's member, not the run."""
    return family_of(task.family).split_readers(task, languages)


def task_sources(task: Task, languages: Iterable[str] | None = None) -> list[Source]:
    """Every split a task reads: its training stages, dev and test per language (English dev
    always, where it trains), and sources its settings name (Mewsli-X's candidate entities)."""
    return [source for _, source in split_readers(task, languages)]


def mirror_sources(task: Task, languages: Iterable[str] | None = None) -> list[Source]:
    """The hub splits a local mirror of ``task`` holds: each split whole (a split several
    languages share is one file, filtered when read), each once; local-only ones (CCG) are
    the user's to bring."""
    whole = {replace(source, id_prefix=None) for source in task_sources(task, languages) if not source.local_only}
    return sorted(whole, key=lambda source: source.local_path(""))

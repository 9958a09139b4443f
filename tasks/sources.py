"""Every split a task reads, through its family (a multi-task run's are its members'): for
checks before a sweep, data fingerprints, and local mirrors."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from tasks.facts import evidence_of
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


def labelled(readers: Iterable[tuple[Task, Source]]) -> list[tuple[str, str, Source]]:
    """Each (reading task, split) as (task, language, split): the language a dev or test split
    is for, "train" for a training stage, "-" for a split the settings name; each once."""
    rows = []
    for reader, source in readers:
        by_language = {**{s: lang for lang, s in reader.test.items()}, **{s: lang for lang, s in reader.dev.items()}}
        label = by_language.get(source) or ("-" if source in reader.settings.sources() else "train")
        rows.append((reader.name, label, source))
    return list(dict.fromkeys(rows))


def labelled_sources(task: Task, languages: Iterable[str] | None = None) -> list[tuple[str, str, Source]]:
    """Every split ``task`` reads, labelled (``labelled``): the lines of ``xsweep data check``."""
    return labelled(split_readers(task, languages))


def source_table(tasks: Iterable[Task]) -> str:
    """The catalog's hub sources as a Markdown table (task, repository, revision, layout,
    evidence, languages): docs/tasks.md's table is this text, so that it cannot drift from the
    entries. Evidence is the hub facts' (``tasks/facts.py``): "read", "cited" or "unverified"."""
    rows: dict[tuple[str, str, str, str], list[str]] = {}
    for task in tasks:
        if family_of(task.family).reads_members_splits:
            continue  # its members' sources are theirs
        for name, label, source in labelled_sources(task):
            repo = source.dataset or "(local only)"
            revision = source.revision if source.dataset else "-"
            layout = source.layout if source.dataset else "local"
            languages = rows.setdefault((name, repo, revision, layout), [])
            if label not in languages:
                languages.append(label)
    lines = ["| task | repository | revision | layout | evidence | languages |", "|---|---|---|---|---|---|"]
    for (name, repo, revision, layout), languages in rows.items():
        evidence = evidence_of(repo, revision) if layout != "local" else "-"
        lines.append(f"| {name} | {repo} | `{revision}` | {layout} | {evidence} | {' '.join(languages)} |")
    return "\n".join(lines) + "\n"

"""Data checked before a sweep writes anything: every split a task reads, against the columns,
types and labels its family reads, with the first offending file and row in the message."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tasks.data import HUB, DataError
from tasks.families import family_of
from tasks.hub import (
    FOOTER_READERS,
    Listing,
    fetch_listing,
    footer_schema,
    listing_error,
    source_problem,
    split_files,
)
from tasks.task import Source, Task

if TYPE_CHECKING:
    import pyarrow
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


# -- the hub's sources against what `datasets` will refuse (``xsweep data check``) --


def columns_problem(task_name: str, source: Source, schema: pyarrow.Schema) -> str | None:
    """What ``task_name``'s family cannot read in a split of ``schema``'s columns (its own
    check, on no rows: the columns and their kinds), or None; None too for a task not
    registered or a table its settings name (Mewsli-X's candidates, read their own way)."""
    from datasets import Dataset

    from tasks.registry import TASKS

    task = TASKS.get(task_name)
    if task is None or source in task.settings.sources():
        return None
    return family_of(task.family).check_rows(Dataset(schema.empty_table()), task)


@dataclass(frozen=True)
class SourceCheck:
    """One source's line of ``xsweep data check``."""

    task: str
    language: str
    source: Source
    # The commit the hub serves for the revision ("" where it could not be reached).
    served: str
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def line(self) -> str:
        where = f"{self.source.dataset}@{self.source.revision}"
        split = f"{self.source.config or 'default'}/{self.source.split}"
        status = f"OK (commit {self.served[:12]})" if self.ok else f"FAILED: {self.problem}"
        return f"{self.task:<14} {self.language:<4} {where} {split}: {status}"


def check_sources(wanted: Iterable[tuple[str, str, Source]], endpoint: str | None = None) -> list[SourceCheck]:
    """Each (task, language, source) checked against what `datasets` will refuse: its
    repository's listing (a loading script, the config, the split's files), then the columns
    in its first parquet file's footer against what the task reads. Each repository at each
    revision is listed once, each file's footer read once (a few at a time: hundreds of
    splits are hundreds of small requests). Local-only sources are not the hub's."""
    listings: dict[tuple[str, str], Listing | str] = {}
    found: list[tuple[str, str, Source, Listing | str, str | None, tuple[str, str, str] | None]] = []
    for task, language, source in wanted:
        if source.local_only or source.path is not None:
            continue
        key = (source.dataset, source.revision)
        if key not in listings:
            try:
                listings[key] = fetch_listing(*key, endpoint=endpoint)
            except Exception as error:  # noqa: BLE001 - every hub failure is one line of the report
                listings[key] = listing_error(error)
        listing = listings[key]
        problem, footer = (listing, None) if isinstance(listing, str) else (source_problem(source, listing), None)
        if not isinstance(listing, str) and problem is None:
            parquet = [path for path in split_files(source, listing) if path.endswith(".parquet")]
            footer = (source.dataset, listing.sha, parquet[0]) if parquet else None
        found.append((task, language, source, listing, problem, footer))
    footers = _read_footers({footer for *_, footer in found if footer is not None}, endpoint)
    checks = []
    for task, language, source, listing, problem, footer in found:
        if footer is not None:
            schema = footers[footer]
            problem = schema if isinstance(schema, str) else columns_problem(task, source, schema)
            problem = f"{footer[2]}: {problem}" if problem else None
        checks.append(SourceCheck(task, language, source, "" if isinstance(listing, str) else listing.sha, problem))
    return checks


def _read_footers(
    footers: set[tuple[str, str, str]], endpoint: str | None
) -> dict[tuple[str, str, str], pyarrow.Schema | str]:
    """Each (repository, commit, file)'s schema, or why it could not be read."""
    from concurrent.futures import ThreadPoolExecutor

    def read(footer: tuple[str, str, str]) -> pyarrow.Schema | str:
        try:
            return footer_schema(*footer, endpoint=endpoint)
        except Exception as error:  # noqa: BLE001 - an unreadable file is a line too
            return f"footer unreadable ({listing_error(error)})"

    ordered = sorted(footers)
    with ThreadPoolExecutor(max_workers=FOOTER_READERS) as pool:
        return dict(zip(ordered, pool.map(read, ordered), strict=True))

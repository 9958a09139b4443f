"""Loading a task's splits through `datasets`: from the hub, or from a local mirror.

``data`` is either ``"hub"`` or a directory laid out as ``DIR/<task>/<config>/<split>.jsonl``
(see ``Source.local_path``), holding the hub's own columns.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from tasks.hub import load_arguments
from tasks.task import Source, Task

if TYPE_CHECKING:
    from datasets import Dataset

# `datasets` and pyarrow take seconds to import, and the registry (what `xsweep tasks` and
# `xsweep plan` read) imports this module: they are imported where rows are loaded.

HUB = "hub"
# Local files up to this size are read into memory; larger ones go through `datasets`' cache.
IN_MEMORY_BYTES = 256 * 2**20
ONE_OBJECT_PER_LINE = "valid: one JSON object per line"


class DataError(ValueError):
    """A local data file that cannot be read; the message names the file."""


def load_split(source: Source, data: str) -> Dataset:
    """The split's rows, from the hub or the local mirror, filtered by ``source.id_prefix``."""
    rows = _load_whole_split(source, data)
    if source.id_prefix is not None:
        rows = rows.filter(lambda row: row["id"].startswith(source.id_prefix))
    return rows


def _load_whole_split(source: Source, data: str) -> Dataset:
    import pyarrow
    import pyarrow.json
    from datasets import Dataset, load_dataset
    from datasets.exceptions import DatasetGenerationError

    if data == HUB and source.path is None:
        if source.local_only:
            raise DataError(
                f"{source.folder} {source.config}/{source.split}: no faithful hub copy; valid: --local-data DIR "
                f"(or --data DIR) holding {source.local_path('DIR')} (`xsweep data fetch` builds LAReQA, BUCC "
                "and Cosmos QA's; see tasks/catalog)"
            )
        args, kwargs = load_arguments(source)
        return load_dataset(*args, **kwargs)
    path = source.local_path(data)
    builder = "text" if path.endswith(".txt") else "json"
    size = Path(path).stat().st_size if Path(path).is_file() else None
    if size == 0:
        raise DataError(f"--data: {path} is empty; valid: one row per line, at least one row")
    small = builder == "json" and size is not None and size < IN_MEMORY_BYTES
    if small:
        raw = Path(path).read_bytes()
        _check_utf8(path, raw)
        try:
            # Arrow's reader, in memory: `datasets`' builder spends 0.1 s a file on caching,
            # which a sweep over fifty languages' small files pays again in every trial.
            return Dataset(pyarrow.json.read_json(pyarrow.BufferReader(raw)))
        except pyarrow.ArrowInvalid:
            # A line that is not JSON, or mixed types across lines, which the builder's
            # slower reader copes with.
            _check_json_lines(path, raw)
    try:
        return load_dataset(builder, data_files=path, split="train")
    except (DatasetGenerationError, FileNotFoundError, UnicodeDecodeError) as error:
        cause = error.__cause__ or error
        raise DataError(f"--data: cannot read {path} as {builder} ({type(cause).__name__}: {cause})") from error


def _check_utf8(path: str, raw: bytes) -> None:
    """Arrow's JSON reader does not validate UTF-8: a bad byte would surface rows later."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataError(
            f"--data: {path} line {line}: not UTF-8 (byte 0x{raw[error.start]:02x}); valid: UTF-8 text"
        ) from None


def _check_json_lines(path: str, raw: bytes) -> None:
    """One JSON object per line, or a ``DataError`` naming the first line that is not."""
    for number, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(
                f"--data: {path} line {number}: not JSON ({error.msg}); valid: one JSON object per line"
            ) from None
        if not isinstance(row, dict):
            raise DataError(
                f"--data: {path} line {number}: a JSON {type(row).__name__}; valid: one JSON object per line"
            )


def texts_of(rows: Iterable[dict]) -> Iterator[str]:
    """Every string in the rows, however nested (words of a tagged sentence, a QA context,
    the choices of a question): what a tokenizer trained on a task's data should see."""

    def strings(value: object) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list | tuple):
            for item in value:
                yield from strings(item)

    for row in rows:
        yield from strings(row)


def write_split(source: Source, root: str | Path, rows: Iterable[dict]) -> Path:
    """Write ``rows`` (the hub's columns) where the local layout expects ``source``: into a
    temporary file beside it, renamed into place once whole, so that an interrupted write
    never leaves a file a reader would take for the split."""
    path = Path(source.local_path(str(root)))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def training_sources(task: Task) -> list[Source]:
    """Every split a task trains on: its first stage (with what is mixed into it), then its second."""
    first = [task.train, *task.train_with] if task.train is not None else []
    return [*first, *([task.then_train] if task.then_train is not None else [])]


def load_training_stages(task: Task, data: str) -> list[Dataset]:
    """The rows of each training stage, in order; a stage mixing several sources holds their
    rows together, in the first source's columns (the Trainer shuffles them)."""
    from datasets import concatenate_datasets

    if task.train is None:
        return []
    first = [load_split(source, data) for source in (task.train, *task.train_with)]
    if len(first) > 1:
        columns = first[0].column_names
        first = [concatenate_datasets([rows.select_columns(columns) for rows in first])]
    second = [load_split(task.then_train, data)] if task.then_train is not None else []
    return [*first, *second]


def own_sources(task: Task, languages: Iterable[str] | None = None) -> list[Source]:
    """Every split a single task reads (for ``languages``, default all of its own): its
    training stages, dev and test per language (English dev always, where it trains), and
    sources its settings name (Mewsli-X's candidate entities). A multi-task run's are its
    members' (``tasks.sources.task_sources``)."""
    languages = task.languages if languages is None else tuple(languages)
    if task.train is not None and "en" in task.dev:
        languages = tuple(dict.fromkeys(("en", *languages)))  # model selection reads English dev
    return [
        *training_sources(task),
        *(task.dev[lang] for lang in languages if lang in task.dev),
        *(task.test[lang] for lang in languages if lang in task.test),
        *task.settings.sources(),
    ]


def mirror_split(source: Source, root: str | Path) -> Path:
    """Copy one hub split into the local layout under ``root`` (atomically, see ``write_split``)."""
    return write_split(source, root, load_split(replace(source, id_prefix=None), HUB))


def is_mirrored(source: Source, root: str | Path) -> bool:
    """Whether the mirror under ``root`` holds ``source`` whole: only a finished write
    renames a file into place, so a file there is complete."""
    return Path(source.local_path(str(root))).is_file()


def is_present(source: Source, data: str) -> bool:
    if data == HUB and source.path is None:
        return not source.local_only
    return Path(source.local_path(data)).is_file()


def languages_present(task: Task, data: str, wanted: Iterable[str] | None = None) -> list[str]:
    """The task's languages (or the ``wanted`` subset) whose dev data exists."""
    wanted = task.languages if wanted is None else tuple(wanted)
    return [lang for lang in wanted if lang in task.dev and is_present(task.dev[lang], data)]


def fingerprint(sources: Iterable[Source], data: str) -> str:
    """What identifies the data behind ``sources``: hub revisions, or local file contents."""
    digest = hashlib.sha256()
    for source in sorted(set(sources), key=lambda s: s.local_path("")):
        digest.update(f"{source.dataset}:{source.config}:{source.split}@{source.revision}#{source.id_prefix}".encode())
        if (data != HUB or source.path is not None) and is_present(source, data):
            with open(source.local_path(data), "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]

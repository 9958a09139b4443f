"""Loading a task's splits through `datasets`: from the hub, or from a local mirror.

``data`` is either ``"hub"`` or a directory laid out as ``DIR/<task>/<config>/<split>.jsonl``
(see ``Source.local_path``), holding the hub's own columns.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from datasets import Dataset, load_dataset
from datasets.exceptions import DatasetGenerationError

from tasks.task import Source, Task

HUB = "hub"


class DataError(ValueError):
    """A local data file that cannot be read; the message names the file."""


def load_split(source: Source, data: str) -> Dataset:
    if data == HUB:
        return load_dataset(source.dataset, source.config, split=source.split, revision=source.revision)
    path = source.local_path(data)
    try:
        return load_dataset("json", data_files=path, split="train")
    except (DatasetGenerationError, FileNotFoundError) as error:
        cause = error.__cause__ or error
        raise DataError(f"--data: cannot read {path} as JSON lines ({type(cause).__name__}: {cause})") from error


def write_split(source: Source, root: str | Path, rows: Iterable[dict]) -> Path:
    """Write ``rows`` (the hub's columns) where the local layout expects ``source``."""
    path = Path(source.local_path(str(root)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def is_present(source: Source, data: str) -> bool:
    return data == HUB or Path(source.local_path(data)).is_file()


def languages_present(task: Task, data: str, wanted: Iterable[str] | None = None) -> list[str]:
    """The task's languages (or the ``wanted`` subset) whose dev data exists."""
    wanted = task.languages if wanted is None else tuple(wanted)
    return [lang for lang in wanted if lang in task.dev and is_present(task.dev[lang], data)]


def fingerprint(sources: Iterable[Source], data: str) -> str:
    """What identifies the data behind ``sources``: hub revisions, or local file contents."""
    digest = hashlib.sha256()
    for source in sorted(set(sources), key=lambda s: s.local_path("")):
        digest.update(f"{source.dataset}:{source.config}:{source.split}@{source.revision}".encode())
        if data != HUB and is_present(source, data):
            with open(source.local_path(data), "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]

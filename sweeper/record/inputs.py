"""What a trial reads, named as MLflow dataset inputs: the UI's Dataset column then shows
``xnli-de (test)`` rather than "-", and a run's data is identified by its hub revision or
its local file's content."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tasks import HUB, Source, Task, family_of, fingerprint, is_present, training_sources


@dataclass(frozen=True)
class DatasetRead:
    """One split a trial read: its name, what identifies its content, and where it is."""

    name: str
    # The split's part in the trial: train, dev or test (MLflow's dataset "context").
    context: str
    digest: str
    # The hub repository, config, split and revision; or None for a local file.
    hub: tuple[str, str | None, str, str] | None
    local_file: Path | None

    @property
    def local_uri(self) -> str | None:
        return self.local_file.as_uri() if self.local_file is not None else None


def _read(name: str, context: str, source: Source, data: str) -> DatasetRead:
    digest = fingerprint([source], data)
    if data == HUB and source.path is None:
        return DatasetRead(name, context, digest, (source.dataset, source.config, source.split, source.revision), None)
    return DatasetRead(name, context, digest, None, Path(source.local_path(data)).resolve())


def _training_name(source: Source) -> str:
    if source.path is not None and not source.local_only:
        return Path(source.path).stem  # the user's own file (MLM text): its name says what it is
    return source.folder if source.config in (None, source.folder) else f"{source.folder}-{source.config}"


def datasets_read(task: Task, data: str, languages: Iterable[str], splits: Iterable[str]) -> list[DatasetRead]:
    """The splits a trial of ``task`` reads: its training data, then each (split, language)
    it is evaluated on, where present; a multi-task run's are its members' training data and
    English dev (what it selects on)."""
    members = family_of(task.family).members(task)
    if members:
        return [read for member in members for read in datasets_read(member, data, ("en",), ("dev",))]
    reads = [_read(_training_name(s), "train", s, data) for s in training_sources(task) if is_present(s, data)]
    sources = {"dev": task.dev, "test": task.test}
    for split in splits:
        for lang in languages:
            source = sources[split].get(lang)
            if source is not None and is_present(source, data):
                reads.append(_read(f"{task.name}-{lang}", split, source, data))
    return reads

"""``xsweep data fetch``: the local-only tasks built from their official files (the entry's
``release``), into the local layout a ``--data DIR`` run reads.

Each file is downloaded whole into ``DIR/.fetch/<task>/`` under a temporary name, renamed
once complete, and its SHA-256 recorded in ``DIR/<folder>/fetched.json`` beside the rows;
each split is written atomically (``tasks.data.write_split``), so an interrupted fetch leaves
no split a reader would take for whole, and a rerun skips the splits already there (and
downloads nothing when none is missing).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tarfile
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tasks.data import is_mirrored, write_split
from tasks.families.retrieval_rows import bucc_rows, lareqa_rows
from tasks.task import Source, Task

TIMEOUT_S = 60
CHUNK = 1 << 20
# Beside a fetched task's splits (``DIR/<folder>/``): the official files they were built from.
MANIFEST = "fetched.json"


class FetchError(RuntimeError):
    """A file that could not be downloaded or read; the message names it."""


@dataclass(frozen=True)
class Fetched:
    """What a fetch did for one task: splits written and kept, files with their SHA-256."""

    task: str
    written: tuple[str, ...]
    kept: tuple[str, ...]
    files: tuple[Mapping[str, object], ...]


def wanted_splits(task: Task, languages: tuple[str, ...]) -> list[Source]:
    """The local-only splits of ``task`` for ``languages`` (its training split, where it has one)."""
    sources = [task.train] if task.train is not None and task.train.local_only else []
    sources += [s for lang in languages for s in (task.dev.get(lang), task.test.get(lang)) if s is not None]
    return [source for source in sources if source.local_only]


def download(url: str, path: Path, name: str) -> dict[str, object]:
    """``url`` into ``path`` whole or not at all; returns its record (file ``name``, url, bytes,
    SHA-256)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    digest, size = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, partial.open("wb") as handle:
            for block in iter(lambda: response.read(CHUNK), b""):
                digest.update(block)
                size += len(block)
                handle.write(block)
        os.replace(partial, path)
    except OSError as error:  # URLError and HTTPError are OSErrors
        raise FetchError(f"{url}: {error}") from None
    finally:
        partial.unlink(missing_ok=True)
    return {"file": name, "url": url, "bytes": size, "sha256": digest.hexdigest()}


def _record(path: Path, url: str, name: str) -> dict[str, object]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return {"file": name, "url": url, "bytes": path.stat().st_size, "sha256": digest.hexdigest()}


# Official files -> rows, one function per task: (task, languages, downloaded files by name).
Converter = Callable[[Task, tuple[str, ...], Mapping[str, Path]], dict[Source, list[dict]]]


def _lareqa(task: Task, languages: tuple[str, ...], files: Mapping[str, Path]) -> dict[Source, list[dict]]:
    xquad_r = {lang: json.loads(files[f"xquad-r/{lang}.json"].read_text(encoding="utf-8")) for lang in languages}
    # Each language's file: its questions and the pool of every fetched language's sentences.
    return {task.dev[lang]: lareqa_rows(xquad_r, lang) for lang in languages}


def _bucc(task: Task, languages: tuple[str, ...], files: Mapping[str, Path]) -> dict[Source, list[dict]]:
    rows = {}
    for lang in languages:
        # The sample set is the dev set and the training set the test set, as XTREME splits them.
        for kind, sources in (("sample", task.dev), ("training", task.test)):
            archive = files[f"bucc2018-{lang}-en.{kind}-gold.tar.bz2"]
            sides = _members(archive, {side: f"{lang}-en.{kind}.{side}" for side in (lang, "en", "gold")})
            rows[sources[lang]] = bucc_rows(task, sides[lang], sides["en"], sides["gold"])
    return rows


def _members(archive: Path, wanted: Mapping[str, str]) -> dict[str, list[str]]:
    """The lines of the archive's members named (their base name) as ``wanted``'s values."""
    found: dict[str, list[str]] = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar.getmembers():
                for key, name in wanted.items():
                    if member.isfile() and member.name.rsplit("/", 1)[-1] == name:
                        text = tar.extractfile(member).read().decode("utf-8")
                        found[key] = text.splitlines(keepends=True)
    except (tarfile.TarError, OSError, UnicodeDecodeError) as error:
        raise FetchError(f"{archive.name}: not a readable BUCC archive ({error})") from None
    missing = [name for key, name in wanted.items() if key not in found]
    if missing:
        raise FetchError(f"{archive.name}: no {', '.join(missing)} in the archive")
    return found


COSMOS_QA_COLUMNS = ("id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label")


def _cosmos_qa(task: Task, languages: tuple[str, ...], files: Mapping[str, Path]) -> dict[Source, list[dict]]:
    def rows(path: Path) -> list[dict]:
        reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
        if tuple(reader.fieldnames or ()) != COSMOS_QA_COLUMNS:
            raise FetchError(f"{path.name}: header {reader.fieldnames}; valid: {','.join(COSMOS_QA_COLUMNS)}")
        return [{**row, "label": int(row["label"])} for row in reader]

    return {task.train: rows(files["train.csv"]), task.dev["en"]: rows(files["valid.csv"])}


CONVERTERS: dict[str, Converter] = {"lareqa": _lareqa, "bucc2018": _bucc, "cosmosqa": _cosmos_qa}


def fetch(
    task: Task, out: str | Path, languages: tuple[str, ...] | None = None, base_url: str | None = None
) -> Fetched:
    """Build ``task``'s local-only splits (for ``languages``, default all of its own) under
    ``out`` from its official files, downloading them only where a split is missing."""
    if task.release is None or task.name not in CONVERTERS:
        raise FetchError(f"{task.name}: no official release to fetch; valid: {', '.join(CONVERTERS)}")
    languages = tuple(languages or task.languages)
    out = Path(out)
    splits = wanted_splits(task, languages)
    missing = [source for source in splits if not is_mirrored(source, out)]
    kept = tuple(source.local_path(str(out)) for source in splits if source not in missing)
    if not missing:
        return Fetched(task.name, (), kept, ())
    folder = out / ".fetch" / task.name
    files, records = {}, []
    for name, url in task.release.urls(languages, base_url).items():
        path = folder / name
        records.append(_record(path, url, name) if path.is_file() else download(url, path, name))
        files[name] = path
    rows = CONVERTERS[task.name](task, languages, files)
    written = tuple(str(write_split(source, out, rows[source])) for source in missing)
    _write_manifest(out / splits[0].folder / MANIFEST, records)
    return Fetched(task.name, written, kept, tuple(records))


def fetched_files(split_file: str | Path) -> list[dict[str, object]]:
    """The official files (file, url, bytes, sha256) the fetch that wrote ``split_file``
    (``DIR/<folder>/<config>/<split>.jsonl``) built its folder from; none for a split no fetch wrote."""
    manifest = Path(split_file).parent.parent / MANIFEST
    return json.loads(manifest.read_text(encoding="utf-8")) if manifest.is_file() else []


def _write_manifest(path: Path, records: list[dict[str, object]]) -> None:
    """The files the splits were built from, with their SHA-256, merged with earlier fetches'."""
    known = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    merged = {record["file"]: record for record in [*known, *records]}
    partial = path.with_name(f".{path.name}.partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_text(json.dumps(list(merged.values()), indent=1) + "\n", encoding="utf-8")
    os.replace(partial, path)

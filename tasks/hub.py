"""Where a source's rows are on the hub, and whether they are there: the arguments its one
loading call takes, and the check of a repository listing against what the catalog expects.

Four layouts exist (``Source.layout``). A repository whose README declares ``configs`` (what
the hub's script-to-parquet conversions leave, e.g. google/xtreme's
``MLQA.ar.ar/validation-00000-of-00001.parquet``) is loaded by config name, which `datasets`
resolves from that README, unless the tree also holds a loading script ``<name>.py``: then
`datasets` 5 refuses the repository ("Dataset scripts are no longer supported", its
``dataset_module_factory``). Such a repository's parquet files are read by file path instead
(layout ``files``: ``<config>/<split>-*.parquet``), which the script check does not concern.
The hub's parquet export (``refs/convert/parquet``: ``<config>/<split>/0000.parquet`` and no
README, https://huggingface.co/datasets/unimelb-nlp/wikiann/tree/e1f9e9646ef1f33ad3e2476ef849e1b088e03078/ay/validation)
is read by file path too (layout ``converted``): there `datasets` infers a single config,
``default``, holding every config's files, and refuses ``mlqa.ar.ar`` ("BuilderConfig not found").
A JSON-lines tarball at the root that no README config names (layout ``archive``: izhx/mewsli-x's
``candidate_entities.jsonl.tar.gz``) is read by path with the ``json`` builder, which extracts
an archive and reads every file in it (`datasets`' packaged json module, ``dl_manager.iter_files``).

The listing comes from one hub API call, ``HfApi.dataset_info`` (``/api/datasets/<repo>/
revision/<rev>``): the commit the revision resolves to, the file names and the README's
metadata. Each split's columns come from its first parquet file's footer, read by ranged
requests through ``HfFileSystem`` (a few kilobytes, not the file).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from tasks.task import Source

if TYPE_CHECKING:
    import pyarrow

# Enough for a parquet footer of a few hundred columns in one ranged request.
FOOTER_BLOCK = 64 * 2**10
# Footers read at once by `xsweep data check`.
FOOTER_READERS = 8


@dataclass(frozen=True)
class Listing:
    """A repository at a revision, as the hub reports it."""

    sha: str
    files: tuple[str, ...]
    # The README's ``configs`` entries ({config_name, data_files}); None without a README
    # or without the key (a repository that is a loading script, or a parquet export).
    configs: tuple[Mapping, ...] | None


def repo_root(source: Source) -> str:
    """Where the repository's files are at ``source.revision``: a local copy laid out as the
    repository (a path, as `datasets` itself accepts one), else the hub's ``hf://`` path."""
    if Path(source.dataset).is_dir():
        return source.dataset
    # A branch with slashes is quoted (refs%2Fconvert%2Fparquet): huggingface_hub's
    # HfFileSystem takes "a quoted or unquoted refs revision" after the '@' and decodes it
    # (huggingface_hub 2.4, hf_file_system.py, its path resolution).
    return f"hf://datasets/{source.dataset}@{quote(source.revision, safe='')}"


@dataclass(frozen=True)
class PathLayout:
    """A layout read by file path: where the split's files are (``{config}``, ``{split}``
    filled in), the `datasets` builder that reads them, and what the layout is, in words."""

    pattern: str
    builder: str
    what: str


_PATH_LAYOUTS = {
    "converted": PathLayout("{config}/{split}/*.parquet", "parquet", "the layout of a parquet export"),
    "files": PathLayout("{config}/{split}-*.parquet", "parquet", "the split's parquet files by path"),
    "archive": PathLayout("{config}.jsonl.tar.gz", "json", "a JSON-lines archive by path"),
}


def path_pattern(source: Source) -> str:
    """The split's files, relative to the repository, for a layout read by file path."""
    return _PATH_LAYOUTS[source.layout].pattern.format(config=source.config or "default", split=source.split)


def load_arguments(source: Source) -> tuple[tuple[str, ...], dict[str, object]]:
    """The positional and keyword arguments of ``datasets.load_dataset`` for the split:
    the one call every hub source is read through, its form chosen by the layout."""
    if source.layout in _PATH_LAYOUTS:
        return (_PATH_LAYOUTS[source.layout].builder,), {
            "data_files": {source.split: f"{repo_root(source)}/{path_pattern(source)}"},
            "split": source.split,
        }
    if Path(source.dataset).is_dir():
        return (source.dataset, source.config), {"split": source.split}
    return (source.dataset, source.config), {"split": source.split, "revision": source.revision}


def _patterns(data_files: object, split: str) -> list[str] | None:
    """The file patterns a README config gives ``split``: ``data_files`` is a pattern, a
    list of them (all the ``train`` split), or a list of ``{split, path}``."""
    if isinstance(data_files, str):
        return [data_files] if split == "train" else None
    if isinstance(data_files, list) and all(isinstance(entry, str) for entry in data_files):
        return data_files if split == "train" else None
    for entry in data_files or ():
        if isinstance(entry, Mapping) and entry.get("split") == split:
            path = entry.get("path")
            return [path] if isinstance(path, str) else list(path or ())
    return None


def _matching(files: Iterable[str], patterns: Iterable[str]) -> list[str]:
    return [name for name in files if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)]


def loading_script(repo: str, files: Iterable[str]) -> str | None:
    """The loading script `datasets` 5 refuses a hub repository for (``<name>.py`` at its root),
    where the tree holds one."""
    script = f"{repo.rsplit('/', 1)[-1]}.py"
    return script if script in files else None


def source_problem(source: Source, listing: Listing) -> str | None:
    """What is missing for ``source`` in ``listing`` (one phrase), or None where the
    repository at that revision holds the split as the entry expects."""
    if source.layout in _PATH_LAYOUTS:
        pattern = path_pattern(source)
        if not _matching(listing.files, [pattern]):
            return f"no {pattern} ({_PATH_LAYOUTS[source.layout].what})"
        return None
    script = loading_script(source.dataset, listing.files)
    if script is not None:
        # datasets/load.py downloads <name>.py at the revision and raises, README configs or not.
        return (
            f"{script}: a loading script in the tree, so `datasets` refuses the repository "
            '("Dataset scripts are no longer supported"); valid: a revision without it, or its files by path'
        )
    if listing.configs is None:
        return "no README configs (a parquet export? read it by path: layout 'converted')"
    named = {entry.get("config_name"): entry for entry in listing.configs}
    if source.config not in named:
        valid = ", ".join(sorted(str(name) for name in named)[:8])
        return f"no config {source.config!r}; valid: {valid}{', ...' if len(named) > 8 else ''}"
    patterns = _patterns(named[source.config].get("data_files"), source.split)
    if patterns is None:
        return f"config {source.config!r} has no split {source.split!r}"
    if not _matching(listing.files, patterns):
        return f"config {source.config!r} split {source.split!r}: no file matches {', '.join(patterns)}"
    return None


def split_files(source: Source, listing: Listing) -> list[str]:
    """The files that hold ``source``'s split in ``listing`` (none where it is missing)."""
    if source.layout in _PATH_LAYOUTS:
        return sorted(_matching(listing.files, [path_pattern(source)]))
    named = {entry.get("config_name"): entry for entry in listing.configs or ()}
    patterns = _patterns(named.get(source.config, {}).get("data_files"), source.split)
    return sorted(_matching(listing.files, patterns or []))


def _endpoint(endpoint: str | None) -> str | None:
    # HF_ENDPOINT read now, not when huggingface_hub was imported: a mirror or a stand-in
    # named in the environment of this process is the hub asked.
    return endpoint or os.environ.get("HF_ENDPOINT")


def footer_schema(repo: str, commit: str, path: str, endpoint: str | None = None) -> pyarrow.Schema:
    """A parquet file's schema from its footer alone: ranged reads of its last kilobytes
    through ``HfFileSystem``, never the whole file."""
    import pyarrow.parquet
    from huggingface_hub import HfFileSystem

    filesystem = HfFileSystem(endpoint=_endpoint(endpoint))
    with filesystem.open(f"datasets/{repo}@{commit}/{path}", "rb", block_size=FOOTER_BLOCK) as handle:
        return pyarrow.parquet.ParquetFile(handle).schema_arrow


def fetch_listing(repo: str, revision: str, endpoint: str | None = None) -> Listing:
    """The hub's listing of ``repo`` at ``revision`` (raises huggingface_hub's errors)."""
    from huggingface_hub import HfApi

    info = HfApi(endpoint=_endpoint(endpoint)).dataset_info(repo, revision=revision)
    card = info.card_data.to_dict() if info.card_data is not None else {}
    configs = card.get("configs")
    return Listing(
        sha=info.sha or "",
        files=tuple(sibling.rfilename for sibling in info.siblings or ()),
        configs=tuple(configs) if isinstance(configs, list) else None,
    )


def listing_error(error: Exception) -> str:
    """A hub error as one phrase (no traceback): what was not found, or why it failed."""
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    if isinstance(error, RevisionNotFoundError):
        return "revision not found"
    if isinstance(error, RepositoryNotFoundError):
        return "repository not found (or private)"
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first}"[:200]

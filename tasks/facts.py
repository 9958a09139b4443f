"""What the hub holds, as public pages show it, apart from the catalog: one record per
repository (``tasks/hub_facts/<owner>--<name>.json``), each revision the catalog reads with its
tree (data files per config and split, other files such as a loading script), its README's
``configs`` block, the columns of its splits, and the pages each fact was read from.

A revision's ``evidence`` says how far the record can be trusted:
- ``read``: a page stored here and read shows the facts (the page is named);
- ``cited``: a public page shows them, as cited by the project's evidence notes, but it was not
  among the stored pages, so it was not read again;
- ``unverified``: no page was found; the tree is the layout assumed, said so in its ``note``.

The stand-in hub of the tests serves these facts and nothing else; ``xsweep data table`` shows
each source's evidence beside it.
"""

from __future__ import annotations

import fnmatch
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Evidence = Literal["read", "cited", "unverified"]
FACTS_DIR = Path(__file__).with_name("hub_facts")


@dataclass(frozen=True)
class Page:
    url: str
    # What the page shows of the repository at the revision.
    shows: str
    # How it was read ("read from the stored copy of the page", or where it was cited).
    read: str


@dataclass(frozen=True)
class RevisionFacts:
    """One repository at one revision, as its pages show it."""

    repository: str
    revision: str
    evidence: Evidence
    pages: tuple[Page, ...]
    note: str
    # Files other than the data files (README.md, a loading script, an archive).
    other_files: tuple[str, ...]
    # (config, split) -> the data file's path in the repository.
    data_files: Mapping[tuple[str, str], str]
    # The README's ``configs`` entries ({config_name, data_files: [{split, path}]}), as
    # `datasets` reads them; None where the README has no such block (an export, a script).
    readme_configs: tuple[Mapping, ...] | None
    # Column name -> type, per config pattern (fnmatch; the first pattern that matches).
    columns_by_config: Mapping[str, Mapping[str, object]]

    @property
    def files(self) -> tuple[str, ...]:
        """Every file in the tree."""
        return tuple(sorted({*self.other_files, *self.data_files.values()}))

    def columns(self, config: str) -> Mapping[str, object]:
        """The columns of ``config``'s splits: name -> type (``"string"``, ``"int32"``, ``"bool"``,
        ``"class_label:a,b"``, a one-item list for a sequence, a mapping for a struct)."""
        for pattern, columns in self.columns_by_config.items():
            if fnmatch.fnmatchcase(config, pattern):
                return columns
        raise KeyError(f"{self.repository}@{self.revision}: no columns recorded for config {config!r}")

    @property
    def scripts(self) -> tuple[str, ...]:
        """Loading scripts at the root, the file `datasets` 5 refuses a repository for."""
        name = self.repository.rsplit("/", 1)[-1]
        return tuple(path for path in self.other_files if path == f"{name}.py")


def _revision(repository: str, revision: str, entry: Mapping) -> RevisionFacts:
    pattern = entry["data_files"]
    data_files = {
        (config, split): pattern.format(config=config, split=split)
        for config, splits in entry["splits"].items()
        for split in splits
    }
    readme = entry.get("readme_configs")
    configs = None
    if readme is not None:
        configs = tuple(
            {
                "config_name": config,
                "data_files": [
                    {"split": split, "path": readme["path"].format(config=config, split=split)}
                    for split in entry["splits"][config]
                ],
            }
            for config in readme["configs"]
        )
    return RevisionFacts(
        repository=repository,
        revision=revision,
        evidence=entry["evidence"],
        pages=tuple(Page(**page) for page in entry["pages"]),
        note=entry.get("note", ""),
        other_files=tuple(entry["files"]),
        data_files=data_files,
        readme_configs=configs,
        columns_by_config=entry["columns"],
    )


@functools.cache
def _load(folder: str) -> dict[tuple[str, str], RevisionFacts]:
    facts = {}
    for path in sorted(Path(folder).glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        for revision, entry in record["revisions"].items():
            facts[(record["repository"], revision)] = _revision(record["repository"], revision, entry)
    return facts


def hub_facts(folder: str | Path = FACTS_DIR) -> dict[tuple[str, str], RevisionFacts]:
    """Every recorded (repository, revision) -> its facts."""
    return dict(_load(str(folder)))


def evidence_of(repository: str, revision: str, folder: str | Path = FACTS_DIR) -> Evidence:
    """How the record knows ``repository@revision``: "unverified" where it is not recorded."""
    facts = _load(str(folder)).get((repository, revision))
    return facts.evidence if facts is not None else "unverified"

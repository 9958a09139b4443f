"""The hub facts record (tasks/hub_facts): every repository@revision the catalog reads is in
it, each with its evidence and pages, and the source table says "unverified" wherever the
record has no page for it."""

from __future__ import annotations

import json

from tasks import TASKS
from tasks.facts import FACTS_DIR, evidence_of, hub_facts
from tasks.sources import labelled_sources, source_table


def _catalog_revisions() -> set[tuple[str, str]]:
    return {
        (source.dataset, source.revision)
        for task in TASKS.values()
        for _, _, source in labelled_sources(task)
        if not source.local_only and source.path is None
    }


def test_every_revision_the_catalog_reads_is_recorded() -> None:
    facts = hub_facts()
    assert sorted(_catalog_revisions() - set(facts)) == []


def test_each_revision_names_its_evidence() -> None:
    for (repo, revision), facts in hub_facts().items():
        where = f"{repo}@{revision}"
        assert facts.evidence in ("read", "cited", "unverified"), where
        if facts.evidence != "unverified":
            assert facts.pages, f"{where}: {facts.evidence} without a page"
        if facts.evidence == "read":
            assert any(page.read.startswith("read ") for page in facts.pages), where
        assert all(page.url.startswith("https://") and page.shows for page in facts.pages), where
        if facts.evidence == "unverified":
            assert facts.note, f"{where}: say what is assumed"
        for config, _ in facts.data_files:
            assert facts.columns(config), f"{where} {config}: no columns"


def test_the_record_is_one_file_per_repository() -> None:
    for path in FACTS_DIR.glob("*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        assert path.name == record["repository"].replace("/", "--") + ".json"


def test_a_loading_script_is_a_recorded_file() -> None:
    xtreme = hub_facts()[("google/xtreme", "b09e9378cb97d39c628feb5135a749ac43e7ea5e")]
    assert xtreme.scripts == ("xtreme.py",)
    # The README at that commit names only the configs converted so far: no udpos, tatoeba, bucc18.
    names = {config["config_name"] for config in xtreme.readme_configs}
    assert not [name for name in names if name.split(".")[0] in ("udpos", "tatoeba", "bucc18")]


def test_the_source_table_says_unverified_where_the_record_has_no_page() -> None:
    lines = [line for line in source_table(TASKS.values()).splitlines()[2:] if "(local only)" not in line]
    assert lines
    for line in lines:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        repo, revision, evidence = cells[1], cells[2].strip("`"), cells[4]
        assert evidence == evidence_of(repo, revision)
    assert "| pawsx | google-research-datasets/paws-x | `main` | configs | unverified |" in "\n".join(lines)
    assert evidence_of("owner/unrecorded", "main") == "unverified"

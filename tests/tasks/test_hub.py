"""Hub sources against a stand-in for the hub built from the recorded hub facts alone
(tests/tasks/hub_standin.py, tasks/hub_facts): every catalog source loaded through the real
`datasets` and `huggingface_hub` over HTTP on 127.0.0.1, `xsweep data check` against the same
server, and entries that disagree with the facts (a loading script in the tree, a wrong config
or split) failing both."""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from datasets import load_dataset

from sweeper.cli import main
from tasks import HUB, TASKS, DataError, Source, get_task, load_split
from tasks.checks import check_sources
from tasks.facts import RevisionFacts, hub_facts
from tasks.hub import Listing, load_arguments, source_problem
from tasks.sources import labelled_sources, source_table
from tests.tasks import hub_standin
from tests.tasks.hub_standin import build, hub_at, place, repo_dir, serving, write_readme, write_rows

ROWS = {"ar": [{"id": "a1", "text": "مرحبا"}], "de": [{"id": "d1", "text": "hallo"}, {"id": "d2", "text": "welt"}]}
SOURCE_TABLE_DOC = Path(__file__).resolve().parents[2] / "docs" / "tasks.md"
XTREME_PR = ("google/xtreme", "refs/pr/9")
SCRIPT_REFUSED = "Dataset scripts are no longer supported, but found xtreme.py"
# The official Mewsli-X candidate file's keys (google-research/google-research,
# dense_representations_for_entity_retrieval/mel/mewsli_x/README.md, "Entity Candidate Set").
MEWSLIX_CANDIDATE_KEYS = ["entity_id", "title", "description", "description_url", "description_language",
                          "sentence_spans"]  # fmt: skip


def _local(source: Source, root: Path) -> Source:
    """``source`` read from its folder in the stand-in (a path, as `datasets` takes one)."""
    return dataclasses.replace(source, dataset=str(repo_dir(root, source.dataset, source.revision)))


def _every_hub_source() -> list[tuple[str, str, Source]]:
    rows = [row for task in TASKS.values() for row in labelled_sources(task)]
    return [row for row in rows if not row[2].local_only]


@pytest.fixture(scope="module")
def facts_hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every recorded repository at every recorded revision, as folders the server serves."""
    root = tmp_path_factory.mktemp("facts_hub")
    build(root, hub_facts().values())
    return root


@pytest.fixture
def hub(facts_hub: Path, tmp_path: Path) -> Iterator[str]:
    """The facts' stand-in served, `datasets` and `huggingface_hub` pointed at it (own caches)."""
    with serving(facts_hub) as endpoint, hub_at(endpoint, tmp_path / "cache"):
        yield endpoint


def _with_script(facts: RevisionFacts) -> RevisionFacts:
    return dataclasses.replace(facts, other_files=(*facts.other_files, "xtreme.py"))


def test_the_standin_is_built_from_the_facts_alone() -> None:
    tree = ast.parse(Path(hub_standin.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    ours = sorted(name for name in imported if name and name.split(".")[0] in ("tasks", "sweeper"))
    assert ours == ["tasks.facts", "tasks.task"]
    text = Path(hub_standin.__file__).read_text(encoding="utf-8")
    names = ("tasks.catalog", "tasks.registry", "TASKS", "ENTRIES", "get_task", "labelled_sources", "task_sources")
    assert not [name for name in names if name in text]


def test_every_catalog_source_loads_through_datasets(hub: str) -> None:
    # One source per config: `datasets` builds every split of a config at once.
    sources = {(s.dataset, s.revision, s.layout, s.config): s for _, _, s in _every_hub_source()}
    outcomes = {}
    for source in sources.values():
        try:
            outcomes[source] = len(load_split(dataclasses.replace(source, id_prefix=None), HUB))
        except Exception as error:  # noqa: BLE001 - each source's outcome is compared below
            outcomes[source] = f"{type(error).__name__}: {error}"
    failed = [f"{s.dataset}@{s.revision} {s.config}: {o}" for s, o in outcomes.items() if not isinstance(o, int)]
    assert failed == []
    assert sum(isinstance(outcome, int) and outcome > 0 for outcome in outcomes.values()) > 50


def test_data_check_against_the_facts_passes_every_catalog_source(hub: str) -> None:
    result = CliRunner().invoke(main, ["data", "check"])
    lines = result.output.splitlines()[:-1]
    assert len(lines) == len(_every_hub_source())
    assert [line for line in lines if "OK (commit" not in line] == []
    assert result.exit_code == 0


def test_mewslix_candidates_are_an_archive_read_by_path(hub: str) -> None:
    # The mirror's README names no candidate config (`datasets` refuses the name); the tarball
    # at its root loads by path, with the official candidate file's keys.
    candidates = get_task("mewslix").settings.candidates
    assert candidates.layout == "archive"
    with pytest.raises(ValueError, match="BuilderConfig 'candidate_entities' not found"):
        load_dataset(candidates.dataset, candidates.config, split=candidates.split, revision=candidates.revision)
    rows = load_split(candidates, HUB)
    assert rows.column_names == MEWSLIX_CANDIDATE_KEYS and len(rows) > 0
    (check,) = check_sources([("mewslix", "-", candidates)], endpoint=hub)
    assert check.ok, check.line()
    (gone,) = check_sources([("mewslix", "-", dataclasses.replace(candidates, config="candidates"))], endpoint=hub)
    assert "FAILED: no candidates.jsonl.tar.gz (a JSON-lines archive by path)" in gone.line()


def test_the_pinned_xtreme_commit_is_refused_by_name_and_read_by_path(hub: str) -> None:
    # b09e937 still holds xtreme.py: `datasets` refuses the repository by name there, while
    # its parquet files load by path (the MLQA and PAN-X entries).
    mlqa = get_task("mlqa").dev["ar"]
    assert mlqa.revision == "b09e9378cb97d39c628feb5135a749ac43e7ea5e" and mlqa.layout == "files"
    with pytest.raises(RuntimeError, match=SCRIPT_REFUSED):
        load_dataset(mlqa.dataset, mlqa.config, split=mlqa.split, revision=mlqa.revision)
    assert load_split(mlqa, HUB).column_names == ["id", "title", "context", "question", "answers"]
    by_name = dataclasses.replace(mlqa, layout="configs")
    (check,) = check_sources([("mlqa", "ar", by_name)], endpoint=hub)
    assert "google/xtreme@b09e9378cb97d39c628feb5135a749ac43e7ea5e MLQA.ar.ar/validation: FAILED: xtreme.py" in (
        check.line()
    )


def test_a_script_in_the_tree_fails_the_check_and_the_load(tmp_path: Path) -> None:
    facts = hub_facts()[XTREME_PR]
    udpos = Source("udpos", *XTREME_PR[:1], "udpos.German", "test", XTREME_PR[1])
    for with_script, root in ((False, tmp_path / "clean"), (True, tmp_path / "script")):
        build(root, [_with_script(facts) if with_script else facts])
        with serving(root) as endpoint, hub_at(endpoint, root / "cache"):
            (check,) = check_sources([("udpos", "de", udpos)], endpoint=endpoint)
            if not with_script:
                assert check.ok and len(load_split(udpos, HUB)) == 2
                continue
            assert check.line() == (
                "udpos          de   google/xtreme@refs/pr/9 udpos.German/test: FAILED: xtreme.py: a loading "
                'script in the tree, so `datasets` refuses the repository ("Dataset scripts are no longer '
                'supported"); valid: a revision without it, or its files by path'
            )
            with pytest.raises(RuntimeError, match=SCRIPT_REFUSED):
                load_split(udpos, HUB)


def test_a_column_the_task_reads_missing_from_the_footer_is_one_line(tmp_path: Path) -> None:
    facts = hub_facts()[("google/xtreme", "b09e9378cb97d39c628feb5135a749ac43e7ea5e")]
    without_context = {"MLQA.*": {k: v for k, v in facts.columns("MLQA.ar.ar").items() if k != "context"}}
    build(tmp_path, [dataclasses.replace(facts, columns_by_config={**facts.columns_by_config, **without_context})])
    mlqa = get_task("mlqa")
    with serving(tmp_path) as endpoint:
        checks = check_sources([("mlqa", "ar", mlqa.dev["ar"]), ("panx", "de", get_task("panx").dev["de"])], endpoint)
    assert [check.line() for check in checks] == [
        f"mlqa           ar   google/xtreme@{mlqa.dev['ar'].revision} MLQA.ar.ar/validation: FAILED: "
        "MLQA.ar.ar/validation-00000-of-00001.parquet: no column 'context' (it has id, title, question, answers)",
        f"panx           de   google/xtreme@{mlqa.dev['ar'].revision} PAN-X.de/validation: "
        f"OK (commit {mlqa.dev['ar'].revision[:12]})",
    ]


def test_columns_come_from_the_footer_by_ranged_reads(tmp_path: Path) -> None:
    source = Source("x", "owner/repo", "big", "train", "abc")
    rows = [{"id": f"{n}", "text": "word " * 40 + str(n)} for n in range(20_000)]
    folder = place(tmp_path, source, rows)
    size = (folder / "big" / "train-00000-of-00001.parquet").stat().st_size
    log: list[tuple[str, str, int]] = []
    with serving(tmp_path, log) as endpoint:
        (check,) = check_sources([("x", "en", source)], endpoint=endpoint)
    assert check.ok
    sent = sum(count for _, path, count in log if path.endswith(".parquet"))
    assert 0 < sent < size / 4, (sent, size)


@pytest.mark.parametrize(
    ("config", "split", "problem", "refusal"),
    [
        ("udpos.Klingon", "test", "no config 'udpos.Klingon'", "BuilderConfig 'udpos.Klingon' not found"),
        ("udpos.Thai", "validation", "config 'udpos.Thai' has no split 'validation'", "Unknown split"),
    ],
)
def test_a_wrong_config_or_split_fails_the_check_and_the_load(
    config: str, split: str, problem: str, refusal: str, hub: str
) -> None:
    wrong = Source("udpos", XTREME_PR[0], config, split, XTREME_PR[1])
    (check,) = check_sources([("udpos", "xx", wrong)], endpoint=hub)
    assert f"google/xtreme@refs/pr/9 {config}/{split}: FAILED: {problem}" in check.line()
    with pytest.raises(ValueError, match=refusal):
        load_split(wrong, HUB)


@pytest.mark.parametrize("layout", ["configs", "converted"])
def test_each_layout_loads_its_own_config_only(layout: str, tmp_path: Path) -> None:
    sources = {lang: Source("x", "owner/repo", f"cfg.{lang}", "validation", "abc", layout=layout) for lang in ROWS}
    for lang, source in sources.items():
        place(tmp_path, source, ROWS[lang])
    for lang, source in sources.items():
        assert load_split(_local(source, tmp_path), HUB).to_list() == ROWS[lang]


def test_load_arguments_read_an_export_by_path_and_pin_the_revision() -> None:
    export = Source("panx", "unimelb-nlp/wikiann", "lt", "validation", "refs/convert/parquet", layout="converted")
    args, kwargs = load_arguments(export)
    assert args == ("parquet",)
    assert kwargs["data_files"] == {
        "validation": "hf://datasets/unimelb-nlp/wikiann@refs%2Fconvert%2Fparquet/lt/validation/*.parquet"
    }
    mlqa = get_task("mlqa").dev["ar"]
    assert load_arguments(mlqa) == (
        ("parquet",),
        {
            "data_files": {
                "validation": f"hf://datasets/google/xtreme@{mlqa.revision}/MLQA.ar.ar/validation-*.parquet"
            },
            "split": "validation",
        },
    )
    udpos = get_task("udpos").dev["de"]
    assert load_arguments(udpos) == (
        ("google/xtreme", "udpos.German"),
        {"split": "validation", "revision": "refs/pr/9"},
    )


def test_the_old_mlqa_entry_cannot_load_from_an_export(tmp_path: Path) -> None:
    # facebook/mlqa's parquet export: config folders, no README. By config name, as the old
    # entry read it, `datasets` knows only `default`; by path, one config's rows.
    old = Source("mlqa", "facebook/mlqa", "mlqa.ar.ar", "validation", "refs/convert/parquet")
    for lang in ROWS:
        place(tmp_path, dataclasses.replace(old, config=f"mlqa.{lang}.{lang}", layout="converted"), ROWS[lang])
    folder = str(repo_dir(tmp_path, old.dataset, old.revision))
    with pytest.raises(ValueError, match="BuilderConfig 'mlqa.ar.ar' not found. Available: \\['default'\\]"):
        load_dataset(folder, "mlqa.ar.ar", split="validation")
    mixed = load_dataset(folder, split="validation")
    assert len(mixed) == len(ROWS["ar"]) + len(ROWS["de"])  # every language in one split
    converted = dataclasses.replace(old, dataset=folder, layout="converted")
    assert load_split(converted, HUB).to_list() == ROWS["ar"]


def test_source_problems_name_what_is_missing() -> None:
    export = Listing("c" * 40, ("lt/validation/0000.parquet",), None)
    script = Listing("c" * 40, ("README.md", "mlqa.py"), None)
    readme = Listing(
        "c" * 40,
        ("README.md", "candidate_entities/test-00000-of-00001.parquet"),
        (
            {
                "config_name": "candidate_entities",
                "data_files": [{"split": "test", "path": "candidate_entities/test-*"}],
            },
        ),
    )
    old_mlqa = Source("mlqa", "facebook/mlqa", "mlqa.ar.ar", "validation", "refs/convert/parquet")
    assert "no README configs (a parquet export?" in source_problem(old_mlqa, export)
    assert "mlqa.py: a loading script in the tree" in source_problem(old_mlqa, script)
    old_candidates = Source("mewslix", "izhx/mewsli-x", "candidates", "test")
    assert source_problem(old_candidates, readme) == "no config 'candidates'; valid: candidate_entities"
    archive = get_task("mewslix").settings.candidates
    assert "no candidate_entities.jsonl.tar.gz" in source_problem(archive, readme)
    assert source_problem(archive, Listing("c" * 40, ("README.md", "candidate_entities.jsonl.tar.gz"), ())) is None
    assert "no split 'train'" in source_problem(dataclasses.replace(old_candidates, config="candidate_entities",
                                                                     split="train"), readme)  # fmt: skip
    wikiann = Source("panx", "unimelb-nlp/wikiann", "lt", "validation", "x", layout="converted")
    assert source_problem(wikiann, export) is None
    assert "no pl/validation/*.parquet" in source_problem(dataclasses.replace(wikiann, config="pl"), export)


def test_no_old_entry_is_left() -> None:
    sources = [source for _, _, source in _every_hub_source()]
    assert not [s for s in sources if s.revision == "refs/convert/parquet" and s.layout != "converted"]
    assert not [s for s in sources if s.dataset == "facebook/mlqa" or s.config == "candidates"]
    # Rows the families cannot score, or score on a partial pool: not read from the hub.
    for name in ("lareqa", "bucc2018", "cosmosqa"):
        task = get_task(name)
        assert all(source.local_only for source in (*task.dev.values(), *task.test.values()))
    with pytest.raises(DataError, match="lareqa ar/validation: no faithful hub copy; valid: --local-data DIR "):
        load_split(get_task("lareqa").dev["ar"], HUB)


def test_one_file_gone_is_one_failed_line(tmp_path: Path) -> None:
    build(tmp_path, [hub_facts()[("unimelb-nlp/wikiann", get_task("panx").dev["lt"].revision)]])
    broken = get_task("panx").dev["lt"]
    (repo_dir(tmp_path, broken.dataset, broken.revision) / "lt" / "validation" / "0000.parquet").unlink()
    rows = [row for row in labelled_sources(get_task("panx")) if row[2].dataset == broken.dataset]
    with serving(tmp_path) as endpoint:
        checks = check_sources(rows, endpoint=endpoint)
    assert [check.line() for check in checks if not check.ok] == [
        f"panx           lt   unimelb-nlp/wikiann@{broken.revision} lt/validation: "
        "FAILED: no lt/validation/*.parquet (the layout of a parquet export)"
    ]
    assert sum(check.ok for check in checks) == len(checks) - 1


def test_an_unknown_repository_or_revision_is_one_line(tmp_path: Path) -> None:
    place(tmp_path, Source("x", "owner/repo", "c", "train", "abc"))
    wanted = [
        ("t", "en", Source("x", "owner/other", "c", "train", "abc")),
        ("t", "de", Source("x", "owner/repo", "c", "train", "nope")),
    ]
    with serving(tmp_path) as endpoint:
        checks = check_sources(wanted, endpoint=endpoint)
    assert [check.problem for check in checks] == ["repository not found (or private)", "revision not found"]


def test_a_launch_with_a_broken_source_fails_before_any_experiment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    standin = tmp_path / "hub"
    broken = get_task("pawsx").dev["de"]
    glue = get_task("mnli").train
    build(standin, [hub_facts()[(broken.dataset, broken.revision)], hub_facts()[(glue.dataset, glue.revision)]])
    (repo_dir(standin, broken.dataset, broken.revision) / "de" / "validation-00000-of-00001.parquet").unlink()
    database = tmp_path / "mlflow.db"
    args = ["launch", "--scales", "tiny", "--intermediate", "mnli", "--targets", "pawsx", "--languages", "de",
            "--trials", "1", "--seeds", "1", "--tracking-uri", f"sqlite:///{database}",
            "--storage-path", str(tmp_path / "tune"), "--cluster", str(tmp_path / "none.yaml")]  # fmt: skip
    with serving(standin) as endpoint:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "--data hub: 1 of" in result.output
    assert f"pawsx de {broken.dataset}@{broken.revision} de/validation: FAILED: config 'de'" in result.output
    assert not database.exists() and not (tmp_path / "tune").exists()


def test_plan_warns_of_unpinned_sources_and_models() -> None:
    from sweeper.launch.hub_data import unpinned
    from sweeper.plan.plan import make_plan
    from sweeper.plan.spec import build_spec

    spec = build_spec(scales="base,large", intermediate="siqa", targets_="udpos", languages="en,lt", trials=1,
                      seeds=1, data=HUB, name=None)  # fmt: skip
    lines = unpinned(make_plan(spec))
    assert "dataset allenai/social_i_qa@refs/convert/parquet" in lines
    assert "dataset universal-dependencies/universal_dependencies@refs/convert/parquet" in lines
    assert "model FacebookAI/xlm-roberta-base@main (scale base)" in lines
    # udpos's google/xtreme configs are read at the conversion PR's head, a ref.
    assert "dataset google/xtreme@refs/pr/9" in lines
    assert not [line for line in lines if "xlm-roberta-large" in line]


def test_the_documented_source_table_is_the_catalog() -> None:
    table = source_table(TASKS.values())
    assert table in SOURCE_TABLE_DOC.read_text(encoding="utf-8")
    result = CliRunner().invoke(main, ["data", "table"])
    assert result.exit_code == 0 and result.output == table


def test_readme_configs_with_a_pattern_per_split(tmp_path: Path) -> None:
    # A README naming a glob per split, as the hub's conversions write them.
    folder = repo_dir(tmp_path, "owner/repo", "abc")
    write_rows(folder / "data" / "validation-00000-of-00001.parquet", ROWS["de"])
    write_readme(folder, {"default": {"validation": "data/validation-*"}})
    source = Source("x", str(folder), "default", "validation", "abc")
    assert load_split(source, HUB).to_list() == ROWS["de"]
    config = {"config_name": "default", "data_files": [{"split": "validation", "path": "data/validation-*"}]}
    listing = Listing("c" * 40, ("README.md", "data/validation-00000-of-00001.parquet"), (config,))
    assert source_problem(dataclasses.replace(source, dataset="owner/repo"), listing) is None


def test_a_launch_records_the_commits_the_hub_served(tmp_path: Path) -> None:
    from sweeper.launch.hub_data import served_commits
    from tasks.sources import labelled

    pawsx = get_task("pawsx")
    rows = labelled([(pawsx, pawsx.train), (pawsx, pawsx.dev["de"]), (pawsx, pawsx.test["de"])])
    assert [(task, language) for task, language, _ in rows] == [("pawsx", "train"), ("pawsx", "de"), ("pawsx", "de")]
    build(tmp_path, [hub_facts()[(pawsx.train.dataset, pawsx.train.revision)]])
    test_file = repo_dir(tmp_path, pawsx.train.dataset, pawsx.train.revision) / "de" / "test-00000-of-00001.parquet"
    test_file.unlink()
    with serving(tmp_path) as endpoint:
        checks = check_sources(rows, endpoint=endpoint)
    # The test split is missing: only what the hub served is recorded, as the commit it resolved to.
    assert [check.ok for check in checks] == [True, True, False]
    commits = served_commits(checks)
    assert list(commits) == [f"{pawsx.train.dataset}@{pawsx.train.revision}"]
    assert len(commits[f"{pawsx.train.dataset}@{pawsx.train.revision}"]) == 40


def test_every_trial_run_carries_the_commits_the_hub_served() -> None:
    """The sweep run and each trial's run: two runs of one cell on different data differ."""
    from sweeper.launch.trial_specs import SweepContext, study_trial_spec
    from sweeper.plan.plan import make_plan
    from sweeper.plan.spec import build_spec
    from sweeper.record.tags import RunTags

    plan = make_plan(build_spec(scales="base", intermediate="mnli", targets_="xnli", trials=1, seeds=1))
    served = '{"google/xtreme@b09e9378": "' + "c" * 40 + '"}'
    encoders = {"base": ("x", "main")}
    context = SweepContext("s", "0", "r", "sqlite:///x.db", "sqlite:///o.db", encoders, data_commits=served)
    key = plan.studies[0]
    tags = RunTags.parse(study_trial_spec(context, plan, key, 0, 1e-5).tags)
    assert tags.provenance["provenance/data_commits"] == served


def test_plan_names_every_target_and_the_commands_that_run_them_all() -> None:
    from sweeper.launch.hub_data import target_coverage
    from sweeper.plan.spec import build_spec

    lines = target_coverage(build_spec(scales="base,large,xl", trials=1, seeds=1, data=HUB))
    assert lines[0] == (
        "XTREME-R's 10 targets: xnli xcopa udpos panx xquad mlqa tydiqa tatoeba lareqa mewslix; "
        "XTREME's others: pawsx bucc2018"
    )
    assert lines[1] == "local only, so not read from the hub: bucc2018, lareqa, cosmosqa; to run every target:"
    assert lines[2] == "  xsweep data fetch bucc2018,lareqa,cosmosqa --out DIR"
    assert lines[3] == "  then this command with --local-data DIR"
    mirrored = lines[4].split("--tasks ")[1].split()[0].split(",")
    assert "ccg" not in mirrored and "all" not in mirrored and {"xnli", "mewslix", "mnli", "squad"} <= set(mirrored)
    named = build_spec(scales="base", targets_="lareqa,xnli", intermediate="mnli", trials=1, seeds=1)
    assert target_coverage(named)[2] == "  xsweep data fetch lareqa,bucc2018,cosmosqa --out DIR"


def test_xsweep_plan_lists_the_ten_targets_and_the_fetch_command() -> None:
    result = CliRunner().invoke(main, ["plan", "--scales", "base,large,xl"])
    assert result.exit_code == 0, result.output
    assert "XTREME-R's 10 targets: xnli xcopa udpos panx xquad mlqa tydiqa tatoeba lareqa mewslix" in result.output
    assert "  xsweep data fetch bucc2018,lareqa,cosmosqa --out DIR" in result.output

"""`xsweep data mirror`'s copy from the hub into the local layout, against a local stand-in
for the hub: a dataset repository laid out as the hub serves one (parquet files per config
and split, declared in its README), loaded by `datasets` through the same call."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from datasets import Dataset

from tasks import HUB, Source, Task, get_task, load_split, mirror_sources, mirror_split
from tests.tasks.realdata_qa import convert_tydiqa


def _hub_repo(repo: Path, splits: dict[tuple[str, str], list[dict]]) -> Path:
    """A dataset repository as on the hub: `<config>/<split>.parquet` and a README naming them."""
    lines = ["---", "configs:"]
    for config in sorted({config for config, _ in splits}):
        lines += [f"- config_name: {config}", "  data_files:"]
        for (owner, split), rows in splits.items():
            if owner == config:
                Dataset.from_list(rows).to_parquet(repo / config / f"{split}.parquet")
                lines += [f"  - split: {split}", f"    path: {config}/{split}.parquet"]
    (repo / "README.md").write_text("\n".join([*lines, "---", ""]), encoding="utf-8")
    return repo


def _standing_in(task: Task, repo: Path) -> Task:
    """``task`` with every source read from ``repo`` instead of the hub."""

    def moved(source: Source) -> Source:
        return dataclasses.replace(source, dataset=str(repo))

    return dataclasses.replace(
        task,
        train=moved(task.train),
        dev={lang: moved(source) for lang, source in task.dev.items()},
        test={lang: moved(source) for lang, source in task.test.items()},
    )


def test_a_mirror_holds_each_hub_split_once_and_reads_back_per_language(realdata: Path, tmp_path: Path) -> None:
    # The real TyDiQA-GoldP sample: all languages in one validation split, as on the hub.
    converted = tmp_path / "converted"
    convert_tydiqa(realdata, converted)
    tydiqa = get_task("tydiqa")
    whole = {
        split: load_split(dataclasses.replace(source, id_prefix=None), str(converted)).to_list()
        for split, source in (("train", tydiqa.train), ("validation", tydiqa.dev["en"]))
    }
    repo = _hub_repo(tmp_path / "hub" / "tydiqa", {("secondary_task", s): rows for s, rows in whole.items()})
    standin = _standing_in(tydiqa, repo)

    sources = mirror_sources(standin)
    # Nine languages' dev share one hub split: the mirror copies it once, whole.
    assert [(s.config, s.split, s.id_prefix) for s in sources] == [
        ("secondary_task", "train", None),
        ("secondary_task", "validation", None),
    ]
    mirror = tmp_path / "mirror"
    for source in sources:
        mirror_split(source, mirror)

    languages = {row["id"].split("-")[0] for row in whole["validation"]}
    assert len(languages) > 3
    for lang, source in standin.dev.items():
        from_mirror = load_split(source, str(mirror)).to_list()
        from_hub = load_split(source, HUB).to_list()
        assert from_mirror == from_hub
        assert all(row["id"].startswith(source.id_prefix) for row in from_mirror), lang
    # Training keeps the English rows only, from the mirror as from the hub.
    train = load_split(standin.train, str(mirror))
    assert len(train) == len(load_split(standin.train, HUB)) >= 1
    assert set(row["id"].split("-")[0] for row in train) == {"english"}
    assert sum(len(load_split(s, str(mirror))) for s in standin.dev.values()) == len(whole["validation"])


def test_mirror_sources_cover_every_split_a_task_reads() -> None:
    xcopa = get_task("xcopa")
    sources = mirror_sources(xcopa, ["zh", "th"])
    names = {(s.dataset, s.config, s.split) for s in sources}
    # Both English training stages, English dev (model selection), and the two languages.
    assert {(xcopa.train.dataset, xcopa.train.config, "train"), (xcopa.then_train.dataset, "copa", "train")} <= names
    assert {(s.dataset, s.config, s.split) for s in (xcopa.dev["en"], xcopa.dev["zh"], xcopa.test["th"])} <= names
    assert len(sources) == len(set(sources))


@pytest.mark.parametrize("option", [("--tasks", "nope"), ("--tasks", "")])
def test_mirror_refuses_unknown_tasks(option: tuple[str, str], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sweeper.cli import main

    result = CliRunner().invoke(main, ["data", "mirror", *option, "--out", str(tmp_path / "m")])
    assert result.exit_code != 0
    assert "--tasks: unknown" in result.output and "valid: mnli" in result.output
    assert not (tmp_path / "m").exists()


def test_an_interrupted_write_leaves_no_split_and_a_rerun_completes(tmp_path: Path) -> None:
    from tasks.data import is_mirrored, write_split

    source = Source("xnli", "facebook/xnli", "de", "validation")
    rows = [{"premise": f"p{n}", "hypothesis": "h", "label": 0} for n in range(5)]

    def interrupted():
        yield from rows[:3]
        raise KeyboardInterrupt  # Ctrl-C halfway through the split

    with pytest.raises(KeyboardInterrupt):
        write_split(source, tmp_path, interrupted())
    assert not is_mirrored(source, tmp_path)
    assert list(Path(source.local_path(str(tmp_path))).parent.iterdir()) == []
    # A process killed outright leaves its temporary file: never the split's own name.
    leftover = Path(source.local_path(str(tmp_path))).with_name(".validation.jsonl.partial")
    leftover.write_text('{"premise": "p0"}\n', encoding="utf-8")
    assert not is_mirrored(source, tmp_path)
    write_split(source, tmp_path, iter(rows))
    assert is_mirrored(source, tmp_path) and load_split(source, str(tmp_path)).to_list() == rows
    assert not leftover.exists()


def test_mirror_collects_failures_keeps_the_rest_and_a_rerun_skips_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from sweeper.cli import main
    from tasks import TASKS
    from tasks.facts import hub_facts
    from tests.tasks.hub_standin import build, repo_dir

    # PAWS-X's repository as the hub facts record it, first without its German config.
    pawsx = get_task("pawsx")
    hub = tmp_path / "hub"
    facts = [hub_facts()[(pawsx.train.dataset, pawsx.train.revision)]]
    without_de = dataclasses.replace(
        facts[0],
        data_files={key: path for key, path in facts[0].data_files.items() if key[0] != "de"},
        readme_configs=tuple(c for c in facts[0].readme_configs if c["config_name"] != "de"),
    )
    build(hub, [without_de])
    folder = repo_dir(hub, pawsx.train.dataset, pawsx.train.revision)
    local = str(folder)

    def moved(source: Source) -> Source:
        return dataclasses.replace(source, dataset=local)

    standin = dataclasses.replace(
        pawsx, train=moved(pawsx.train), dev={lang: moved(s) for lang, s in pawsx.dev.items()}, test={}
    )
    monkeypatch.setitem(TASKS, "pawsx", standin)
    out = tmp_path / "mirror"
    args = ["data", "mirror", "--tasks", "pawsx", "--languages", "en,de", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "Traceback" not in result.output
    failed = [line for line in result.output.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 1 and "pawsx" in failed[0] and "de/validation" in failed[0], result.output
    assert "2 of 3 splits" in result.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jsonl")) == [
        "pawsx/en/train.jsonl",
        "pawsx/en/validation.jsonl",
    ]
    # Fixed, then rerun: the two kept splits are skipped, the missing one written.
    build(hub, facts)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "3 of 3 splits" in result.output and "(2 already there)" in result.output
    assert load_split(standin.dev["de"], str(out)).to_list() == load_split(standin.dev["de"], HUB).to_list()

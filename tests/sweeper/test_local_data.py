"""--local-data: the tasks with no hub copy (LAReQA, BUCC, Cosmos QA) read from what `xsweep data
fetch` wrote, from the loopback server's official files, and every other task from --data; so
a --data hub sweep runs all ten XTREME-R targets. Through the one data path: the spec, the
plan's resolved tasks and cell keys, and what a trial records of the data it read."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from sweeper.cli import main
from sweeper.plan.plan import make_plan
from sweeper.plan.spec import SpecError, build_spec
from sweeper.record.inputs import datasets_read
from sweeper.record.provenance import fetched_tags
from tasks import HUB, get_task, is_present, resolve, targets
from tests.conftest import FetchedData
from tests.tasks.official_release import BUCC_STANDIN_LANGUAGES
from tests.tasks.realdata_intermediates import convert_ccg_stand_in
from tests.tasks.realdata_retrieval import LAREQA_SAMPLE_LANGUAGES

XTREME_R = [task.name for task in targets() if "xtreme-r" in task.submission.benchmarks]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("/no/such/dir", "--local-data: /no/such/dir is not a directory; valid: a folder `xsweep data fetch TASKS"),
        ("{empty}", "--local-data: {empty} holds no split of bucc2018, lareqa, cosmos_qa, ccg; valid: a folder"),
        ("{file}", "--local-data: {file} is not a directory; valid:"),
    ],
)
def test_a_folder_that_is_not_fetched_data_is_refused_in_one_line(given: str, message: str, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("not a folder")
    names = {"{empty}": str(tmp_path / "empty"), "{file}": str(tmp_path / "file")}
    for placeholder, value in names.items():
        given, message = given.replace(placeholder, value), message.replace(placeholder, value)
    with pytest.raises(SpecError) as error:
        build_spec(scales="base", local_data=given)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
    # The CLI's plan, likewise: one line, nothing planned.
    result = CliRunner().invoke(main, ["plan", "--scales", "base", "--local-data", given])
    assert result.exit_code == 1 and result.output.strip().splitlines() == [f"Error: {error.value}"]


def test_hub_and_fetched_data_run_every_xtreme_r_target(fetched_data: FetchedData) -> None:
    spec = build_spec(scales="base,large,xl", trials=1, seeds=1, local_data=str(fetched_data.root))
    assert spec.data == HUB and spec.local_data == str(fetched_data.root.resolve())
    assert set(XTREME_R) <= set(spec.targets) and len(XTREME_R) == 10 and "bucc2018" in spec.targets
    assert "cosmosqa" in spec.intermediates and "ccg" not in spec.intermediates
    plan = make_plan(spec)
    assert set(plan.languages["lareqa"]) == set(LAREQA_SAMPLE_LANGUAGES)
    assert set(plan.languages["bucc2018"]) == set(BUCC_STANDIN_LANGUAGES)
    # Every local-only split is read from the fetched files; every other from the hub.
    local = [source for _, source in plan.sources() if source.local_only]
    assert {source.folder for source in local} == {"lareqa", "bucc2018", "cosmos_qa"}
    assert all(
        Path(source.path).is_file() and fetched_data.root.resolve() in Path(source.path).parents for source in local
    )
    assert all(source.path is None for _, source in plan.sources() if not source.local_only)
    # `all` trains on Cosmos QA too.
    assert "cosmosqa" in {member.name for member in plan.tasks["all"].settings.members}
    without = build_spec(scales="base", trials=1, seeds=1)
    assert not {"lareqa", "bucc2018"} & set(without.targets) and "cosmosqa" not in without.intermediates


def test_a_local_only_split_it_lacks_is_read_from_data(fetched_data: FetchedData, tmp_path: Path) -> None:
    """CCG kept in a --data mirror stays there; Cosmos QA comes from --local-data."""
    mirror = tmp_path / "mirror"
    convert_ccg_stand_in(mirror)
    root = str(fetched_data.root)
    ccg = resolve("ccg", str(mirror), local_data=root)
    assert ccg.train.path is None and is_present(ccg.train, str(mirror))
    spec = build_spec(scales="tiny", targets_="bucc2018", trials=1, seeds=1, data=str(mirror), local_data=root)
    assert spec.intermediates == ("cosmosqa", "ccg", "all")
    members = make_plan(spec).tasks["all"].settings.members
    assert [(m.name, m.train.path is not None) for m in members] == [("cosmosqa", True), ("ccg", False)]
    # A target neither folder holds is looked for in --local-data, and the message says so.
    bucc_less = tmp_path / "bucc-less"
    shutil.copytree(fetched_data.root, bucc_less, ignore=shutil.ignore_patterns("bucc2018"))
    with pytest.raises(SpecError, match=rf"^--local-data: bucc2018 has no evaluation data in de fr ru zh; expected "
                                        rf"one of {bucc_less}/bucc2018/bucc18.de/validation.jsonl"):  # fmt: skip
        make_plan(build_spec(scales="tiny", targets_="bucc2018", intermediate="none", local_data=str(bucc_less)))


def test_local_data_enters_the_fingerprint_and_the_keys_of_the_cells_it_feeds(
    fetched_data: FetchedData, tmp_path: Path
) -> None:
    args = {"scales": "base", "intermediate": "mnli", "targets_": "xnli,lareqa", "trials": 1, "seeds": 1}
    copy = tmp_path / "fetched"
    shutil.copytree(fetched_data.root, copy)
    before = make_plan(build_spec(**args, local_data=str(copy)))
    # One question fewer in German's LAReQA file: new LAReQA cells, the same XNLI ones.
    german = copy / "lareqa" / "de" / "validation.jsonl"
    german.write_text("".join(german.read_text(encoding="utf-8").splitlines(True)[1:]), encoding="utf-8")
    after = make_plan(build_spec(**args, local_data=str(copy)))
    assert {c.key for c in before.cells if c.target == "xnli"} == {c.key for c in after.cells if c.target == "xnli"}
    assert not {c.key for c in before.cells if c.target == "lareqa"} & {
        c.key for c in after.cells if c.target == "lareqa"
    }
    assert before.spec.fingerprint() == after.spec.fingerprint()
    # The folder is part of what the sweep is (as --data is); unset, earlier fingerprints stand.
    xnli = {**args, "targets_": "xnli"}
    assert build_spec(**xnli, local_data=str(copy)).fingerprint() != build_spec(**xnli).fingerprint()
    assert build_spec(**xnli, local_data=str(copy)).name != build_spec(**xnli).name


def test_plan_says_what_is_fetched_and_the_command_for_the_rest(fetched_data: FetchedData, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["plan", "--scales", "base,large,xl", "--local-data", str(fetched_data.root)])
    assert result.exit_code == 0, result.output
    assert "XTREME-R's 10 targets: xnli xcopa udpos panx xquad mlqa tydiqa tatoeba lareqa mewslix" in result.output
    root = fetched_data.root.resolve()
    assert f"local only, read from --local-data {root}: bucc2018, lareqa, cosmosqa\n" in result.output
    assert "xsweep data fetch" not in result.output
    partial = tmp_path / "partial"
    shutil.copytree(fetched_data.root, partial, ignore=shutil.ignore_patterns("bucc2018"))
    result = CliRunner().invoke(main, ["plan", "--scales", "base", "--local-data", str(partial)])
    assert result.exit_code == 0, result.output
    assert f"local only, read from --local-data {partial}: lareqa, cosmosqa\n" in result.output
    assert "local only and not in --local-data yet: bucc2018; to run every target:\n" in result.output
    assert f"  xsweep data fetch bucc2018 --out {partial}\n  then this command again\n" in result.output


def test_runs_record_the_fetched_files_they_read(fetched_data: FetchedData, demo_data: Path) -> None:
    root, release = str(fetched_data.root), fetched_data.release
    lareqa = resolve("lareqa", HUB, local_data=root)
    reads = datasets_read(lareqa, HUB, ("en", "de"), ("dev", "test"))
    assert [(read.name, read.context, read.local_file is not None) for read in reads] == [
        ("squad-plain_text", "train", False),
        ("lareqa-en", "dev", True),
        ("lareqa-de", "dev", True),
    ]
    # The German split's pool is every fetched language's sentences: each file's SHA-256.
    assert fetched_tags(read.local_file for read in reads if read.local_file) == {
        f"provenance/fetched/lareqa/xquad-r/{lang}.json": _sha256(release / "lareqa" / "xquad-r" / f"{lang}.json")
        for lang in LAREQA_SAMPLE_LANGUAGES
    }
    # A multi-task run reads its members' data: Cosmos QA's from the fetched files.
    every = resolve("all", HUB, local_data=root)
    reads = [read for read in datasets_read(every, HUB, ("en",), ("dev",)) if read.local_file is not None]
    assert {(read.name, read.context) for read in reads} == {("cosmos_qa-default", "train"), ("cosmosqa-en", "dev")}
    assert fetched_tags(read.local_file for read in reads) == {
        f"provenance/fetched/cosmos_qa/{name}": _sha256(release / "cosmosqa" / name)
        for name in ("train.csv", "valid.csv")
    }
    # Data no fetch wrote (a mirror's) carries no such tag.
    mirrored = datasets_read(get_task("xnli"), str(demo_data), ("en", "de"), ("dev", "test"))
    assert mirrored and fetched_tags(read.local_file for read in mirrored) == {}

"""`xsweep data fetch`: LAReQA, BUCC and Cosmos QA from their official files, served from a
loopback HTTP server in their original formats (the real LAReQA and Cosmos QA samples of
../shared/fixtures/realdata; BUCC's tarballs built from the real-data BUCC stand-in), into
the local layout; atomic per split, a rerun downloads nothing, every file's SHA-256 kept."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasks import get_task, load_split
from tasks.fetch import FetchError, fetch
from tests.tasks.official_release import BUCC_STANDIN_LANGUAGES, fetch_args, serve, write_release
from tests.tasks.realdata_retrieval import LAREQA_SAMPLE_LANGUAGES, convert_bucc, convert_lareqa, write_bucc_standin

SPLITS = ("validation", "test")


@pytest.fixture
def release(realdata: Path, tmp_path: Path) -> Path:
    """The three releases as their publishers lay them out, under one folder per task."""
    return write_release(realdata, tmp_path / "served", tmp_path / "bucc-files")


@pytest.fixture
def server(release: Path) -> Iterator[tuple[str, list[str]]]:
    """``release`` on 127.0.0.1; yields its URL and the log of paths requested."""
    with serve(release) as served:
        yield served


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_three_are_fetched_into_the_local_layout(
    server: tuple[str, list[str]], release: Path, realdata: Path, tmp_path: Path
) -> None:
    url, requested = server
    out = tmp_path / "data"
    plan = {"lareqa": LAREQA_SAMPLE_LANGUAGES, "bucc2018": BUCC_STANDIN_LANGUAGES, "cosmosqa": None}
    done = {name: fetch(get_task(name), out, languages, f"{url}/{name}") for name, languages in plan.items()}
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jsonl")) == sorted(
        [f"lareqa/{lang}/validation.jsonl" for lang in LAREQA_SAMPLE_LANGUAGES]
        + [f"bucc2018/bucc18.{lang}/{split}.jsonl" for lang in BUCC_STANDIN_LANGUAGES for split in SPLITS]
        + ["cosmos_qa/default/train.jsonl", "cosmos_qa/default/validation.jsonl"]
    )
    # The rows are those the tests' own converters (of the same official formats) build, which
    # the end-to-end sweep scores with mAP@20 and F1 (tests/sweeper/test_targets_e2e.py).
    expected = tmp_path / "expected"
    convert_lareqa(realdata, expected)
    convert_bucc(write_bucc_standin(realdata, tmp_path / "bucc-again"), expected)
    for task in ("lareqa", "bucc2018"):
        for source in (*get_task(task).dev.values(), *get_task(task).test.values()):
            if Path(source.local_path(str(expected))).is_file():
                assert load_split(source, str(out)).to_list() == load_split(source, str(expected)).to_list()
    cosmos = get_task("cosmosqa")
    validation = load_split(cosmos.dev["en"], str(out))
    assert len(validation) == 40 and set(validation[0]) >= {"context", "question", "answer0", "answer3", "label"}
    assert isinstance(validation[0]["label"], int)
    # Every file's SHA-256, as served.
    manifest = json.loads((out / "cosmos_qa" / "fetched.json").read_text(encoding="utf-8"))
    assert {(r["file"], r["sha256"]) for r in manifest} == {
        (name, _sha256(release / "cosmosqa" / name)) for name in ("train.csv", "valid.csv")
    }
    assert all(record["url"].startswith(f"{url}/") for d in done.values() for record in d.files)
    assert len(json.loads((out / "bucc2018" / "fetched.json").read_text(encoding="utf-8"))) == 6

    # A rerun downloads nothing and keeps every split.
    before = len(requested)
    again = {name: fetch(get_task(name), out, languages, f"{url}/{name}") for name, languages in plan.items()}
    assert len(requested) == before
    assert all(not d.written and d.kept for d in again.values())


def test_a_failed_download_writes_no_split_and_a_rerun_completes(
    server: tuple[str, list[str]], release: Path, tmp_path: Path
) -> None:
    url, requested = server
    out = tmp_path / "data"
    hidden = release / "cosmosqa" / "valid.csv"
    hidden.rename(hidden.with_suffix(".away"))
    with pytest.raises(FetchError, match="valid.csv: HTTP Error 404"):
        fetch(get_task("cosmosqa"), out, None, f"{url}/cosmosqa")
    assert not list(out.rglob("*.jsonl")) and not list(out.rglob("*.partial"))
    hidden.with_suffix(".away").rename(hidden)
    requested.clear()
    result = fetch(get_task("cosmosqa"), out, None, f"{url}/cosmosqa")
    # train.csv came whole the first time: only valid.csv is asked for again.
    assert requested == ["/cosmosqa/valid.csv"] and len(result.written) == 2


def test_the_command_fetches_the_three_and_a_rerun_downloads_nothing(
    server: tuple[str, list[str]], tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from sweeper.cli import main

    url, requested = server
    out = tmp_path / "data"
    args = fetch_args(url, out)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "lareqa: 4 splits written, 0 already there" in result.output
    assert "bucc2018: 6 splits written, 0 already there" in result.output
    assert "cosmosqa: 2 splits written, 0 already there" in result.output
    assert "cosmosqa valid.csv sha256 " in result.output
    before = len(requested)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0 and len(requested) == before
    assert "bucc2018: 0 splits written, 6 already there" in result.output


def test_the_command_refuses_what_it_cannot_fetch(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sweeper.cli import main

    result = CliRunner().invoke(main, ["data", "fetch", "xnli", "--out", str(tmp_path / "d")])
    assert result.exit_code != 0 and "valid: lareqa, bucc2018, cosmosqa" in result.output
    result = CliRunner().invoke(main, ["data", "fetch", "lareqa", "--out", str(tmp_path), "--source-url", "x"])
    assert result.exit_code != 0 and "--source-url: 'x'; valid: TASK=URL" in result.output
    assert not (tmp_path / "d").exists()

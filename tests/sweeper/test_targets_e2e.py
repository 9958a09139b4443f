"""A tiny sweep over one target of every family with the `all` intermediate (multi-task over
every intermediate whose sample is present), on the real samples, through the CLI; every
target run's predictions re-scored by the official definitions equal its logged metrics.
LAReQA, BUCC and Cosmos QA come as a user gets them: `xsweep data fetch` from their official
files (served from 127.0.0.1), read through --local-data, each run naming the files' SHA-256."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from tasks import family_of, get_task, is_present, load_split, training_sources, with_local_data
from tasks.catalog.multitask import NINE
from tasks.fetch import wanted_splits
from tasks.scoring.submission import example_ids, file_split, score_folders, write_labels
from tests.conftest import run_xsweep
from tests.tasks.official_release import BUCC_STANDIN_LANGUAGES, FETCHED, fetch_args, serve, write_release
from tests.tasks.realdata import convert_every_task
from tests.tasks.realdata_retrieval import LAREQA_SAMPLE_LANGUAGES

TARGETS = ("xcopa", "udpos", "panx", "xquad", "tatoeba", "bucc2018", "lareqa", "xnli")
# Training rows kept per split: the machinery, not the numbers, is under test here.
TRAIN_ROWS = 24


def _trim_training(data: Path) -> None:
    for name in (*TARGETS, *NINE):
        for source in training_sources(get_task(name)):
            path = Path(source.local_path(str(data)))
            if path.is_file():
                lines = path.read_text(encoding="utf-8").splitlines(True)[:TRAIN_ROWS]
                path.write_text("".join(lines), encoding="utf-8")


def _fetched(realdata: Path, data: Path, tmp_path: Path) -> Path:
    """`xsweep data fetch lareqa,bucc2018,cosmosqa` from the official files on a loopback
    server, into its own folder; the converters' copies of those splits leave ``data``, so the
    sweep can read them only through --local-data."""
    fetchable = [source for name in FETCHED for source in wanted_splits(get_task(name), get_task(name).languages)]
    for source in fetchable:
        Path(source.local_path(str(data))).unlink(missing_ok=True)
    release = write_release(realdata, tmp_path / "served", tmp_path / "bucc-files")
    local = tmp_path / "fetched"
    with serve(release) as (url, requested):
        result = run_xsweep(*fetch_args(url, local), tracking_uri=f"sqlite:///{tmp_path / 'fetch.db'}", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert requested and not any(is_present(source, str(data)) for source in fetchable)
    return local


def _served_sha256(tmp_path: Path, folder: str) -> dict[str, str]:
    """``provenance/fetched/<folder>/<file>`` → the SHA-256 of each file the server holds for it."""
    served = tmp_path / "served" / {"cosmos_qa": "cosmosqa"}.get(folder, folder)
    files = [path for path in served.rglob("*") if path.is_file()]
    return {
        f"provenance/fetched/{folder}/{path.relative_to(served).as_posix()}": hashlib.sha256(
            path.read_bytes()
        ).hexdigest()
        for path in files
    }


def _rescored(run, data: Path, local: Path, client: MlflowClient, tmp_path: Path) -> None:
    """The run's predictions/ against labels written from the data, by `xsweep score`'s code."""
    task = with_local_data(get_task(run.data.tags["target"]), str(local))
    predictions = Path(
        mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id, artifact_path="predictions", dst_path=str(tmp_path / run.info.run_id),
            tracking_uri=client.tracking_uri,
        )
    )  # fmt: skip
    labels = tmp_path / f"labels-{run.info.run_id}"
    family = family_of(task.family)
    for split, sources in (("dev", task.dev), ("test", task.test)):
        for lang in run.data.tags["languages"].split(","):
            if lang in sources and is_present(sources[lang], str(data)):
                rows = load_split(sources[lang], str(data))
                gold = family.gold(rows, task)
                if gold is not None:
                    write_labels(task.name, split, lang, gold, labels, example_ids(rows, task.name))
    benchmark = "xtreme" if task.name in ("pawsx", "bucc2018") else "xtreme-r"
    split = "test" if f"test/{task.metric}/avg" in run.data.metrics else "dev"
    scores = score_folders(predictions, labels, benchmark, file_split(task.name, split))[task.name][task.metric]
    for lang, value in scores.items():
        if lang != "avg":
            assert value == pytest.approx(100 * run.data.metrics[f"{split}/{task.metric}/{lang}"], abs=1e-6)


@pytest.mark.slow
def test_a_sweep_over_every_family_with_all_logs_each_language(realdata: Path, tmp_path: Path) -> None:
    data = convert_every_task(realdata, tmp_path / "data")
    local = _fetched(realdata, data, tmp_path)
    _trim_training(data)
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = (
        "launch", "--name", "families", "--scales", "tiny", "--intermediate", "all",
        "--targets", ",".join(TARGETS), "--trials", "1", "--seeds", "1", "--data", str(data),
        "--local-data", str(local),
    )  # fmt: skip
    result = run_xsweep(*args, tracking_uri=tracking_uri, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]

    client = MlflowClient(tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("families").experiment_id])
    assert all(run.info.status == "FINISHED" for run in runs)
    phases = Counter(run.data.tags["phase"] for run in runs)
    # Tatoeba and BUCC train nothing: no learning rate to search for them.
    assert phases == {"sweep": 1, "intermediate": 1, "target_search": len(TARGETS) - 2, "target": 2 * len(TARGETS)}
    (multitask,) = [run for run in runs if run.data.tags["phase"] == "intermediate"]
    # Every intermediate with a sample trains in `all`; CCG's stand-in is in the mirror too,
    # Cosmos QA's is the fetched one.
    assert set(multitask.data.tags["members"].split(",")) == set(NINE)
    assert {f"dev/{name}_{get_task(name).metric}/en" for name in NINE} < set(multitask.data.metrics)
    assert _fetched_tags(multitask) == _served_sha256(tmp_path, "cosmos_qa")
    for run in runs:
        if run.data.tags["phase"] != "target":
            continue
        assert run.data.tags["intermediate"] in ("none", "all")
        task = get_task(run.data.tags["target"])
        languages = run.data.tags["languages"].split(",")
        assert set(languages) <= set(task.languages) and len(languages) >= 2, task.name
        # The skeleton's contract: {split}/{metric}/{lang} per language, and the averages.
        for lang in languages:
            values = [run.data.metrics.get(f"{split}/{task.metric}/{lang}") for split in ("dev", "test")]
            assert any(value is not None for value in values), (task.name, lang)
            assert all(0.0 <= value <= 1.0 for value in values if value is not None), (task.name, lang)
        assert any(f"{split}/{task.metric}/avg_non_en" in run.data.metrics for split in ("dev", "test")), task.name
        _rescored(run, data, local, client, tmp_path)
        _check_fetched(run, local, tmp_path)


def _fetched_tags(run) -> dict[str, str]:
    return {name: value for name, value in run.data.tags.items() if name.startswith("provenance/fetched/")}


def _check_fetched(run, local: Path, tmp_path: Path) -> None:
    """A run on fetched data scores every fetched language by the task's official metric
    (LAReQA's mAP@20 on its dev pools, BUCC's F1 on dev and test), reads the fetched files
    and names the SHA-256 of the official files they were built from."""
    target, metrics = run.data.tags["target"], run.data.metrics
    if target == "lareqa":
        assert run.data.tags["languages"].split(",") == ["ar", "de", "en", "zh"]
        assert all(f"dev/map_at_20/{lang}" in metrics for lang in LAREQA_SAMPLE_LANGUAGES)
    elif target == "bucc2018":
        assert run.data.tags["languages"].split(",") == list(BUCC_STANDIN_LANGUAGES)
        assert all(f"{split}/f1/{lang}" in metrics for split in ("dev", "test") for lang in BUCC_STANDIN_LANGUAGES)
    else:
        assert _fetched_tags(run) == {}, target
        return
    assert _fetched_tags(run) == _served_sha256(tmp_path, target)
    evaluated = [i.dataset for i in run.inputs.dataset_inputs if i.dataset.name.startswith(f"{target}-")]
    assert evaluated and all(local.resolve().as_uri() in i.source for i in evaluated)

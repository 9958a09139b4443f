"""A tiny sweep over one target of every family with the `all` intermediate (multi-task over
every intermediate whose sample is present), on the real samples, through the CLI; every
target run's predictions re-scored by the official definitions equal its logged metrics."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from tasks import family_of, get_task, is_present, load_split, training_sources
from tasks.catalog.multitask import NINE
from tasks.scoring.submission import example_ids, file_split, score_folders, write_labels
from tests.conftest import run_xsweep
from tests.tasks.realdata import convert_every_task

TARGETS = ("xcopa", "udpos", "panx", "xquad", "tatoeba", "bucc2018", "xnli")
# Training rows kept per split: the machinery, not the numbers, is under test here.
TRAIN_ROWS = 24


def _trim_training(data: Path) -> None:
    for name in (*TARGETS, *NINE):
        for source in training_sources(get_task(name)):
            path = Path(source.local_path(str(data)))
            if path.is_file():
                lines = path.read_text(encoding="utf-8").splitlines(True)[:TRAIN_ROWS]
                path.write_text("".join(lines), encoding="utf-8")


def _rescored(run, data: Path, client: MlflowClient, tmp_path: Path) -> None:
    """The run's predictions/ against labels written from the data, by `xsweep score`'s code."""
    task = get_task(run.data.tags["target"])
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
    _trim_training(data)
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = (
        "launch", "--name", "families", "--scales", "tiny", "--intermediate", "all",
        "--targets", ",".join(TARGETS), "--trials", "1", "--seeds", "1", "--data", str(data),
    )  # fmt: skip
    result = run_xsweep(*args, tracking_uri=tracking_uri, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]

    client = MlflowClient(tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("families").experiment_id])
    assert all(run.info.status == "FINISHED" for run in runs)
    phases = Counter(run.data.tags["phase"] for run in runs)
    # Tatoeba and BUCC train nothing: no learning rate to search for them.
    assert phases == {"sweep": 1, "intermediate": 1, "target_search": 5, "target": 2 * len(TARGETS)}
    (multitask,) = [run for run in runs if run.data.tags["phase"] == "intermediate"]
    # Every intermediate with a sample trains in `all`; CCG's stand-in is in the mirror too.
    assert set(multitask.data.tags["members"].split(",")) == set(NINE)
    assert {f"dev/{name}_{get_task(name).metric}/en" for name in NINE} < set(multitask.data.metrics)
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
        _rescored(run, data, client, tmp_path)

"""A tiny sweep over one target of every family, on the real samples, through the CLI."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tasks import get_task, training_sources
from tests.conftest import run_xsweep
from tests.tasks.realdata import convert_every_task

TARGETS = ("xcopa", "udpos", "panx", "xquad", "tatoeba", "bucc2018")
# Training rows kept per split: the machinery, not the numbers, is under test here.
TRAIN_ROWS = 24


def _trim_training(data: Path) -> None:
    for name in TARGETS:
        for source in training_sources(get_task(name)):
            path = Path(source.local_path(str(data)))
            path.write_text("".join(path.read_text(encoding="utf-8").splitlines(True)[:TRAIN_ROWS]), encoding="utf-8")


@pytest.mark.slow
def test_a_sweep_over_every_family_logs_each_language(realdata: Path, tmp_path: Path) -> None:
    data = convert_every_task(realdata, tmp_path / "data")
    _trim_training(data)
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = (
        "launch", "--name", "families", "--scales", "tiny", "--intermediate", "none",
        "--targets", ",".join(TARGETS), "--trials", "1", "--seeds", "1", "--data", str(data),
    )  # fmt: skip
    result = run_xsweep(*args, tracking_uri=tracking_uri, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]

    client = MlflowClient(tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("families").experiment_id])
    assert all(run.info.status == "FINISHED" for run in runs)
    phases = Counter(run.data.tags["phase"] for run in runs)
    # The baseline alone (an intermediate's hand-over is the same for every family: an
    # encoder). Tatoeba and BUCC train nothing: no learning rate to search for them.
    assert phases == {"sweep": 1, "target_search": 4, "target": len(TARGETS)}
    for run in runs:
        if run.data.tags["phase"] != "target":
            continue
        task = get_task(run.data.tags["target"])
        languages = run.data.tags["languages"].split(",")
        assert set(languages) <= set(task.languages) and len(languages) >= 2, task.name
        # The skeleton's contract: {split}/{metric}/{lang} per language, and the averages.
        for lang in languages:
            values = [run.data.metrics.get(f"{split}/{task.metric}/{lang}") for split in ("dev", "test")]
            assert any(value is not None for value in values), (task.name, lang)
            assert all(0.0 <= value <= 1.0 for value in values if value is not None), (task.name, lang)
        assert any(f"{split}/{task.metric}/avg_non_en" in run.data.metrics for split in ("dev", "test")), task.name
        kept = {a.path for a in client.list_artifacts(run.info.run_id, "predictions")}
        assert kept == {f"predictions/{task.name}"}, task.name

"""Exactly-once: a sweep whose driver is killed mid-trial resumes in its own runs.

The checkpoint store and a reopened run's de-duplication are checked on their own; then a
real tiny sweep (Ray, Optuna, MLflow on SQLite) is killed with SIGKILL while a trial trains,
and relaunched with the same command.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

import optuna
import pyarrow.fs
import pytest
from mlflow.tracking import MlflowClient
from transformers import AutoModelForSequenceClassification

from sweeper.record.tracking import TrackedRun
from sweeper.train.resume import ResumeStore
from tasks.demo import write_demo_data
from tests.conftest import XSWEEP, run_xsweep


@pytest.fixture(params=["local", "s3"])
def resume_storage(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, pyarrow.fs.FileSystem, str]:
    """A storage path, its filesystem and the path inside it: a local folder, or a bucket on
    the loopback S3 server (pyarrow finds it through AWS_ENDPOINT_URL)."""
    if request.param == "local":
        return str(tmp_path / "storage"), pyarrow.fs.LocalFileSystem(), str(tmp_path / "storage")
    store = request.getfixturevalue("object_store")
    bucket = store.make_bucket(f"resume-{uuid.uuid4().hex[:12]}")
    filesystem, path = pyarrow.fs.FileSystem.from_uri(f"s3://{bucket}/tune")
    return f"s3://{bucket}/tune", filesystem, path


def _keys(filesystem: pyarrow.fs.FileSystem, path: str) -> list[str]:
    found = filesystem.get_file_info(pyarrow.fs.FileSelector(path, recursive=True, allow_not_found=True))
    return sorted(info.path.removeprefix(path) for info in found if info.type == pyarrow.fs.FileType.File)


def test_resume_store_keeps_the_latest_checkpoint_per_stage(
    resume_storage: tuple[str, pyarrow.fs.FileSystem, str], tmp_path: Path
) -> None:
    storage_path, filesystem, root = resume_storage
    store = ResumeStore.for_run(storage_path, "run1", every_s=1)
    assert store.latest_stage() is None
    for step in (10, 20):
        checkpoint = tmp_path / f"checkpoint-{step}"
        checkpoint.mkdir()
        (checkpoint / "trainer_state.json").write_text(f'{{"global_step": {step}}}')
        store.upload(0, checkpoint)
    assert store.latest_stage() == 0
    fetched = store.fetch(0, tmp_path / "fetched")
    assert (fetched / "trainer_state.json").read_text() == '{"global_step": 20}'
    # One version left of stage 0: its files and, last, its marker; nothing renamed, nothing partial.
    keys = _keys(filesystem, f"{root}/resume/run1")
    assert len([key for key in keys if key.endswith(".complete")]) == 1 and len(keys) == 2, keys
    store.upload(1, tmp_path / "checkpoint-10")
    assert store.latest_stage() == 1
    # An upload cut off mid-copy (a kill, a full disk) has files but no marker: not a checkpoint.
    filesystem.create_dir(f"{root}/resume/run1/stage2/v9", recursive=True)
    with filesystem.open_output_stream(f"{root}/resume/run1/stage2/v9/trainer_state.json") as cut_off:
        cut_off.write(b"{}")
    assert store.latest_stage() == 1
    # The next complete upload of that stage removes the cut-off one.
    store.upload(2, tmp_path / "checkpoint-20")
    assert store.latest_stage() == 2
    assert not [key for key in _keys(filesystem, f"{root}/resume/run1") if "/v9/" in key]
    store.clear()
    assert store.latest_stage() is None and _keys(filesystem, f"{root}/resume/run1") == []


def test_a_reopened_run_adds_only_what_it_lacks(tmp_path: Path) -> None:
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("reopen")
    first = TrackedRun.start(client, experiment, "trial", {})
    first.log_params({"learning_rate": 1e-5})
    for step in (10, 20, 30):
        first.log_metrics({"train/loss": 1.0 / step}, step=step)
    first.log_metrics({"dev/accuracy/en": 0.5})
    first.flush()  # then the process dies: the run stays RUNNING

    again = TrackedRun.reopen(client, first.run_id)
    again.log_params({"learning_rate": 1e-5, "version/torch": "2.13"})
    for step in (20, 30, 40):  # resumed from a checkpoint at step 10
        again.log_metrics({"train/loss": 2.0 / step}, step=step)
    again.log_metrics({"dev/accuracy/en": 0.5, "dev/accuracy/de": 0.4})
    again.finish()

    history = client.get_metric_history(first.run_id, "train/loss")
    assert [(point.step, point.value) for point in history] == [(10, 0.1), (20, 0.05), (30, 1 / 30), (40, 0.05)]
    assert len(client.get_metric_history(first.run_id, "dev/accuracy/en")) == 1
    run = client.get_run(first.run_id)
    assert run.data.params == {"learning_rate": "1e-05", "version/torch": "2.13"}
    assert run.info.status == "FINISHED" and run.data.metrics["dev/accuracy/de"] == 0.4


def _wait_for_checkpoint(resume_root: Path, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the sweep ended before any checkpoint: {process.stdout.read()[-3000:]}")
        if any(resume_root.glob("*/stage0/*.complete")):
            return
        time.sleep(0.5)
    raise AssertionError("no resume checkpoint within the timeout")


@pytest.mark.slow
def test_a_killed_driver_resumes_every_cell_exactly_once(tmp_path: Path) -> None:
    data = write_demo_data(tmp_path / "data")
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = (
        "launch", "--name", "killed", "--scales", "tiny", "--intermediate", "mnli", "--targets", "xnli",
        "--trials", "1", "--seeds", "1", "--data", str(data), "--checkpoint-every", "1", "--keep-target-checkpoints",
    )  # fmt: skip
    # Its own session, so that the kill takes the driver's local Ray with it.
    first = subprocess.Popen(
        [XSWEEP, *args],
        cwd=tmp_path,
        env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_for_checkpoint(tmp_path / ".xsweep" / "tune" / "resume", first)
        time.sleep(1)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=60)

    client = MlflowClient(tracking_uri)
    experiment_id = client.get_experiment_by_name("killed").experiment_id
    assert any(run.info.status == "RUNNING" for run in client.search_runs([experiment_id]))

    second = run_xsweep(*args, tracking_uri=tracking_uri, cwd=tmp_path)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]

    runs = client.search_runs([experiment_id])
    assert Counter(run.info.status for run in runs) == {"FINISHED": len(runs)}
    phases = Counter(run.data.tags["phase"] for run in runs)
    # One sweep run (resumed, not a second one); one run per trial and per cell: mnli's and
    # xnli's one learning-rate trial, and the cells none→xnli and mnli→xnli.
    assert phases == {"sweep": 1, "intermediate": 1, "target_search": 1, "target": 2}
    sweep = next(run for run in runs if run.data.tags["phase"] == "sweep")
    assert sweep.data.tags["launches"] == "2"
    cells = [run.data.tags["cell"] for run in runs if run.data.tags["phase"] == "target"]
    assert len(set(cells)) == len(cells) == 2
    trial_keys = [run.data.tags["trial_key"] for run in runs if run.data.tags["phase"] != "sweep"]
    assert len(set(trial_keys)) == len(trial_keys)

    # The interrupted trial went on from its checkpoint, in its own run.
    resumed = [run for run in runs if "resumed_from_step" in run.data.tags]
    assert resumed and all(int(run.data.tags["resumed_from_step"]) > 0 for run in resumed)
    # Every metric point exactly once: no step twice in a history (the loss curve's, the system
    # metrics' samples), one point per final metric, Δ included: the relaunch wrote any Δ the
    # first launch had not, and none twice.
    (mnli_cell,) = [run for run in runs if run.data.tags.get("intermediate_run_id")]
    assert "delta/test/accuracy/avg_non_en" in mnli_cell.data.metrics
    for run in runs:
        for key in run.data.metrics:
            steps = [point.step for point in client.get_metric_history(run.info.run_id, key)]
            assert len(steps) == len(set(steps)), (run.info.run_name, key, steps)
            if not key.startswith(("train/", "system/")):
                assert len(steps) == 1, (run.info.run_name, key, steps)
    # Asked for, target runs keep their whole fine-tuned model beside their predictions.
    for run in runs:
        if run.data.tags["phase"] == "target":
            kept = {a.path for a in client.list_artifacts(run.info.run_id)}
            assert kept == {"checkpoint", "predictions"}
            local = client.download_artifacts(run.info.run_id, "checkpoint", str(tmp_path / run.info.run_id))
            assert AutoModelForSequenceClassification.from_pretrained(local).config.num_labels == 3
    # Each study holds its one trial, told once; the resume checkpoints are gone.
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    for summary in optuna.get_all_study_summaries(storage):
        states = [trial.state for trial in optuna.load_study(study_name=summary.study_name, storage=storage).trials]
        assert states == [optuna.trial.TrialState.COMPLETE], summary.study_name
    assert not any((tmp_path / ".xsweep" / "tune" / "resume").iterdir())

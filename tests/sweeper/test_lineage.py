"""Every run records its lineage from its start: a search trial its study prunes mid-training
names the data it read and carries the provenance tags of a finished one."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from sweeper.launch.launch import _resources
from sweeper.launch.search import StudyPruning, SweepSearcher
from sweeper.launch.trial_specs import SweepContext
from sweeper.plan.plan import make_plan
from sweeper.plan.scales import SCALES
from sweeper.plan.spec import build_spec
from sweeper.record.tags import PROVENANCE_PREFIX
from sweeper.record.tracking import TrackedRun
from sweeper.train.pretrained import build_tiny_model
from sweeper.trial.trainable import run_trial
from sweeper.trial.trial_spec import EPOCH_SCORE
from tasks import get_task, load_split
from tests.conftest import FinishedSweep, outscore_every_study

pytestmark = pytest.mark.slow


def _lineage(run) -> tuple[set[tuple[str, str]], set[str]]:
    """What a run names of its inputs (dataset, context) and the names of its provenance tags."""
    inputs = {(i.dataset.name, i.tags[0].value) for i in run.inputs.dataset_inputs}
    return inputs, {name for name in run.data.tags if name.startswith(PROVENANCE_PREFIX)}


def test_a_pruned_search_trial_has_the_lineage_of_a_finished_one(
    tmp_path: Path, demo_data: Path, finished_sweep: FinishedSweep
) -> None:
    """One tiny MNLI search trial in a real Tuner with the sweep's searcher and pruner, its
    study already holding two trials that scored 0.99 after epoch 1: the random tiny model
    scores far below their median there, so the study prunes it after its first epoch. Its run
    holds the inputs and provenance tags of the finished sweep's MNLI search trials."""
    import ray
    from ray import tune

    task = get_task("mnli")
    rows = load_split(task.train, str(demo_data))
    tiny = build_tiny_model(list(rows[task.columns["text_a"]]) + list(rows[task.columns["text_b"]]), tmp_path / "tiny")
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri)
    experiment_id = client.create_experiment("pruned", artifact_location=(tmp_path / "artifacts").as_uri())
    holder = TrackedRun.start(client, experiment_id, "pretrained", {})
    holder.log_artifacts(tiny, "pretrained/tiny")
    spec = build_spec(scales="tiny", intermediate="mnli", targets_="xnli", trials=1, seeds=1, data=str(demo_data))
    context = SweepContext(
        name="pruned",
        experiment_id=experiment_id,
        sweep_run_id=holder.run_id,
        tracking_uri=tracking_uri,
        study_storage=f"sqlite:///{tmp_path / 'optuna.db'}",
        encoders={"tiny": (f"runs:/{holder.run_id}/pretrained/tiny", "local")},
        storage_path=str(tmp_path / "tune"),
    )
    searcher = SweepSearcher(make_plan(spec), context)
    outscore_every_study(searcher, SCALES["tiny"].learning_rate_range)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        tuner = tune.Tuner(
            tune.with_resources(run_trial, _resources),
            tune_config=tune.TuneConfig(search_alg=searcher, scheduler=StudyPruning(searcher), num_samples=1),
            run_config=tune.RunConfig(storage_path=str(tmp_path / "tune"), verbose=0),
        )
        result = tuner.fit()[0]
    finally:
        ray.shutdown()

    assert result.metrics[EPOCH_SCORE] < 0.99 and result.metrics["epoch"] == 1
    pruned = client.get_run(result.metrics["run_id"])
    assert pruned.info.status == "KILLED" and pruned.data.tags["pruned"] == "true"
    # The finished sweep's search trials of the same study (its data and demo data are these).
    tags = pruned.data.tags
    sweep = MlflowClient(finished_sweep.tracking_uri)
    finished = sweep.search_runs(
        [sweep.get_experiment_by_name("e2e").experiment_id],
        filter_string=f"tags.phase = '{tags['phase']}' and tags.intermediate = '{tags['intermediate']}' "
        "and attributes.status = 'FINISHED'",
    )
    inputs, provenance = _lineage(pruned)
    assert finished and inputs and provenance
    for run in finished:
        assert _lineage(run) == (inputs, provenance)

"""A multi-GPU scale's path on CPUs: a trial's stage on two Ray Train workers in one gloo
process group, started from inside a real Tune trial."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest
import torch
from mlflow.tracking import MlflowClient
from transformers import AutoModel

from sweeper.launch.launch import _resources
from sweeper.launch.search import StudyPruning, SweepSearcher
from sweeper.launch.studies import MLFLOW_RUN_ID
from sweeper.launch.trial_specs import SweepContext
from sweeper.plan.plan import INTERMEDIATE, make_plan
from sweeper.plan.scales import SCALES
from sweeper.plan.spec import build_spec
from sweeper.record.tracking import TrackedRun
from sweeper.resources.placement import Placement
from sweeper.train.pretrained import build_tiny_model
from sweeper.trial.trainable import run_trial
from sweeper.trial.trial_spec import EPOCH_SCORE, SweepShared, TrialSpec, trial_config
from tasks import get_task, load_split
from tests.conftest import outscore_every_study

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def ray_on_three_cpus() -> Iterator[None]:
    """One local Ray for this module's trials (a driver and two workers each): started once."""
    import ray

    ray.init(address="local", num_cpus=3, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


# Where a multi-GPU scale's trial trains, on CPUs: two Train workers in one gloo group, sharded as XL.
TWO_WORKERS = Placement(workers=2, backend="gloo", sharded=True)


@dataclass(frozen=True)
class _Stored:
    tiny: Path
    tracking_uri: str
    client: MlflowClient
    experiment_id: str
    # A run holding the tiny encoder as an artifact, as a sweep's run holds its local models.
    holder: TrackedRun


def _stored_tiny_encoder(tmp_path: Path, demo_data: Path, experiment: str) -> _Stored:
    task = get_task("mnli")
    rows = load_split(task.train, str(demo_data))
    tiny = build_tiny_model(list(rows[task.columns["text_a"]]) + list(rows[task.columns["text_b"]]), tmp_path / "tiny")
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri)
    experiment_id = client.create_experiment(experiment, artifact_location=(tmp_path / "artifacts").as_uri())
    holder = TrackedRun.start(client, experiment_id, "pretrained", {})
    holder.log_artifacts(tiny, "pretrained/tiny")
    return _Stored(tiny, tracking_uri, client, experiment_id, holder)


def test_a_trial_on_two_train_workers_trains_once_and_logs_once(
    tmp_path: Path, demo_data: Path, ray_on_three_cpus: None
) -> None:
    from ray import tune

    stored = _stored_tiny_encoder(tmp_path, demo_data, "sharded")
    tiny, tracking_uri, client, experiment_id, holder = (
        stored.tiny, stored.tracking_uri, stored.client, stored.experiment_id, stored.holder,
    )  # fmt: skip
    spec = TrialSpec(
        phase=INTERMEDIATE,
        scale="tiny",
        task="mnli",
        learning_rate=1e-3,
        seed=0,
        encoder=f"runs:/{holder.run_id}/pretrained/tiny",
        encoder_revision="local",
        languages=("en",),
        splits=("dev",),
        run_name="tiny/mnli/sharded",
        tags={"phase": INTERMEDIATE, "sweep_run_id": holder.run_id},
        params={},
        placement=TWO_WORKERS,
        key="tiny/intermediate/mnli/0",
    )
    shared = SweepShared(holder.run_id, experiment_id, tracking_uri, str(demo_data), str(tmp_path / "tune"))
    config = trial_config(spec, shared)
    assert _resources(config) == {"CPU": 1}  # the trial is a driver; workers hold their own
    tuner = tune.Tuner(
        tune.with_resources(run_trial, _resources),
        param_space=config,
        run_config=tune.RunConfig(storage_path=str(tmp_path / "tune"), verbose=0),
    )
    result = tuner.fit()[0]
    assert result.error is None, result.error

    run = client.get_run(result.metrics["run_id"])
    assert run.info.status == "FINISHED"
    # The Trainer saw both workers' process group and sharded over it.
    assert run.data.params["world_size"] == "2" and run.data.params["workers"] == "2"
    # Accelerate enables FSDP on accelerators only: on CPUs the sharded arguments train as
    # plain data parallelism (benchmarks/sharded_check.py checks the FSDP path on a GPU).
    assert run.data.params["sharded"] == "True" and run.data.params["fsdp"] == "False"
    # Rank 0 alone logs: one value per metric, one loss point per step.
    assert result.metrics["objective"] == run.data.metrics["dev/accuracy/en"]
    assert len(client.get_metric_history(run.info.run_id, "dev/accuracy/en")) == 1
    steps = [point.step for point in client.get_metric_history(run.info.run_id, "train/loss")]
    assert steps and len(steps) == len(set(steps))
    # The gathered checkpoint is the whole trained encoder, loadable as the next stage's.
    checkpoint = mlflow.artifacts.download_artifacts(
        artifact_uri=f"runs:/{run.info.run_id}/checkpoint", dst_path=str(tmp_path / "ckpt"), tracking_uri=tracking_uri
    )
    trained, pretrained = AutoModel.from_pretrained(checkpoint), AutoModel.from_pretrained(tiny)
    trained_weights, pretrained_weights = trained.state_dict(), pretrained.state_dict()
    assert trained_weights.keys() == pretrained_weights.keys()
    assert all(trained_weights[k].shape == pretrained_weights[k].shape for k in trained_weights)
    changed = [k for k in trained_weights if not torch.equal(trained_weights[k], pretrained_weights[k])]
    assert len(changed) > len(trained_weights) // 2


@dataclass(frozen=True)
class _OnTwoWorkers(SweepContext):
    """A sweep whose tiny trials train as a multi-GPU scale's do (the searcher hands each
    trial its scale's placement from its context)."""

    def placement(self, scale: str) -> Placement:
        return TWO_WORKERS


def test_a_search_trial_on_two_train_workers_is_pruned_mid_training(
    tmp_path: Path, demo_data: Path, ray_on_three_cpus: None
) -> None:
    """An XL-shaped search trial (two Train workers, CPU, gloo) in a real Tuner with the
    sweep's searcher and pruning scheduler. Its study already holds two complete trials that
    scored 0.99 after epoch 1: the random tiny model scores far below their median there, so
    the pruner stops it after its first of two epochs, while its workers run. The study is
    told PRUNED, its run KILLED and tagged pruned, and the workers never finish."""
    import optuna
    from ray import tune

    # The demo's 2,000 MNLI rows: an epoch several times what Tune takes to stop a trial after
    # its report even on a busy machine (the workers train on while Tune decides).
    data = demo_data
    stored = _stored_tiny_encoder(tmp_path, data, "pruned")
    spec = build_spec(scales="tiny", intermediate="mnli", targets_="xnli", trials=1, seeds=1, data=str(data))
    context = _OnTwoWorkers(
        name="pruned",
        experiment_id=stored.experiment_id,
        sweep_run_id=stored.holder.run_id,
        tracking_uri=stored.tracking_uri,
        study_storage=f"sqlite:///{tmp_path / 'optuna.db'}",
        encoders={"tiny": (f"runs:/{stored.holder.run_id}/pretrained/tiny", "local")},
        storage_path=str(tmp_path / "tune"),
    )
    searcher = SweepSearcher(make_plan(spec), context)
    outscore_every_study(searcher, SCALES["tiny"].learning_rate_range)
    tuner = tune.Tuner(
        tune.with_resources(run_trial, _resources),
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=StudyPruning(searcher), num_samples=1),
        run_config=tune.RunConfig(storage_path=str(tmp_path / "tune"), verbose=0),
    )
    result = tuner.fit()[0]

    # Tune's last result from the trial is the workers' epoch-1 report, marked unfinished.
    assert result.metrics[EPOCH_SCORE] < 0.99 and result.metrics["epoch"] == 1
    run = stored.client.get_run(result.metrics["run_id"])
    assert run.data.params["workers"] == "2" and run.info.status == "KILLED" and run.data.tags["pruned"] == "true"
    (pruned,) = [
        trial
        for state in searcher.dag.studies.values()
        for trial in optuna.load_study(study_name=state.name, storage=context.study_storage).trials
        if trial.user_attrs.get(MLFLOW_RUN_ID) == run.info.run_id
    ]
    assert pruned.state == optuna.trial.TrialState.PRUNED
    assert pruned.intermediate_values == {1: result.metrics[EPOCH_SCORE]}
    # Stopped mid-training: rank 0 logged epoch 1's score once, and no final evaluation came.
    objective = "dev/accuracy/en"
    epochs = stored.client.get_metric_history(run.info.run_id, f"epoch/{objective}")
    assert [point.step for point in epochs] == [1] and objective not in run.data.metrics

"""A multi-GPU scale's path on CPUs: a trial's stage on two Ray Train workers in one gloo
process group, started from inside a real Tune trial."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient
from transformers import AutoModel

import mlflow
from sweeper.launch import _resources
from sweeper.placement import Placement
from sweeper.plan import INTERMEDIATE
from sweeper.pretrained import build_tiny_model
from sweeper.tracking import TrackedRun
from sweeper.trial import run_trial
from sweeper.trial_spec import SweepShared, TrialSpec, trial_config
from tasks import get_task, load_split

pytestmark = pytest.mark.cluster


def test_a_trial_on_two_train_workers_trains_once_and_logs_once(tmp_path: Path, demo_data: Path) -> None:
    import ray
    from ray import tune

    task = get_task("mnli")
    rows = load_split(task.train, str(demo_data))
    tiny = build_tiny_model(list(rows[task.columns["text_a"]]) + list(rows[task.columns["text_b"]]), tmp_path / "tiny")
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri)
    experiment_id = client.create_experiment("sharded", artifact_location=(tmp_path / "artifacts").as_uri())
    holder = TrackedRun.start(client, experiment_id, "pretrained", {})
    holder.log_artifacts(tiny, "pretrained/tiny")
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
        placement=Placement(workers=2, backend="gloo", sharded=True),
        key="tiny/intermediate/mnli/0",
    )
    shared = SweepShared(holder.run_id, experiment_id, tracking_uri, str(demo_data), str(tmp_path / "tune"))
    config = trial_config(spec, shared)
    assert _resources(config) == {"CPU": 1}  # the trial is a driver; workers hold their own
    ray.init(address="local", num_cpus=3, include_dashboard=False, log_to_driver=False)
    try:
        tuner = tune.Tuner(
            tune.with_resources(run_trial, _resources),
            param_space=config,
            run_config=tune.RunConfig(storage_path=str(tmp_path / "tune"), verbose=0),
        )
        result = tuner.fit()[0]
    finally:
        ray.shutdown()
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

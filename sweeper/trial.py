"""The Tune trainable: one intermediate, target-search or target trial, tracked from inside.

The searcher hands each trial a ``TrialSpec``; the trial opens its own MLflow run,
fetches its starting encoder from shared storage, fine-tunes, evaluates, logs, and
reports its English dev score back to Tune (and so to the searcher and Optuna).
"""

from __future__ import annotations

import tempfile
import traceback
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from huggingface_hub import snapshot_download
from mlflow.tracking import MlflowClient
from ray import tune
from transformers import TrainerCallback

import mlflow
from sweeper.scales import SCALES, batch_layout
from sweeper.tracking import INTERMEDIATE, TARGET, TrackedRun, metric_key, with_averages
from sweeper.train import Evaluation, Hyperparameters, evaluate, fine_tune
from tasks import get_task

RUNS_PREFIX = "runs:/"


@dataclass(frozen=True)
class TrialSpec:
    phase: str
    scale: str
    task: str  # the task this trial trains on
    learning_rate: float
    seed: int
    # runs:/<run id>/<path> (an artifact in the tracking store), or a hub id.
    encoder: str
    encoder_revision: str
    languages: tuple[str, ...]
    splits: tuple[str, ...]
    data: str
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    run_name: str
    tags: Mapping[str, str]
    params: Mapping[str, str]

    def to_config(self) -> dict:
        return {"trial": asdict(self)}

    @classmethod
    def from_config(cls, config: Mapping) -> TrialSpec:
        fields = dict(config["trial"])
        fields["languages"] = tuple(fields["languages"])
        fields["splits"] = tuple(fields["splits"])
        return cls(**fields)


class LossLogger(TrainerCallback):
    """Send the Trainer's training loss and learning rate to the trial's run."""

    def __init__(self, run: TrackedRun) -> None:
        self.run = run

    def on_log(self, args, state, control, logs=None, **kwargs):
        wanted = {f"train/{k}": v for k, v in (logs or {}).items() if k in ("loss", "learning_rate")}
        if wanted:
            self.run.log_metrics(wanted, step=state.global_step)


def fetch_encoder(encoder: str, revision: str, tracking_uri: str, work_dir: Path) -> str:
    """A local folder that ``from_pretrained`` loads: downloaded from the tracking store
    (the tiny model, an intermediate checkpoint) or from the hub."""
    if encoder.startswith(RUNS_PREFIX):
        return mlflow.artifacts.download_artifacts(
            artifact_uri=encoder, dst_path=str(work_dir), tracking_uri=tracking_uri
        )
    return snapshot_download(encoder, revision=revision)


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("xsweep", "torch", "transformers", "datasets", "ray", "mlflow", "optuna"):
        try:
            versions[f"version/{package}"] = version(package)
        except PackageNotFoundError:
            versions[f"version/{package}"] = "not installed"
    return versions


def write_predictions(evaluation: Evaluation, task: str, out_dir: Path) -> Path:
    """One predicted label per line, a file per split and language."""
    for (split, lang), labels in evaluation.predictions.items():
        path = out_dir / task / f"{split}-{lang}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{label}\n" for label in labels), encoding="utf-8")
    return out_dir


def run_trial(config: dict) -> None:
    spec = TrialSpec.from_config(config)
    task = get_task(spec.task)
    recipe = task.recipe
    scale = SCALES[spec.scale]
    per_device, accumulation = batch_layout(recipe.batch_size, scale.per_device_batch, scale.gpus)
    hparams = Hyperparameters(
        learning_rate=spec.learning_rate,
        seed=spec.seed,
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        max_length=recipe.max_length,
        warmup_ratio=recipe.warmup_ratio,
        per_device_batch=per_device,
        gradient_accumulation=accumulation,
        bf16=scale.precision == "bf16",
        gradient_checkpointing=scale.gradient_checkpointing,
    )
    client = MlflowClient(spec.tracking_uri)
    run = TrackedRun.start(client, spec.experiment_id, spec.run_name, spec.tags, spec.parent_run_id)
    try:
        run.log_params({**spec.params, **asdict(hparams), **package_versions()})
        with tempfile.TemporaryDirectory(prefix="xsweep-trial-") as tmp:
            work = Path(tmp)
            encoder = fetch_encoder(spec.encoder, spec.encoder_revision, spec.tracking_uri, work / "encoder")
            tuned = fine_tune(encoder, task, spec.data, hparams, work / "trainer", [LossLogger(run)])
            evaluation = evaluate(tuned, task, spec.data, spec.languages, spec.splits, hparams.max_length)
            metrics = with_averages(evaluation.metrics)
            run.log_metrics(metrics)
            if spec.phase == INTERMEDIATE:
                run.log_artifacts(tuned.save_encoder(work / "checkpoint"), "checkpoint")
            if spec.phase == TARGET:
                run.log_artifacts(write_predictions(evaluation, task.name, work / "predictions"), "predictions")
        run.finish("FINISHED")
    except BaseException as error:
        run.set_tags({"error": "".join(traceback.format_exception_only(error)).strip()[:4000]})
        run.finish("FAILED")
        raise
    objective = metrics[metric_key("dev", task.metric, "en")]
    tune.report({"objective": objective, "run_id": run.run_id})

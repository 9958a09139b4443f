"""The Tune trainable: one intermediate, target-search or target trial, tracked from inside.

The searcher hands each trial a ``TrialSpec``; the trial opens its own MLflow run and runs
its stage where its placement says (in the trial, or on Ray Train workers): fetch the
starting encoder from shared storage, fine-tune, evaluate, log from rank 0. It ends the run
and reports the English dev score back to Tune (and so to the searcher and Optuna).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path

import mlflow
import ray.train
import torch
from huggingface_hub import snapshot_download
from mlflow.tracking import MlflowClient
from ray import tune
from transformers import TrainerCallback

from sweeper.plan.plan import INTERMEDIATE, TARGET
from sweeper.plan.scales import SCALES, batch_layout
from sweeper.record import provenance
from sweeper.record.fence import RunFence
from sweeper.record.inputs import datasets_read
from sweeper.record.system_metrics import SystemSampler
from sweeper.record.tags import RunTags, tag_filter
from sweeper.record.tracking import RunTaken, TrackedRun, log_datasets, metric_key, retrying, with_averages
from sweeper.train.finetune import Evaluation, FineTuned, Hyperparameters, evaluate, fine_tune
from sweeper.train.resume import ResumeStore
from sweeper.trial.distributed import StageResult, run_placed
from sweeper.trial.faults import FAILED, not_the_trials_fault, one_line_cause, places_written
from sweeper.trial.trial_spec import EPOCH_SCORE, RUNS_PREFIX, SweepShared, TrialSpec
from tasks import Alternatives, Task, family_of, get_task, resolve
from tasks.scoring.submission import write_predictions as write_submission_file

log = logging.getLogger(__name__)


class LossLogger(TrainerCallback):
    """Send the Trainer's training loss and learning rate to the trial's run
    (``train/...``; a second training stage's as ``train/stage1/...``)."""

    def __init__(self, run: TrackedRun) -> None:
        self.run = run
        self.prefix = "train"

    def begin_stage(self, stage: int) -> None:
        self.prefix = "train" if stage == 0 else f"train/stage{stage}"

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero:
            return  # one point per step, however many workers train
        wanted = {f"{self.prefix}/{k}": v for k, v in (logs or {}).items() if k in ("loss", "learning_rate")}
        if wanted:
            self.run.log_metrics(wanted, step=state.global_step)


class FenceCheck(TrainerCallback):
    """Stop training within seconds once the run is no longer this attempt's: a newer attempt
    took it over (this one was given up for lost), or the launch was stopped."""

    def __init__(self, fence: RunFence) -> None:
        self.fence = fence

    def on_step_end(self, args, state, control, **kwargs):
        self.fence.check()


def fetch_encoder(encoder: str, revision: str, tracking_uri: str, work_dir: Path) -> str:
    """A local folder that ``from_pretrained`` loads: downloaded from the tracking store
    (the tiny model, an intermediate checkpoint) or from the hub."""
    if encoder.startswith(RUNS_PREFIX):
        return mlflow.artifacts.download_artifacts(
            artifact_uri=encoder, dst_path=str(work_dir), tracking_uri=tracking_uri
        )
    return snapshot_download(encoder, revision=revision)


def write_predictions(evaluation: Evaluation, task: str, out_dir: Path) -> Path:
    """Every (split, language)'s predictions in the XTREME submission layout
    ``<task>/<split>-<lang>.<ext>`` (XQuAD, TyDiQA-GoldP, Tatoeba and LAReQA's dev data, the
    leaderboard's test set, as ``test-<lang>``), which ``xsweep score`` reads."""
    for (split, lang), predicted in evaluation.predictions.items():
        write_submission_file(task, split, lang, predicted, out_dir, evaluation.ids.get((split, lang)))
    return out_dir


def _resolved(spec: TrialSpec, sweep: SweepShared) -> Task:
    """The effective task the trial trains and scores (``tasks.resolve``): its local-only
    splits read from the sweep's --local-data, CCG's categories read from its data, a
    multi-task run's members with data, the sweep's alternatives."""
    return resolve(spec.task, sweep.data, Alternatives(sweep.translated_data, sweep.mlm_text), sweep.local_data)


def hyperparameters(spec: TrialSpec, sweep: SweepShared) -> Hyperparameters:
    recipe = get_task(spec.task).recipe
    scale = SCALES[spec.scale]
    devices = spec.placement.workers
    per_device, accumulation = batch_layout(recipe.batch_size, scale.per_device_batch, devices)
    return Hyperparameters(
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
        sharded=spec.placement.sharded,
        batch_order=sweep.batch_order,
    )


def train_stage(config: dict) -> StageResult:
    """One stage on one process (of one or several): fine-tune, evaluate, and, from rank 0,
    log metrics, the checkpoint or the predictions to the trial's run."""
    spec, sweep = TrialSpec.from_config(config), SweepShared.from_config(config)
    task = _resolved(spec, sweep)
    _hold_to_share(spec)
    # The driver opened (or reopened) the run; what an earlier attempt logged is not re-sent.
    client = MlflowClient(sweep.tracking_uri)
    run = TrackedRun.reopen(client, config["run_id"], mark_running=False)
    run.fence = RunFence(client, run.run_id, config["attempt"])
    with tempfile.TemporaryDirectory(prefix="xsweep-trial-") as tmp:
        work = Path(tmp)
        encoder = fetch_encoder(spec.encoder, spec.encoder_revision, sweep.tracking_uri, work / "encoder")
        if _rank_zero():
            # Before training: a trial its study prunes, or one that fails, keeps its lineage too.
            _log_lineage(run, task, encoder, spec, sweep.data)
        hparams = hyperparameters(spec, sweep)
        resume = ResumeStore.for_run(sweep.storage_path, run.run_id, sweep.checkpoint_every_s)
        on_epoch = _epoch_reporter(run, spec, sweep, task, hparams.max_length) if prunable(spec) else None
        monitor = _monitor_system(run)
        try:
            tuned = fine_tune(
                encoder,
                task,
                sweep.data,
                hparams,
                work / "trainer",
                [LossLogger(run), FenceCheck(run.fence)],
                resume,
                on_epoch=on_epoch,
            )
            evaluation = evaluate(tuned, task, sweep.data, spec.languages, spec.splits, hparams.max_length)
        finally:
            if monitor is not None:
                monitor.finish()
        metrics = with_averages(evaluation.metrics)
        checkpoint = _save_checkpoint(tuned, spec, work / "checkpoint")
        if tuned.is_main_process:
            _log_provenance(run, tuned)
            _log_results(run, spec, task, metrics, checkpoint, evaluation, work / "predictions")
    run.flush()  # this process's points are all in before the driver ends the run
    return {"objective": objective_of(metrics, task.metric)}


def _hold_to_share(spec: TrialSpec) -> None:
    """Keep the trial's process to its share of the machine."""
    if not torch.cuda.is_available():
        # As many intra-op threads as CPUs the trial holds, whatever the machine's core count
        # (Ray leaves torch's default otherwise): sums split the same way in every launch.
        torch.set_num_threads(int(spec.placement.trial_resources()["CPU"]))
    elif spec.placement.packed:
        # Ray shares out the GPU, not its memory: a trial past its share fails alone, with an
        # out-of-memory error, instead of failing the trials packed beside it.
        torch.cuda.set_per_process_memory_fraction(spec.placement.gpus_per_worker)


def _epoch_reporter(
    run: TrackedRun, spec: TrialSpec, sweep: SweepShared, task: Task, max_length: int
) -> Callable[[FineTuned, int], None]:
    """The study's pruner judges the trial on its English dev score after each epoch."""
    objective = metric_key("dev", task.metric, "en")

    def report_epoch(tuned: FineTuned, epoch: int) -> None:
        # Every rank evaluates (the Trainer gathers the predictions) and reports.
        score = evaluate(tuned, task, sweep.data, ("en",), ("dev",), max_length).metrics[objective]
        if tuned.is_main_process:
            run.log_metrics({f"epoch/{objective}": score}, step=epoch)
            # In before Tune hears of it: a pruned trial is killed soon after, queue and all.
            run.flush()
        # Tune wants the searcher's metric in every result; EPOCH_SCORE marks it unfinished.
        result = {"objective": score, EPOCH_SCORE: score, "epoch": epoch, "run_id": run.run_id}
        if spec.placement.distributed:
            # To the Tune trial that started these workers (``run_placed``), from rank 0.
            ray.train.report(result)
        else:
            tune.report(result)

    return report_epoch


def _save_checkpoint(tuned: FineTuned, spec: TrialSpec, where: Path) -> Path | None:
    """An intermediate trial's encoder (what targets start from); a target's whole model only
    where the sweep keeps them."""
    if spec.phase == INTERMEDIATE:
        return tuned.save_encoder(where)
    if spec.keep_checkpoint:
        return tuned.save_model(where)
    return None


def _rank_zero() -> bool:
    return not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0


def _log_lineage(run: TrackedRun, task: Task, encoder: str, spec: TrialSpec, data: str) -> None:
    """What the trial starts from: its runtime and encoder, the data it reads (and the official
    files fetched data was built from), a multi-task run's members."""
    reads = datasets_read(task, data, spec.languages, spec.splits)
    fetched = provenance.fetched_tags(read.local_file for read in reads if read.local_file is not None)
    run.set_tags(RunTags(provenance={**provenance.runtime_tags(), **provenance.encoder_tags(encoder), **fetched}))
    log_datasets(run.client, run.run_id, reads)
    members = family_of(task.family).members(task)
    if members:
        run.set_tags(RunTags(members=tuple(member.name for member in members)))


def _log_provenance(run: TrackedRun, tuned: FineTuned) -> None:
    """How the trial trained: how many processes, and where a resumed training picked up."""
    run.log_params({"world_size": tuned.trainer.args.world_size, "fsdp": tuned.trainer.is_fsdp_enabled})
    if tuned.resumed_from is not None:
        stage, step = tuned.resumed_from
        run.set_tags(RunTags(resumed_from_step=step, resumed_from_stage=stage))


def _log_results(
    run: TrackedRun,
    spec: TrialSpec,
    task: Task,
    metrics: Mapping[str, float],
    checkpoint: Path | None,
    evaluation: Evaluation,
    predictions: Path,
) -> None:
    """The scores, the checkpoint kept, and a target run's predictions (written to ``predictions``)."""
    run.log_metrics(metrics)
    if checkpoint is not None:
        run.log_artifacts(checkpoint, "checkpoint")
    if spec.phase == TARGET:
        run.log_artifacts(write_predictions(evaluation, task.name, predictions), "predictions")


def prunable(spec: TrialSpec) -> bool:
    """Search trials report each epoch to their study's pruner (on one GPU or on Train
    workers alike); a cell runs its selected learning rate to the end."""
    return spec.phase != TARGET


def _monitor_system(run: TrackedRun) -> SystemSampler | None:
    """Rank 0 samples its node's CPU, memory and GPUs into the run (a multi-GPU trial's
    workers share one node, so one sampler sees them all)."""
    return SystemSampler(run).start() if _rank_zero() else None


def _version_params() -> dict[str, str]:
    return {f"version/{package}": value for package, value in provenance.package_versions().items()}


def objective_of(metrics: Mapping[str, float], metric: str) -> float | None:
    """What a trial reports to Tune: its English dev score (a study selects on it), else,
    for a cell whose target has no English (XCOPA, Tatoeba), its dev or test average."""
    for key in (metric_key("dev", metric, "en"), metric_key("dev", metric, "avg"), metric_key("test", metric, "avg")):
        if key in metrics:
            return metrics[key]
    return None


def _open_run(client: MlflowClient, spec: TrialSpec, sweep: SweepShared) -> tuple[TrackedRun, float | None]:
    """The trial's run: new, or the one an earlier launch of the sweep opened for this very
    trial. A finished one comes with its recorded objective, so it is not trained again."""
    found = retrying(
        lambda: client.search_runs(
            [sweep.experiment_id], filter_string=tag_filter(sweep_run_id=sweep.sweep_run_id, trial_key=spec.key)
        )
    )
    if found:
        previous = found[0]
        # A relaunch only: what the trial selects on ("score" for a multi-task run).
        recorded = objective_of(previous.data.metrics, _resolved(spec, sweep).metric)
        if previous.info.status == "FINISHED" and recorded is not None:
            return TrackedRun(client, previous.info.run_id), recorded
        return TrackedRun.reopen(client, previous.info.run_id), None
    tags = {**spec.tags, **RunTags(trial_key=spec.key).as_mlflow()}
    return TrackedRun.start(client, sweep.experiment_id, spec.run_name, tags), None


def run_trial(config: dict) -> None:
    """The Tune trainable: the trial's run, its stage where the placement says, the report."""
    spec, sweep = TrialSpec.from_config(config), SweepShared.from_config(config)
    client = MlflowClient(sweep.tracking_uri)
    run, recorded = _open_run(client, spec, sweep)
    if recorded is not None:
        tune.report({"objective": recorded, "run_id": run.run_id})
        return
    run.fence = RunFence.claim(client, run.run_id)
    try:
        placement = {"workers": spec.placement.workers, "sharded": spec.placement.sharded}
        run.log_params({**spec.params, **asdict(hyperparameters(spec, sweep)), **placement, **_version_params()})
        stage_config = {**config, "run_id": run.run_id, "attempt": run.fence.attempt}
        result = run_placed(
            train_stage, stage_config, spec.placement, sweep.storage_path, f"train-{run.run_id}", prunable(spec)
        )
        run.finish("FINISHED")
    except RunTaken as taken:
        # Not this attempt's run any more: it writes nothing, and says why in its own log.
        log.warning("trial %s stops: %s", spec.key, taken)
        raise
    except (SystemExit, KeyboardInterrupt):
        # Tune stops a trial by ending it at its next report (the study pruned it), or the
        # launch was interrupted: a relaunch continues it.
        run.finish("KILLED")
        raise
    except Exception as error:
        if not_the_trials_fault(error):
            raise  # a Train worker or node died: Tune retries the trial, in this same run
        _fail_once(run, one_line_cause(error, places_written(sweep.tracking_uri, sweep.storage_path)))
        return
    # Finished: its resume checkpoints have served their purpose.
    ResumeStore.for_run(sweep.storage_path, run.run_id, sweep.checkpoint_every_s).clear()
    tune.report({"objective": float(result["objective"]), "run_id": run.run_id})


def _fail_once(run: TrackedRun, cause: str) -> None:
    """The trial's own error (a bug, bad data, a full disk): tagged on its run and reported
    to Tune as a result, not raised, so that Tune does not retry what would fail again."""
    try:
        run.set_tags(RunTags(error=cause))
        run.finish("FAILED")
    except Exception:  # noqa: BLE001 - a full store cannot take the tag; the driver reconciles the run
        log.warning("could not mark run %s FAILED (%s)", run.run_id, cause)
    tune.report({"objective": float("nan"), FAILED: cause, "run_id": run.run_id})

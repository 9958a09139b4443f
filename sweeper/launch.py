"""`xsweep launch`, start to end: spec → plan → sweep run → one Tuner → summary.

Nothing is written to MLflow until the spec and the plan have been validated, and every
run this launch opened ends FINISHED or FAILED, whatever happens.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlparse

import datasets
import optuna
import ray
import transformers
from mlflow.tracking import MlflowClient
from ray import tune
from ray.tune.experiment import Trial
from ray.tune.logger import JsonLoggerCallback

from sweeper.placement import DRIVER_RESOURCE, Placement
from sweeper.plan import Plan, make_plan
from sweeper.pretrained import build_tiny_model
from sweeper.progress import SweepProgress
from sweeper.provenance import PREFIX, encoder_tags, runtime_tags, source_commit
from sweeper.resume import DEFAULT_CHECKPOINT_EVERY_S
from sweeper.scales import SCALES, TINY_MODEL
from sweeper.search import PruningStopper, SweepContext, SweepSearcher
from sweeper.spec import SpecError, SweepSpec
from sweeper.tracking import (
    EXPERIMENT_KIND_TAG,
    SWEEP,
    TrackedRun,
    artifact_location,
    local_store_dir,
    retrying,
)
from sweeper.trial import RUNS_PREFIX, run_trial
from tasks import load_split, texts_of

SPEC_TAG = "spec_fingerprint"


@dataclass(frozen=True)
class LaunchResult:
    name: str  # the sweep's, or the fork's
    experiment_id: str
    sweep_run_id: str
    finished: int
    failed: int
    blocked: int
    already_done: bool = False

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.blocked == 0


def default_study_storage(tracking_uri: str) -> str:
    """Optuna's own SQLite database beside MLflow's (never the same database)."""
    store = local_store_dir(tracking_uri) or Path.cwd()
    return f"sqlite:///{store / 'optuna.db'}"


def _existing_sweeps(client: MlflowClient, experiment_id: str) -> list:
    return retrying(
        lambda: client.search_runs(
            [experiment_id], filter_string=f"tags.phase = '{SWEEP}'", order_by=["attribute.start_time DESC"]
        )
    )


@dataclass(frozen=True)
class PreviousLaunch:
    """What an earlier launch of the same name left: a finished sweep run (nothing to do), or
    an unfinished one (killed, interrupted or with failures) to resume."""

    finished_run_id: str | None = None
    unfinished_run_id: str | None = None


def _previous_launch(client: MlflowClient, experiment_id: str, spec: SweepSpec) -> PreviousLaunch:
    """The latest launch of this very spec; a different spec under the same name is refused."""
    sweeps = _existing_sweeps(client, experiment_id)
    if any(previous.data.tags.get(SPEC_TAG) != spec.fingerprint() for previous in sweeps):
        raise SpecError(
            f"--name: sweep {spec.name!r} exists with a different spec; "
            f"valid: another --name, the same spec to resume it, or --fork to launch this one as {fork_name(spec)!r}"
        )
    if not sweeps:
        return PreviousLaunch()
    latest = sweeps[0]
    # Launches from before resuming existed each had a sweep run: only the latest continues.
    for older in sweeps[1:]:
        if older.info.status == "RUNNING":
            _fail_running_runs(client, experiment_id, older.info.run_id)
            retrying(lambda run_id=older.info.run_id: client.set_terminated(run_id, "FAILED"))
    if latest.info.status == "FINISHED":
        return PreviousLaunch(finished_run_id=latest.info.run_id)
    return PreviousLaunch(unfinished_run_id=latest.info.run_id)


def fork_name(spec: SweepSpec) -> str:
    """Where ``--fork`` puts a changed spec: the name plus the spec's own fingerprint."""
    return f"{spec.name}-{spec.fingerprint()[:8]}"


def _fail_running_runs(client: MlflowClient, experiment_id: str, sweep_run_id: str) -> int:
    """Mark runs a dead process left RUNNING as FAILED; return how many."""
    stale = retrying(
        lambda: client.search_runs(
            [experiment_id],
            filter_string=f"tags.sweep_run_id = '{sweep_run_id}' and attributes.status = 'RUNNING'",
        )
    )
    for run in stale:
        if run.info.run_id == sweep_run_id:
            continue
        retrying(lambda run=run: client.set_terminated(run.info.run_id, "FAILED"))
    return len(stale)


def _build_tiny_model(plan: Plan, out_dir: Path) -> Path:
    """The tiny model, with a tokenizer trained on all of the sweep's text. Reading every
    split here also finds unreadable data before anything is written to MLflow."""
    texts: list[str] = []
    for _, source in plan.sources():
        texts += texts_of(load_split(source, plan.spec.data))
    return build_tiny_model(texts, out_dir)


def _pretrained_encoders(plan: Plan, sweep_run: TrackedRun, tiny_dir: Path | None) -> dict[str, tuple[str, str]]:
    """Per scale, the encoder trials start from: a hub model, or the tiny model, stored with
    the sweep run so that every node can fetch it."""
    encoders = {}
    for scale_name in plan.spec.scales:
        scale = SCALES[scale_name]
        if scale.model == TINY_MODEL:
            if tiny_dir is not None:  # else a resumed sweep's, stored at its first launch
                sweep_run.log_artifacts(tiny_dir, "pretrained/tiny")
            encoders[scale_name] = (f"{RUNS_PREFIX}{sweep_run.run_id}/pretrained/tiny", scale.revision)
        else:
            encoders[scale_name] = (scale.model, scale.revision)
    return encoders


def _sweep_provenance(commit: str, tiny_dir: Path | None) -> dict[str, str]:
    """The driver's code, libraries and device, and the tiny model's hashes where it built one."""
    tags = {**runtime_tags(), f"{PREFIX}xsweep_commit": commit}
    if tiny_dir is not None:
        tags.update({key.replace(PREFIX, f"{PREFIX}tiny_"): value for key, value in encoder_tags(tiny_dir).items()})
    return tags


def _resources(config: dict) -> dict[str, float]:
    """Per trial, by its scale: one CPU and its GPU, or one CPU driving Train workers."""
    return Placement(**config["trial"]["placement"]).trial_resources()


def _check_shared_state(tracking_uri: str, storage_path: str) -> None:
    """On several nodes, every trial must write to the same tracking store and Tune storage:
    a SQLite file or a local folder would be a different copy on each node."""
    nodes = [node for node in ray.nodes() if node["Alive"]]
    if len(nodes) < 2:
        return
    host = urlparse(tracking_uri).hostname or ""
    on_one_node = "a file" if local_store_dir(tracking_uri) or tracking_uri.startswith("file:") else None
    if host == "localhost" or host.startswith("127."):
        on_one_node = "a server at each node's own loopback address"
    if on_one_node:
        raise SpecError(
            f"--tracking-uri: {tracking_uri} is {on_one_node} on a {len(nodes)}-node cluster; "
            "valid: a tracking server every node reaches (mlflow/serve.sh, then http://HEAD-IP:5000)"
        )
    if "://" not in storage_path:
        raise SpecError(
            f"--storage-path: {storage_path} is a folder on one node of a {len(nodes)}-node cluster; "
            "valid: object storage every node reaches (s3://..., gs://...), or file:///PATH on a mount they share"
        )


def _check_gpus(spec: SweepSpec, local: bool) -> None:
    """On a local Ray a trial asking for more GPUs than exist would wait forever."""
    available = int(ray.cluster_resources().get("GPU", 0))
    short = [s for s in spec.scales if SCALES[s].gpus > available]
    if local and short:
        raise SpecError(
            f"--scales: {', '.join(short)} need GPUs and this machine has {available}; "
            "valid here: tiny (or pass --address of a GPU cluster)"
        )


def _trial_name(trial: Trial) -> str:
    """The MLflow run name, made safe for a folder: tiny_mnli→xnli_s0."""
    return f"{trial.config['trial']['run_name'].replace('/', '_')}_{trial.trial_id}"


def _quiet_libraries() -> None:
    """xsweep tracks in MLflow and draws its own progress bar; Tune keeps only its JSON
    results (for its own analysis), and the libraries' per-file progress bars stay off."""
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()


def launch(
    spec: SweepSpec,
    tracking_uri: str,
    address: str | None = None,
    study_storage: str | None = None,
    storage_path: str = ".xsweep/tune",
    trainable: Callable[[dict], None] = run_trial,
    collective_backend: str = "nccl",
    fork: bool = False,
    checkpoint_every_s: float = DEFAULT_CHECKPOINT_EVERY_S,
    keep_target_checkpoints: bool = False,
) -> LaunchResult:
    """Validate and prepare everything that can fail on bad input, then run the sweep.

    A name launched before with the same spec resumes: a finished sweep returns at once, an
    unfinished one continues in its own runs. A different spec under that name is refused,
    or, with ``fork``, launched under ``fork_name(spec)``.

    ``trainable`` is the function Tune runs per trial; the scheduling benchmark replaces it
    with a timed sleep to measure placement alone. ``collective_backend`` is the process
    group of multi-GPU trials' workers: gloo where the GPUs are logical (a CPU cluster).
    ``checkpoint_every_s``: how often a training trial saves a checkpoint to resume from;
    ``keep_target_checkpoints``: target runs store their fine-tuned model beside their
    predictions."""
    _quiet_libraries()
    plan = make_plan(spec)
    # The cluster's checks come before the tracking store is touched at all.
    if not ray.is_initialized():
        # No address: a Ray of its own, never a cluster some other process left running here.
        ray.init(address=address or "local", include_dashboard=False, log_to_driver=False)
    _check_gpus(spec, local=address is None)
    _check_shared_state(tracking_uri, storage_path)
    # Object storage (s3://...) as given; a local folder made absolute, for every process.
    storage_path = storage_path if "://" in storage_path else str(Path(storage_path).resolve())

    client = MlflowClient(tracking_uri)
    experiment = retrying(lambda: client.get_experiment_by_name(spec.name))
    previous = PreviousLaunch()
    if experiment is not None:
        try:
            previous = _previous_launch(client, experiment.experiment_id, spec)
        except SpecError:
            if not fork:
                raise
            forked = replace(spec, name=fork_name(spec))
            return launch(
                forked, tracking_uri, address, study_storage, storage_path, trainable, collective_backend,
                checkpoint_every_s=checkpoint_every_s, keep_target_checkpoints=keep_target_checkpoints,
            )  # fmt: skip
        if previous.finished_run_id is not None:
            return LaunchResult(
                spec.name, experiment.experiment_id, previous.finished_run_id, 0, 0, 0, already_done=True
            )
    with tempfile.TemporaryDirectory(prefix="xsweep-tiny-") as tmp:
        # A resumed sweep keeps the tiny model its finished trials started from.
        needs_tiny = any(SCALES[s].model == TINY_MODEL for s in spec.scales) and not previous.unfinished_run_id
        tiny_dir = _build_tiny_model(plan, Path(tmp)) if needs_tiny else None
        if experiment is not None:
            experiment_id = experiment.experiment_id
        else:
            experiment_id = retrying(
                lambda: client.create_experiment(
                    spec.name,
                    artifact_location=artifact_location(tracking_uri, spec.name),
                    tags={EXPERIMENT_KIND_TAG: "custom_model_development"},
                )
            )
        return _run_sweep(
            plan,
            client,
            experiment_id,
            tracking_uri,
            tiny_dir,
            study_storage,
            storage_path,
            trainable,
            collective_backend,
            checkpoint_every_s,
            keep_target_checkpoints,
            previous.unfinished_run_id,
        )


def _run_sweep(
    plan: Plan,
    client: MlflowClient,
    experiment_id: str,
    tracking_uri: str,
    tiny_dir: Path | None,
    study_storage: str | None,
    storage_path: str,
    trainable: Callable[[dict], None],
    collective_backend: str,
    checkpoint_every_s: float,
    keep_target_checkpoints: bool,
    resume_run_id: str | None,
) -> LaunchResult:
    """The sweep run (new, or the unfinished one resumed), one Tuner over every trial left,
    and the sweep run's end, whatever happens."""
    spec = plan.spec
    if resume_run_id is not None:
        # What the dead driver left RUNNING is FAILED until its trial is handed out again.
        _fail_running_runs(client, experiment_id, resume_run_id)
        sweep_run = TrackedRun.reopen(client, resume_run_id)
    else:
        sweep_run = TrackedRun.start(
            client, experiment_id, spec.name, {"phase": SWEEP, SWEEP: spec.name, SPEC_TAG: spec.fingerprint()}
        )
    status = "FAILED"
    try:
        launches = int(retrying(lambda: client.get_run(sweep_run.run_id)).data.tags.get("launches", "0")) + 1
        sweep_run.set_tags({"sweep_run_id": sweep_run.run_id, "launches": launches})
        sweep_run.log_params(
            {
                "scales": ",".join(spec.scales),
                "intermediates": ",".join(spec.intermediates),
                "targets": ",".join(spec.targets),
                "trials": spec.trials,
                "seeds": spec.seeds,
                "data": spec.data,
                "translated_data": spec.translated_data or "none",
                "mlm_text": spec.mlm_text or "none",
                "sampler": spec.sampler,
                # What `xsweep status` counts progress against.
                "planned/search_trials": len(plan.studies) * spec.trials,
                "planned/cells": len(plan.cells),
                **{f"languages/{t}": " ".join(langs) for t, langs in plan.languages.items()},
            }
        )
        context = SweepContext(
            name=spec.name,
            experiment_id=experiment_id,
            sweep_run_id=sweep_run.run_id,
            tracking_uri=tracking_uri,
            study_storage=study_storage or default_study_storage(tracking_uri),
            encoders=_pretrained_encoders(plan, sweep_run, tiny_dir),
            storage_path=storage_path,
            collective_backend=collective_backend,
            driver_resource=DRIVER_RESOURCE if ray.cluster_resources().get(DRIVER_RESOURCE) else "",
            checkpoint_every_s=checkpoint_every_s,
            keep_target_checkpoints=keep_target_checkpoints,
            source_commit=source_commit(),
        )
        sweep_run.set_tags({**_sweep_provenance(context.source_commit, tiny_dir), f"{PREFIX}sampler": spec.sampler})
        searcher = SweepSearcher(plan, context)
        if resume_run_id is not None:
            searcher.resume()
        progress = SweepProgress(plan.total_trials)
        tuner = tune.Tuner(
            tune.with_resources(trainable, _resources),
            tune_config=tune.TuneConfig(
                search_alg=searcher,
                num_samples=plan.total_trials,
                # Every trial holds at least one CPU; Ray's placement caps concurrency further.
                max_concurrent_trials=max(1, int(ray.cluster_resources().get("CPU", 1))),
                # A cached actor keeps its GPU while the searcher has no trial of its kind, which
                # can starve a multi-GPU trial of the node it needs: reuse CPU-only actors alone.
                reuse_actors=all(SCALES[scale].gpus == 0 for scale in spec.scales),
                trial_name_creator=_trial_name,
                trial_dirname_creator=_trial_name,
            ),
            run_config=tune.RunConfig(
                name=f"{spec.name}-{sweep_run.run_id[:8]}-{launches}",
                storage_path=storage_path,
                callbacks=[progress, JsonLoggerCallback()],
                stop=PruningStopper(searcher),
                verbose=0,
            ),
        )
        with progress:
            tuner.fit()
        result = LaunchResult(
            spec.name,
            experiment_id,
            sweep_run.run_id,
            finished=len(searcher.finished_cells),
            failed=len(searcher.failed_cells),
            blocked=len(searcher.blocked_cells) + len(searcher.waiting_cells),
        )
        sweep_run.log_metrics(
            {"cells/finished": result.finished, "cells/failed": result.failed, "cells/blocked": result.blocked}
        )
        status = "FINISHED" if result.ok else "FAILED"
        return result
    finally:
        _fail_running_runs(client, experiment_id, sweep_run.run_id)
        sweep_run.finish(status)

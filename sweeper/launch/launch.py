"""`xsweep launch`, start to end: spec → plan → sweep run → one Tuner → summary.

Nothing is written to MLflow until the spec and the plan have been validated, and every
run this launch opened ends FINISHED or FAILED, whatever happens.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import datasets
import optuna
import ray
import transformers
from mlflow.tracking import MlflowClient
from ray import tune
from ray.tune.experiment import Trial
from ray.tune.logger import JsonLoggerCallback

from sweeper.launch.errors import SweepAborted
from sweeper.launch.hub_data import check_hub_data
from sweeper.launch.interruption import Interruption
from sweeper.launch.launch_lock import schema_lock, sweep_lock
from sweeper.launch.preflight import (
    check_ray_address,
    check_storage_path,
    check_storage_space,
    check_study_storage,
    check_tracking_uri,
    node_local_state_problem,
    reach_artifact_store,
    reach_storage_path,
    reach_study_storage,
    reach_tracking_uri,
    read_sweep_data,
)
from sweeper.launch.progress import SweepProgress
from sweeper.launch.search import FaultStop, StudyPruning, SweepSearcher
from sweeper.launch.trial_specs import SweepContext
from sweeper.plan.dag import study_label
from sweeper.plan.plan import SWEEP, TARGET, Plan, make_plan
from sweeper.plan.scales import LOCAL_MODELS, SCALES
from sweeper.plan.spec import SpecError, SweepSpec
from sweeper.record.locations import DEFAULT_CONNECT_TIMEOUT_S, artifact_location, local_store_dir
from sweeper.record.provenance import PREFIX, encoder_tags, runtime_tags, source_commit
from sweeper.record.tags import RunTags, tag_filter
from sweeper.record.tracking import EXPERIMENT_KIND_TAG, TrackedRun, retrying, runs_of_sweep, set_run_tags
from sweeper.resources.capacity import ClusterSize, concurrency, node_gpus
from sweeper.resources.cluster import cluster_size, load_cluster
from sweeper.resources.packing import gpu_fractions
from sweeper.resources.placement import DRIVER_RESOURCE, Placement
from sweeper.resources.storage import storage_plan
from sweeper.train.pretrained import build_tiny_model, build_tiny_tokenizer
from sweeper.train.resume import DEFAULT_CHECKPOINT_EVERY_S, DEFAULT_RETRIES
from sweeper.trial.faults import TrialFaults, disk_full, one_line_cause, places_written
from sweeper.trial.trainable import run_trial
from sweeper.trial.trial_spec import RUNS_PREFIX
from tasks import HUB

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LaunchResult:
    name: str  # the sweep's, or the fork's
    experiment_id: str
    sweep_run_id: str
    finished: int
    failed: int
    blocked: int
    already_done: bool = False
    # Cells whose runs a stop signal cut off (KILLED), and every planned cell.
    interrupted: int = 0
    planned: int = 0
    # The shell's exit code of the signal that stopped the launch (130, 143), if one did.
    stopped_by_signal: int | None = None

    @property
    def ok(self) -> bool:
        """Finished means every planned cell finished; anything less is for a relaunch."""
        return self.already_done or self.finished == self.planned

    @property
    def sweep_status(self) -> str:
        """The sweep run's end: KILLED where cells were cut off, FAILED where some failed or
        could not start."""
        if self.ok:
            return "FINISHED"
        return "KILLED" if self.stopped_by_signal else "FAILED"

    def summary(self) -> str:
        if self.already_done:
            return f"sweep {self.name} already finished with this spec: nothing to run"
        counts = f"{self.finished} of {self.planned} cells finished, {self.failed} failed, {self.blocked} blocked"
        return f"sweep {self.name}: {counts}, {self.interrupted} interrupted"


def default_study_storage(tracking_uri: str) -> str:
    """Optuna's own SQLite database beside MLflow's (never the same database)."""
    store = local_store_dir(tracking_uri) or Path.cwd()
    return f"sqlite:///{store / 'optuna.db'}"


def _existing_sweeps(client: MlflowClient, experiment_id: str) -> list:
    return retrying(
        lambda: client.search_runs(
            [experiment_id], filter_string=tag_filter(phase=SWEEP), order_by=["attribute.start_time DESC"]
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
    if any(RunTags.parse(previous.data.tags).spec_fingerprint != spec.fingerprint() for previous in sweeps):
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
    return len(_end_running_runs(client, experiment_id, sweep_run_id, "FAILED"))


def _end_running_runs(
    client: MlflowClient, experiment_id: str, sweep_run_id: str, status: str, cause: str | None = None
) -> list:
    """End the sweep's trial runs left RUNNING with ``status`` (and ``cause`` as their error
    tag); return them."""
    stale = retrying(
        lambda: client.search_runs(
            [experiment_id],
            filter_string=f"{tag_filter(sweep_run_id=sweep_run_id)} and attributes.status = 'RUNNING'",
        )
    )
    ended = [run for run in stale if run.info.run_id != sweep_run_id]
    for run in ended:
        if cause is not None:
            retrying(lambda run=run: set_run_tags(client, run.info.run_id, RunTags(error=cause)))
        retrying(lambda run=run: client.set_terminated(run.info.run_id, status))
    return ended


def unstored_local_models(client: MlflowClient, scales: Sequence[str], resumed_run_id: str | None) -> set[str]:
    """The local scales (tiny, mini) whose model the sweep run does not hold: all of them for a
    new sweep; on a relaunch, those an earlier launch died before storing."""
    local = {name for name in scales if SCALES[name].model in LOCAL_MODELS}
    if resumed_run_id is None or not local:
        return local
    stored = {Path(item.path).name for item in retrying(lambda: client.list_artifacts(resumed_run_id, "pretrained"))}
    return local - stored


def _build_local_models(spec: SweepSpec, texts: list[str], out_dir: Path, only: set[str]) -> dict[str, Path]:
    """Per local scale (tiny, mini) in ``only``, its model, all with one tokenizer trained on all
    of the sweep's text (read and checked by ``read_sweep_data`` before anything was written)."""
    local = [name for name in spec.scales if name in only]
    if not local:
        return {}
    tokenizer = build_tiny_tokenizer(texts)
    return {
        name: build_tiny_model(texts, out_dir / name, model=SCALES[name].model, tokenizer=tokenizer) for name in local
    }


def _pretrained_encoders(plan: Plan, sweep_run_id: str) -> dict[str, tuple[str, str]]:
    """Per scale, the encoder trials start from: a hub model, or a model built here (tiny,
    mini), stored with the sweep run (``_store_local_models``) so that every node can fetch it."""
    encoders = {}
    for scale_name in plan.spec.scales:
        scale = SCALES[scale_name]
        if scale.model in LOCAL_MODELS:
            encoders[scale_name] = (f"{RUNS_PREFIX}{sweep_run_id}/pretrained/{scale_name}", scale.revision)
        else:
            encoders[scale_name] = (scale.model, scale.revision)
    return encoders


def _store_local_models(sweep_run: TrackedRun, local_dirs: dict[str, Path]) -> None:
    """The models built by this launch, with the sweep run, before any trial needs them."""
    for scale_name, folder in local_dirs.items():
        sweep_run.log_artifacts(folder, f"pretrained/{scale_name}")


def _sweep_provenance(commit: str, local_dirs: dict[str, Path]) -> dict[str, str]:
    """The driver's code, libraries and device, and the hashes of the models it built."""
    tags = {**runtime_tags(), f"{PREFIX}xsweep_commit": commit}
    for name, folder in local_dirs.items():
        tags.update({key.replace(PREFIX, f"{PREFIX}{name}_"): value for key, value in encoder_tags(folder).items()})
    return tags


def _resources(config: dict) -> dict[str, float]:
    """Per trial, by its scale: one CPU and its GPU, or one CPU driving Train workers."""
    return Placement(**config["trial"]["placement"]).trial_resources()


def _check_shared_state(tracking_uri: str, storage_path: str) -> None:
    addresses = [node["NodeManagerAddress"] for node in ray.nodes() if node["Alive"]]
    problem = node_local_state_problem(tracking_uri, storage_path, addresses)
    if problem:
        raise SpecError(problem)


def _check_gpus(spec: SweepSpec, local: bool) -> None:
    """On a local Ray a trial asking for more GPUs than exist would wait forever."""
    available = int(ray.cluster_resources().get("GPU", 0))
    short = [s for s in spec.scales if SCALES[s].gpus > available]
    if local and short:
        raise SpecError(
            f"--scales: {', '.join(short)} need GPUs and this machine has {available}; "
            "valid here: tiny, mini (or pass --address of a GPU cluster)"
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
    # Their errors reach the user as xsweep's own: a trial's `error` tag and the summary, or
    # the launch's one-line error. Logged again by Tune's controller and MLflow's store (with
    # tracebacks and raw SQL), they would bury that line; MLflow's start-up notes go too.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    for name in ("mlflow.store.db.utils", "ray.tune", "ray.train"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class LaunchOptions:
    """How and where a sweep runs (the spec says what it runs); the CLI builds one.

    ``trainable`` is the function Tune runs per trial; the scheduling benchmark replaces it
    with a timed sleep to measure placement alone. ``collective_backend`` is the process
    group of multi-GPU trials' workers: gloo where the GPUs are logical (a CPU cluster).
    ``fork``: a changed spec under an existing name launches as ``fork_name(spec)``.
    ``checkpoint_every_s``: how often a training trial saves a checkpoint to resume from;
    ``keep_target_checkpoints``: target runs store their fine-tuned model beside their
    predictions. ``connect_timeout_s`` bounds each reach for the tracking server, the study
    storage and the Ray address before anything starts; ``retries``: how often a trial whose
    process, worker or node died runs again."""

    tracking_uri: str
    address: str | None = None
    # None: Optuna's own SQLite database beside MLflow's (``default_study_storage``).
    study_storage: str | None = None
    storage_path: str = ".xsweep/tune"
    trainable: Callable[[dict], None] = run_trial
    collective_backend: str = "nccl"
    fork: bool = False
    checkpoint_every_s: float = DEFAULT_CHECKPOINT_EVERY_S
    keep_target_checkpoints: bool = False
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    # The cluster-launcher config the cluster at ``address`` autoscales by: the sweep keeps
    # as many trials in flight as its largest size holds (without it, as its nodes hold now).
    cluster: str | None = None
    # With --data hub: ask the hub for every source before anything starts (sweeper/launch/hub_data.py).
    data_check: bool = True
    # ``repo@revision`` → the commit the hub served at the check: tagged on the sweep run.
    data_commits: Mapping[str, str] = field(default_factory=dict)
    # GiB of one GPU: where given, base and large trials share GPUs as their measured memory
    # allows (``sweeper/resources/packing.py``); None: one trial per GPU.
    gpu_memory_gib: float | None = None


def launch(spec: SweepSpec, options: LaunchOptions) -> LaunchResult:
    """Validate and prepare everything that can fail on bad input, then run the sweep.

    A name launched before with the same spec resumes: a finished sweep returns at once, an
    unfinished one continues in its own runs. A different spec under that name is refused,
    or, with ``options.fork``, launched under ``fork_name(spec)``."""
    _quiet_libraries()
    plan = make_plan(spec)
    if spec.data == HUB and options.data_check:
        options = replace(options, data_commits=check_hub_data(plan))
    options = replace(options, study_storage=options.study_storage or default_study_storage(options.tracking_uri))
    texts = _preflight(plan, options)
    autoscaler = load_cluster(options.cluster) if options.cluster and options.address else None
    if not ray.is_initialized():
        _start_ray(options.address)
    # The cluster's checks come before the tracking store is touched at all.
    _check_gpus(spec, local=options.address is None)
    _check_shared_state(options.tracking_uri, options.storage_path)
    size = cluster_size(autoscaler, options.cluster, local=options.address is None)
    if options.address is not None:
        # On a cluster, where the stores are (one node's loopback, one node's file) is the
        # first thing wrong with them, and the message that says so comes first.
        _reach_stores(options)
    _warn_of_storage_space(plan, options, size)
    # Object storage (s3://...) as given; a local folder made absolute, for every process.
    if "://" not in options.storage_path:
        options = replace(options, storage_path=str(Path(options.storage_path).resolve()))
    with sweep_lock(options.study_storage, spec.name):
        return _launch_validated(plan, options, _Prepared(texts, size))


def _preflight(plan: Plan, options: LaunchOptions) -> list[str]:
    """Validate, then write: the endpoints, the folders and every split, before Ray starts.
    Returns the sweep's text where the tiny model's tokenizer needs it."""
    check_tracking_uri(options.tracking_uri)
    check_study_storage(options.study_storage)
    check_storage_path(options.storage_path)
    check_ray_address(options.address, options.connect_timeout_s)
    needs_text = any(SCALES[s].model in LOCAL_MODELS for s in plan.spec.scales)
    texts = read_sweep_data(plan.sources(), plan.spec.data, keep_text=needs_text)
    if options.address is None:
        _reach_stores(options)
    return texts


def _warn_of_storage_space(plan: Plan, options: LaunchOptions, size: ClusterSize) -> None:
    """One line where a local --storage-path has less free space than the resume checkpoints
    of the trials the cluster runs at once (``sweeper/resources/storage.py``). A warning, not a
    refusal: the need is an upper bound, and a trial shorter than --checkpoint-every writes none."""
    need = storage_plan(plan, sum(node_gpus(size)), options.gpu_memory_gib).resume_peak
    warning = check_storage_space(options.storage_path, need)
    if warning is not None:
        log.warning(warning)


def _reach_stores(options: LaunchOptions) -> None:
    reach_tracking_uri(options.tracking_uri, options.connect_timeout_s)
    reach_study_storage(options.study_storage, options.connect_timeout_s)
    reach_storage_path(options.storage_path, options.connect_timeout_s)
    reach_artifact_store(options.tracking_uri, options.connect_timeout_s)


def _start_ray(address: str | None) -> None:
    """No address: a Ray of its own, never a cluster some other process left running here.
    Ray's start-up lines stay out of the output (xsweep prints its own progress)."""
    try:
        ray.init(address=address or "local", include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    except ConnectionError as error:
        first_line = str(error).strip().splitlines()[0]
        raise SpecError(
            f"--address: {address}: {first_line}; valid: a running Ray cluster's address, or none"
        ) from None


@dataclass(frozen=True)
class _Prepared:
    """What the checks before the first write found out."""

    # The sweep's text, for the tiny model's tokenizer (empty where no scale is tiny).
    texts: list[str]
    # The nodes the cluster has, or may have where it autoscales: what concurrency follows.
    size: ClusterSize


def _launch_validated(plan: Plan, options: LaunchOptions, prepared: _Prepared) -> LaunchResult:
    """The first writes: the experiment (new, resumed, finished, or forked) and its sweep."""
    spec = plan.spec
    client = MlflowClient(options.tracking_uri)
    with schema_lock(options.tracking_uri):
        experiment = retrying(lambda: client.get_experiment_by_name(spec.name))
    with schema_lock(options.study_storage):
        optuna.storages.RDBStorage(options.study_storage)
    previous = PreviousLaunch()
    if experiment is not None:
        try:
            previous = _previous_launch(client, experiment.experiment_id, spec)
        except SpecError:
            if not options.fork:
                raise
            forked = replace(spec, name=fork_name(spec))
            with sweep_lock(options.study_storage, forked.name):
                return _launch_validated(replace(plan, spec=forked), replace(options, fork=False), prepared)
        if previous.finished_run_id is not None:
            return LaunchResult(
                spec.name, experiment.experiment_id, previous.finished_run_id, 0, 0, 0, already_done=True
            )
    with tempfile.TemporaryDirectory(prefix="xsweep-tiny-") as tmp:
        # A resumed sweep keeps the models its finished trials started from; those its first
        # launch died before storing are built now (no trial can have started from them).
        missing = unstored_local_models(client, spec.scales, previous.unfinished_run_id)
        local_dirs = _build_local_models(spec, prepared.texts, Path(tmp), only=missing)
        if experiment is not None:
            experiment_id = experiment.experiment_id
        else:
            experiment_id = retrying(
                lambda: client.create_experiment(
                    spec.name,
                    artifact_location=artifact_location(options.tracking_uri, spec.name),
                    tags={EXPERIMENT_KIND_TAG: "custom_model_development"},
                )
            )
        with Interruption().catching() as interruption:
            resumed = previous.unfinished_run_id
            start = _SweepStart(plan, options, prepared.size, client, experiment_id, local_dirs, resumed, interruption)
            return _run_sweep(start)


@dataclass(frozen=True)
class _SweepStart:
    """A validated launch at its first write: the experiment exists."""

    plan: Plan
    options: LaunchOptions
    size: ClusterSize
    client: MlflowClient
    experiment_id: str
    # Per local scale (tiny, mini), the model built for this sweep (none on a resume).
    local_dirs: dict[str, Path]
    # The sweep run of an unfinished earlier launch, continued; None for a new sweep.
    resume_run_id: str | None
    # Which stop signal (Ctrl-C's SIGINT, SIGTERM) ended the launch, if one did.
    interruption: Interruption


def _run_sweep(start: _SweepStart) -> LaunchResult:
    """The sweep run (new, or the unfinished one resumed), one Tuner over every trial left,
    and the sweep run's end, whatever happens."""
    spec, client = start.plan.spec, start.client
    searcher = None
    if start.resume_run_id is not None:
        searcher = _resumed_searcher(start, start.resume_run_id)
        # What the dead driver left RUNNING is FAILED until its trial is handed out again.
        _fail_running_runs(client, start.experiment_id, start.resume_run_id)
        sweep_run = TrackedRun.reopen(client, start.resume_run_id)
    else:
        tags = RunTags(phase=SWEEP, sweep=spec.name, spec_fingerprint=spec.fingerprint())
        sweep_run = TrackedRun.start(client, start.experiment_id, spec.name, tags.as_mlflow())
    status, launches = "FAILED", 0
    start.interruption.on_stop = functools.partial(_request_stop, client, start.experiment_id, sweep_run.run_id)
    try:
        launches = _count_launch(client, sweep_run)
        _store_local_models(sweep_run, start.local_dirs)
        sweep_run.log_params(_sweep_params(start.plan))
        searcher = searcher or SweepSearcher(start.plan, _context(start, sweep_run.run_id))
        provenance = _sweep_provenance(searcher.context.source_commit, start.local_dirs)
        if start.options.data_commits:
            provenance[f"{PREFIX}data_commits"] = _data_commits(start.options)
        sweep_run.set_tags(RunTags(provenance={**provenance, f"{PREFIX}sampler": spec.sampler}))
        progress = SweepProgress(start.plan.total_trials)
        # Built before the progress bar starts: Tune pickles its callbacks, and a live bar holds locks.
        tuner = _tuner(start, searcher, progress, f"{spec.name}-{sweep_run.run_id[:8]}-{launches}")
        with progress:
            tuner.fit()
        start.interruption.tune_ended()
        if start.interruption.signal is not None:
            status = "KILLED"
            return _interrupted(start, sweep_run, searcher, launches)
        result = _result(start, sweep_run, searcher, launches)
        if searcher.fatal is not None:
            raise SweepAborted(f"{searcher.fatal}; the sweep stopped ({result.summary()}): free space, then relaunch")
        status = result.sweep_status
        return result
    except KeyboardInterrupt:
        # A second signal, or one before Tune ran: the trials die with this driver's Ray.
        start.interruption.signal = start.interruption.signal or signal.SIGINT
        status = "KILLED"
        return _interrupted(start, sweep_run, searcher, launches)
    except SweepAborted:
        raise
    except Exception as error:
        if not disk_full(error):
            raise
        places = places_written(start.options.tracking_uri, start.options.storage_path, start.options.study_storage)
        raise SweepAborted(f"{one_line_cause(error, places)}; the sweep stopped: free space, then relaunch") from error
    finally:
        _end_sweep(client, start.experiment_id, sweep_run, status)


def _interrupted(
    start: _SweepStart, sweep_run: TrackedRun, searcher: SweepSearcher | None, launch: int
) -> LaunchResult:
    """After a stop signal, once Tune has stopped its trials: the runs they left RUNNING end
    KILLED with the signal as their cause, and the counts are read from the runs, as
    ``xsweep status`` reads them (a cell that finished while Tune stopped is finished; one
    handed out but never started is pending)."""
    interruption, client = start.interruption, start.client
    interruption.trials_told()
    cut_off = _end_running_runs(client, start.experiment_id, sweep_run.run_id, "KILLED", interruption.cause)
    targets = runs_of_sweep(client, start.experiment_id, sweep_run.run_id, f"and {tag_filter(phase=TARGET)}")
    finished = sum(run.info.status == "FINISHED" for run in targets)
    result = LaunchResult(
        start.plan.spec.name,
        start.experiment_id,
        sweep_run.run_id,
        finished=finished,
        failed=len(searcher.dag.failed_cells) if searcher else 0,
        blocked=len(searcher.dag.blocked_cells) if searcher else 0,
        interrupted=sum(run.data.tags.get("phase") == TARGET for run in cut_off),
        planned=len(start.plan.cells),
        stopped_by_signal=interruption.exit_code,
    )
    _log_counts(sweep_run, result, launch)
    return result


def _request_stop(client: MlflowClient, experiment_id: str, sweep_run_id: str, cause: str) -> None:
    """Tag every running trial run of the sweep ``stop_requested``: each trial stops itself."""
    running = f"{tag_filter(sweep_run_id=sweep_run_id)} and attributes.status = 'RUNNING'"
    for run in retrying(lambda: client.search_runs([experiment_id], filter_string=running)):
        if run.info.run_id != sweep_run_id:
            retrying(lambda run=run: set_run_tags(client, run.info.run_id, RunTags(stop_requested=cause)))


def _count_launch(client: MlflowClient, sweep_run: TrackedRun) -> int:
    """This launch's number among the sweep's launches, recorded on the sweep run."""
    recorded = RunTags.parse(retrying(lambda: client.get_run(sweep_run.run_id)).data.tags)
    launches = (recorded.launches or 0) + 1
    sweep_run.set_tags(RunTags(sweep_run_id=sweep_run.run_id, launches=launches))
    return launches


def _result(start: _SweepStart, sweep_run: TrackedRun, searcher: SweepSearcher, launch: int) -> LaunchResult:
    """Where the launch left the planned cells, also logged on the sweep run at the launch's
    number as step: a relaunch's counts are new points, and the latest is what the UI shows."""
    result = LaunchResult(
        start.plan.spec.name,
        start.experiment_id,
        sweep_run.run_id,
        finished=len(searcher.dag.finished_cells),
        failed=len(searcher.dag.failed_cells),
        blocked=len(searcher.dag.blocked_cells) + len(searcher.dag.waiting_cells),
        interrupted=len(searcher.dag.running_cells),
        planned=len(start.plan.cells),
    )
    _log_counts(sweep_run, result, launch)
    return result


def _log_counts(sweep_run: TrackedRun, result: LaunchResult, launch: int) -> None:
    counts = ("finished", "failed", "blocked", "interrupted")
    sweep_run.log_metrics({f"cells/{count}": getattr(result, count) for count in counts}, step=launch)


def _sweep_params(plan: Plan) -> dict[str, object]:
    spec = plan.spec
    return {
        "scales": ",".join(spec.scales),
        "intermediates": ",".join(spec.intermediates),
        "targets": ",".join(spec.targets),
        "trials": spec.trials,
        "seeds": spec.seeds,
        "data": spec.data,
        "local_data": spec.local_data or "none",
        "translated_data": spec.translated_data or "none",
        "mlm_text": spec.mlm_text or "none",
        "sampler": spec.sampler,
        "batch_order": spec.batch_order,
        # What `xsweep status` counts progress against.
        "planned/search_trials": len(plan.studies) * spec.trials,
        "planned/cells": len(plan.cells),
        **{f"languages/{t}": " ".join(langs) for t, langs in plan.languages.items()},
    }


def _context(start: _SweepStart, sweep_run_id: str) -> SweepContext:
    options = start.options
    return SweepContext(
        name=start.plan.spec.name,
        experiment_id=start.experiment_id,
        sweep_run_id=sweep_run_id,
        tracking_uri=options.tracking_uri,
        study_storage=options.study_storage,
        encoders=_pretrained_encoders(start.plan, sweep_run_id),
        storage_path=options.storage_path,
        collective_backend=options.collective_backend,
        driver_resource=_driver_resource(),
        node_gpus=tuple(node_gpus(start.size)) if start.size.autoscaling else (),
        gpu_fractions=gpu_fractions(start.plan.spec.scales, options.gpu_memory_gib, start.plan.longest_sequence),
        checkpoint_every_s=options.checkpoint_every_s,
        keep_target_checkpoints=options.keep_target_checkpoints,
        source_commit=source_commit(),
        data_commits=_data_commits(options),
    )


def _data_commits(options: LaunchOptions) -> str:
    """The hub's served commits as one tag value (empty without a hub check)."""
    return json.dumps(dict(sorted(options.data_commits.items()))) if options.data_commits else ""


def _driver_resource() -> str:
    return DRIVER_RESOURCE if ray.cluster_resources().get(DRIVER_RESOURCE) else ""


def _resumed_searcher(start: _SweepStart, sweep_run_id: str) -> SweepSearcher:
    """The searcher of an unfinished sweep, from what its studies and runs hold; refused in
    one line, before anything is written, where nothing is left that could run."""
    searcher = SweepSearcher(start.plan, _context(start, sweep_run_id))
    searcher.resume()
    dead_ends = searcher.dag.dead_end_studies()
    if dead_ends and not searcher.dag.runnable_left():
        names = ", ".join(study_label(key) for key in dead_ends)
        raise SpecError(
            f"--name: sweep {start.plan.spec.name!r} has nothing left to run: every trial of {names} failed "
            "(their runs' error tags say why), so the cells that need them cannot start; "
            "valid: fix the cause, then launch the spec under a new --name"
        )
    return searcher


def _tuner(start: _SweepStart, searcher: SweepSearcher, progress: SweepProgress, name: str) -> tune.Tuner:
    options = start.options
    placements = [searcher.context.placement(scale) for scale in start.plan.spec.scales]
    at_once = concurrency(start.size, placements)
    # Tune lets a custom searcher keep one trial pending at a time ("auto": 1 for any search
    # algorithm but random and grid, https://docs.ray.io/en/latest/tune/api/env.html): a
    # trial waiting for its actor held the next back, so cells ran one after another on
    # free CPUs, and an autoscaler saw one trial's demand. Pending may be all that may run.
    os.environ.setdefault("TUNE_MAX_PENDING_TRIALS_PG", str(at_once))
    return tune.Tuner(
        tune.with_resources(options.trainable, _resources),
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=StudyPruning(searcher),
            num_samples=start.plan.total_trials,
            # Running or pending (Tune allows as many pending): the demand an autoscaler sees.
            max_concurrent_trials=at_once,
            # A cached actor keeps its GPU while the searcher has no trial of its kind, which
            # can starve a multi-GPU trial of the node it needs: reuse CPU-only actors alone.
            reuse_actors=all(SCALES[scale].gpus == 0 for scale in start.plan.spec.scales),
            trial_name_creator=_trial_name,
            trial_dirname_creator=_trial_name,
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=options.storage_path,
            callbacks=[
                progress,
                JsonLoggerCallback(),
                TrialFaults(options.tracking_uri, start.experiment_id, searcher.context.sweep_run_id, options.retries),
            ],
            stop=FaultStop(searcher),
            # A trial whose process, worker or node died runs again, in its own run.
            failure_config=tune.FailureConfig(max_failures=options.retries),
            verbose=0,
        ),
    )


def _end_sweep(client: MlflowClient, experiment_id: str, sweep_run: TrackedRun, status: str) -> None:
    """Every run this launch left open ends; where the store cannot take it (a full disk),
    say so in one line: the next launch marks what was left RUNNING as FAILED."""
    try:
        _fail_running_runs(client, experiment_id, sweep_run.run_id)
        sweep_run.finish(status)
    except Exception as error:
        if not disk_full(error):
            raise
        log.warning("the store is full: runs of this launch may be left RUNNING; the next launch marks them FAILED")

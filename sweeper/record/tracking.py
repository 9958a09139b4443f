"""MLflow as xsweep writes it: one experiment per sweep, top-level runs, one tag contract.

Trials open their own runs (nothing driver-side logs for them), through ``TrackedRun``,
whose calls retry so a tracking-server hiccup does not kill a trial. Metric points go out
from a background thread: training never waits for the server, points logged during an
outage are delivered when it is back, and a resent point is stored once (each point's
timestamp is fixed when it is logged, and MLflow's store keeps one row per identical point).
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from mlflow.artifacts import get_artifact_repository
from mlflow.data.huggingface_dataset_source import HuggingFaceDatasetSource
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, Run, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from sweeper.plan.dag import StudyState
from sweeper.plan.plan import INTERMEDIATE, TARGET
from sweeper.record.inputs import DatasetRead
from sweeper.record.tags import RunTags, tag_filter

if TYPE_CHECKING:
    from sweeper.record.fence import RunFence

log = logging.getLogger(__name__)


class RunTaken(RuntimeError):
    """A trial attempt no longer owns its run (``sweeper/record/fence.py``): a newer attempt
    claimed it, or the launch asked its trials to stop. It writes nothing more."""


# MLflow 3 opens an experiment on its GenAI overview unless told what kind it is.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"

T = TypeVar("T")

# The client the layers above write through, named so that they need not import mlflow.
TrackingClient = MlflowClient


# MLflow's HTTP client retries a failing request 7 times with exponential backoff (about 4
# minutes a call, MLFLOW_HTTP_REQUEST_MAX_RETRIES); around ``retrying`` that made a server
# answering 500 hold a launch for 20 minutes. Two of its retries here, unless the user set it.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")

# Metric points wait out a tracking outage this long (besides the client's own retries).
OUTAGE_ATTEMPTS, OUTAGE_MAX_WAIT_S = 12, 30.0
# What one log_batch request may carry (MLflow's limit on metrics per call).
MAX_BATCH_METRICS = 1000
# The sender waits this long after a point for more to share its request: a loss every few
# steps becomes one write a second, not one per call (in a trial's own process, with a SQLite
# store, each write is work beside the training steps). A flush does not wait.
LINGER_S = 1.0
# What ``flush`` queues to wake a lingering sender: not a metric point, never sent.
_WAKE = object()


_DISK_FULL_WORDS = ("no space left on device", "database or disk is full", "disk quota exceeded")


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def is_disk_full(message: str) -> bool:
    """Whether an error's text says a disk or store is full: waiting does not fix that."""
    lowered = message.lower()
    return any(words in lowered for words in _DISK_FULL_WORDS)


def retrying(
    call: Callable[[], T], attempts: int = 5, first_wait: float = 0.5, max_wait: float = 30.0, deadline_s: float = 60.0
) -> T:
    """Run ``call``, retrying with backoff on tracking errors (a busy SQLite file, a
    restarting server) for at most ``attempts`` tries and ``deadline_s`` seconds; the last
    error propagates, and a full disk's at once."""
    give_up_at = time.monotonic() + deadline_s
    for attempt in range(attempts):
        try:
            return call()
        except (MlflowException, OSError) as error:
            wait = min(first_wait * 2**attempt, max_wait)
            if attempt == attempts - 1 or is_disk_full(str(error)) or time.monotonic() + wait > give_up_at:
                raise
            log.warning("tracking call failed (%s); retrying in %.1fs", _first_line(error), wait)
            time.sleep(wait)
    raise AssertionError("unreachable")


def metric_key(split: str, metric: str, lang: str) -> str:
    return f"{split}/{metric}/{lang}"


def with_averages(metrics: Mapping[str, float]) -> dict[str, float]:
    """Add ``{split}/{metric}/avg`` and ``.../avg_non_en`` over the per-language values."""
    groups: dict[tuple[str, str], dict[str, float]] = {}
    for key, value in metrics.items():
        split, metric, lang = key.split("/")
        groups.setdefault((split, metric), {})[lang] = value
    averaged = dict(metrics)
    for (split, metric), by_lang in groups.items():
        averaged[metric_key(split, metric, "avg")] = sum(by_lang.values()) / len(by_lang)
        non_en = [value for lang, value in by_lang.items() if lang != "en"]
        if non_en:
            averaged[metric_key(split, metric, "avg_non_en")] = sum(non_en) / len(non_en)
    return averaged


class TrackedRun:
    """One MLflow run, written from the process that does the work."""

    def __init__(self, client: MlflowClient, run_id: str) -> None:
        self.client = client
        self.run_id = run_id
        # What a reopened run holds already: the last step of each metric and the params,
        # so that a resumed trial adds only what its first attempt did not.
        self._logged_steps: dict[str, int] = {}
        self._logged_params: set[str] = set()
        # Metric points not yet delivered, and the thread that delivers them.
        self._outbox: queue.Queue[Metric | object] = queue.Queue()
        self._sender: threading.Thread | None = None
        # Training and the system-metrics sampler log from two threads; one sender starts.
        self._sender_lock = threading.Lock()
        self._flushing = threading.Event()
        self._undelivered: Exception | None = None
        # The trial attempt's claim on the run, where it has one (``sweeper/record/fence.py``):
        # every write checks it first; a lost claim drops metric points and raises elsewhere.
        self.fence: RunFence | None = None

    def _owned(self) -> None:
        if self.fence is not None and not self.fence.holds():
            raise RunTaken(self.fence.lost)

    @classmethod
    def start(cls, client: MlflowClient, experiment_id: str, name: str, tags: Mapping[str, str]) -> TrackedRun:
        """A new top-level run: lineage lives in tags (``sweep_run_id``, ``intermediate_run_id``),
        never in MLflow's parent tag, whose nesting hides runs from the UI's comparisons."""
        run = retrying(lambda: client.create_run(experiment_id, tags=dict(tags), run_name=name))
        return cls(client, run.info.run_id)

    @classmethod
    def reopen(cls, client: MlflowClient, run_id: str, mark_running: bool = True) -> TrackedRun:
        """Continue a run an interrupted process left (RUNNING again, unless told otherwise):
        from here on only metric points past the steps it holds, and params it lacks, are
        written."""
        run = cls(client, run_id)
        existing = retrying(lambda: client.get_run(run_id))
        for key in existing.data.metrics:
            history = retrying(lambda key=key: client.get_metric_history(run_id, key))
            run._logged_steps[key] = max(point.step for point in history)
        run._logged_params = set(existing.data.params)
        if mark_running:
            retrying(lambda: client.update_run(run_id, status="RUNNING"))
        return run

    def log_params(self, params: Mapping[str, object]) -> None:
        batch = [Param(key, str(value)) for key, value in params.items() if key not in self._logged_params]
        if batch:
            self._owned()
            retrying(lambda: self.client.log_batch(self.run_id, params=batch))

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        """Queue the points for delivery and return at once; ``flush`` waits for them."""
        now = int(time.time() * 1000)
        for key, value in metrics.items():
            if step > self._logged_steps.get(key, -1):
                self._outbox.put(Metric(key, float(value), now, step))
        with self._sender_lock:
            if self._sender is None and self._outbox.unfinished_tasks:
                self._sender = threading.Thread(target=self._deliver, name=f"mlflow-{self.run_id[:8]}", daemon=True)
                self._sender.start()

    def next_step(self, prefix: str) -> int:
        """The first step past every point this run holds under keys starting with ``prefix``."""
        return 1 + max((step for key, step in self._logged_steps.items() if key.startswith(prefix)), default=-1)

    def _deliver(self) -> None:
        while True:
            batch = self._next_batch()
            try:
                if self.fence is not None and not self.fence.holds():
                    continue  # another attempt owns the run: these points are not ours to write
                if self.fence is not None:
                    self.fence.audit(f"{len(batch)} points")
                retrying(
                    lambda batch=batch: self.client.log_batch(self.run_id, metrics=batch),
                    attempts=OUTAGE_ATTEMPTS,
                    max_wait=OUTAGE_MAX_WAIT_S,
                    # Training does not wait on these points: they may wait out a longer outage.
                    deadline_s=math.inf,
                )
            except (MlflowException, OSError) as error:
                self._undelivered = error
            finally:
                for _ in batch:
                    self._outbox.task_done()

    def _next_batch(self) -> list[Metric]:
        """Every point queued within ``LINGER_S`` of the first (at once where a flush waits),
        up to one request's worth: a trial logging faster than one request per call drains in
        few requests instead of falling behind."""
        batch: list[Metric] = []
        while not batch:
            batch = self._take(self._outbox.get())
        deadline = time.monotonic() + LINGER_S
        while len(batch) < MAX_BATCH_METRICS:
            wait = 0.0 if self._flushing.is_set() else deadline - time.monotonic()
            try:
                item = self._outbox.get(timeout=wait) if wait > 0 else self._outbox.get_nowait()
            except queue.Empty:
                break
            batch += self._take(item)
        return batch

    def _take(self, item: Metric | object) -> list[Metric]:
        """``item`` as points to send: a flush's wake-up is none (and is done at once)."""
        if item is _WAKE:
            self._outbox.task_done()
            return []
        return [item]

    @property
    def undelivered(self) -> int:
        """Metric points queued or in flight."""
        return self._outbox.unfinished_tasks

    def flush(self) -> None:
        """Wait until every queued metric point is delivered; raise if some could not be."""
        with self._sender_lock:
            sending = self._sender is not None
        if sending:
            self._flushing.set()
            self._outbox.put(_WAKE)  # a sender lingering for more sends what it holds now
            self._outbox.join()
            self._flushing.clear()
        if self._undelivered is not None:
            raise self._undelivered

    def set_tags(self, tags: RunTags | Mapping[str, object]) -> None:
        spelled = tags.as_mlflow() if isinstance(tags, RunTags) else tags
        batch = [RunTag(key, str(value)) for key, value in spelled.items()]
        self._owned()
        retrying(lambda: self.client.log_batch(self.run_id, tags=batch))

    def log_artifacts(self, local_dir: str | Path, artifact_path: str) -> None:
        self._owned()
        retrying(lambda: self.client.log_artifacts(self.run_id, str(local_dir), artifact_path))

    def finish(self, status: str = "FINISHED") -> None:
        self.flush()
        self._owned()
        retrying(lambda: self.client.set_terminated(self.run_id, status))


# -- what the sweep's decisions write (sweeper/launch/search.py) -------------------------------


def tracking_client(tracking_uri: str) -> TrackingClient:
    """A client of the tracking store at ``tracking_uri``, for the launch's side."""
    return MlflowClient(tracking_uri)


def runs_of_sweep(client: MlflowClient, experiment_id: str, sweep_run_id: str, extra_filter: str = "") -> list[Run]:
    """Every run a sweep's launches opened (``extra_filter`` narrows them)."""
    where = " and ".join(filter(None, [tag_filter(sweep_run_id=sweep_run_id), extra_filter]))
    return retrying(lambda: client.search_runs([experiment_id], filter_string=where, max_results=50_000))


def set_run_tags(client: MlflowClient, run_id: str, tags: RunTags) -> None:
    batch = [RunTag(name, value) for name, value in tags.as_mlflow().items()]
    retrying(lambda: client.log_batch(run_id, tags=batch))


def mark_selection(client: MlflowClient, run_ids: list[str], selected: str) -> None:
    """Tag each of a study's complete trials as its selection or not."""
    for run_id in run_ids:
        set_run_tags(client, run_id, RunTags(selected=run_id == selected))


def record_selection(client: MlflowClient, sweep: str, state: StudyState) -> None:
    """A study's choice (``state.selected``, not None) on its runs; of an intermediate
    study, only the selected trial keeps its checkpoint, registered as the study's encoder."""
    selected = state.selected.run_id
    mark_selection(client, [outcome.run_id for outcome in state.outcomes], selected)
    if state.key.phase != INTERMEDIATE:
        return
    for outcome in state.outcomes:
        if outcome is not state.selected:
            drop_checkpoint(client, outcome.run_id)
    # Found by name: "the MNLI-trained large encoder of sweep X".
    register_encoder(client, registered_model_name(sweep, state.key.scale, state.key.task), selected)


@dataclass(frozen=True)
class RecordedRuns:
    """What a relaunch reads of a sweep's runs (see ``SweepDag.resume``)."""

    # Trial key -> the run of that study trial or cell.
    run_of_trial: dict[str, str]
    # Keys of the cells whose target run finished.
    finished_cells: set[str]


def recorded_runs(client: MlflowClient, experiment_id: str, sweep_run_id: str) -> RecordedRuns:
    """What the sweep's launches recorded so far, as a relaunch resumes from it."""
    runs = runs_of_sweep(client, experiment_id, sweep_run_id)
    tags = {run.info.run_id: RunTags.parse(run.data.tags) for run in runs}
    return RecordedRuns(
        run_of_trial={tags[run.info.run_id].trial_key: run.info.run_id for run in runs},
        finished_cells={
            tags[run.info.run_id].cell
            for run in runs
            if tags[run.info.run_id].phase == TARGET and run.info.status == "FINISHED"
        },
    )


def drop_checkpoint(client: MlflowClient, run_id: str) -> None:
    """Delete a run's checkpoint (an intermediate trial the study did not select)."""
    artifact_uri = retrying(lambda: client.get_run(run_id)).info.artifact_uri
    try:
        # The client's own store: a proxied mlflow-artifacts: URI resolves against it, not the global URI.
        get_artifact_repository(artifact_uri, tracking_uri=client.tracking_uri).delete_artifacts("checkpoint")
    except (NotImplementedError, MlflowException):
        log.info("artifact store cannot delete; keeping the checkpoint of run %s", run_id)


def end_pruned(client: MlflowClient, run_id: str) -> None:
    """A trial its study's pruner stopped: tagged so, and KILLED (not a finished trial)."""
    set_run_tags(client, run_id, RunTags(pruned=True))
    retrying(lambda: client.set_terminated(run_id, "KILLED"))


def log_datasets(client: MlflowClient, run_id: str, reads: list[DatasetRead]) -> None:
    """The splits a run read, as MLflow dataset inputs (logging one again adds nothing)."""
    inputs = []
    for read in reads:
        if read.hub is not None:
            path, config, split, revision = read.hub
            source_type = "hugging_face"
            source = HuggingFaceDatasetSource(path, config_name=config, split=split, revision=revision).to_json()
        else:
            source_type, source = "local", json.dumps({"uri": read.local_uri})
        dataset = Dataset(name=read.name, digest=read.digest, source_type=source_type, source=source)
        inputs.append(DatasetInput(dataset, tags=[InputTag(MLFLOW_DATASET_CONTEXT, read.context)]))
    if inputs:
        retrying(lambda: client.log_inputs(run_id, datasets=inputs))


def registered_model_name(sweep: str, scale: str, intermediate: str) -> str:
    return f"{sweep}-{scale}-{intermediate}"


def register_encoder(client: MlflowClient, name: str, run_id: str, artifact_path: str = "checkpoint") -> str:
    """A selected intermediate's encoder as a version of the registered model ``name``;
    registering the same run again adds no version. Returns the version."""
    try:
        retrying(lambda: client.create_registered_model(name))
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    existing = retrying(lambda: client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'"))
    if existing:
        return str(existing[0].version)
    source = f"{retrying(lambda: client.get_run(run_id)).info.artifact_uri}/{artifact_path}"
    return str(retrying(lambda: client.create_model_version(name, source, run_id=run_id)).version)

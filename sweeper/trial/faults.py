"""What a sweep does when something outside the trial's own code fails.

- A trial whose process, worker or node died is the cluster's fault, not the trial's: Tune
  retries it (``FailureConfig(max_failures=...)``) in the same MLflow run, from its resume
  checkpoint, at the same learning rate; only when the retries are spent is its run FAILED,
  with an ``error`` tag saying so (``TrialFaults``).
- A trial that fails on its own error (a bug, bad data) fails once: it tags its run with the
  one-line cause and reports the failure instead of raising, so Tune does not retry it.
- A full disk or store ends the whole sweep: every later trial would fail the same way.
"""

from __future__ import annotations

import errno
import logging
import os
import tempfile
import traceback
from pathlib import Path

from mlflow.tracking import MlflowClient
from ray import exceptions as ray_errors
from ray.tune import Callback
from ray.tune.experiment import Trial

from sweeper.record.locations import local_store_dir, nearest_existing
from sweeper.record.tags import RunTags, tag_filter
from sweeper.record.tracking import is_disk_full, retrying, set_run_tags

log = logging.getLogger(__name__)

# What a trial reports (beside a NaN objective) when it failed on its own error.
FAILED = "failed"

# Exceptions that mean a process, worker or node went away under the trial.
_NOT_THE_TRIALS = (
    ray_errors.RayActorError,
    ray_errors.WorkerCrashedError,
    ray_errors.NodeDiedError,
    ray_errors.LocalRayletDiedError,
    ray_errors.ObjectLostError,
    ray_errors.OutOfMemoryError,
)


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    return seen


def not_the_trials_fault(error: BaseException) -> bool:
    """True where the trial's process, a Train worker or a node died under it."""
    return any(isinstance(link, _NOT_THE_TRIALS) for link in _chain(error))


def one_line_cause(error: BaseException, places: list[str] = ()) -> str:
    """The error as one line. A full disk names the path that filled: the file the error
    names, else the fullest of ``places`` (the folders a trial writes), since some writers
    (Arrow's, SQLite) do not say which file they were writing."""
    text = " ".join("".join(traceback.format_exception_only(error)).split())[:2000]
    for link in _chain(error):
        if isinstance(link, OSError) and link.errno in (errno.ENOSPC, errno.EDQUOT) and link.filename:
            return f"{link.strerror}: {link.filename}"
    if disk_full(error):
        fullest = min(places, key=_free_bytes, default=None)
        if fullest is not None:
            return f"no space left on device: {fullest} ({_free_bytes(fullest) // 1024} KiB free)"
    return text


def _free_bytes(path: str) -> int:
    stats = os.statvfs(nearest_existing(Path(path)))
    return stats.f_bavail * stats.f_frsize


def places_written(tracking_uri: str, storage_path: str, study_storage: str = "") -> list[str]:
    """The local folders a sweep writes: the tracking store's and the studies' databases,
    Tune's storage, the temp folder."""
    places = [tempfile.gettempdir()]
    for database in (tracking_uri, study_storage):
        store = local_store_dir(database)
        if store is not None:
            places.append(str(store))
    if "://" not in storage_path:
        places.append(storage_path)
    return list(dict.fromkeys(places))


def disk_full(error: BaseException) -> bool:
    """Whether ``error``, or one it came from, says a disk or store is full."""
    return any(is_disk_full(str(link)) for link in _chain(error))


class TrialFaults(Callback):
    """Logs each retry of a trial whose process died, and, once its retries are spent, ends
    its run FAILED with the ``error`` tag (the process that would have done so is gone)."""

    def __init__(self, tracking_uri: str, experiment_id: str, sweep_run_id: str, retries: int) -> None:
        self.tracking_uri = tracking_uri
        self.experiment_id = experiment_id
        self.sweep_run_id = sweep_run_id
        self.retries = retries

    def on_trial_recover(self, iteration: int, trials: list[Trial], trial: Trial, **info: object) -> None:
        cause = _first_line(trial)
        log.warning(
            "%s: %s (%s); retry %d of %d in the same run",
            trial.config["trial"]["run_name"],
            "its node died" if _node_died(cause) else "its process died",
            cause,
            trial.run_metadata.num_failures,
            self.retries,
        )

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: object) -> None:
        client = MlflowClient(self.tracking_uri)
        key = trial.config["trial"]["key"]
        where = tag_filter(sweep_run_id=self.sweep_run_id, trial_key=key)
        runs = retrying(lambda: client.search_runs([self.experiment_id], filter_string=where))
        attempts = trial.run_metadata.num_failures
        cause = f"its process, worker or node died {attempts} time(s), retries spent: {_first_line(trial)}"
        for run in runs:
            if run.info.status == "RUNNING":
                set_run_tags(client, run.info.run_id, RunTags(error=cause))
                retrying(lambda run=run: client.set_terminated(run.info.run_id, "FAILED"))


def _node_died(cause: str) -> bool:
    """Whether Ray's error says the trial's node went away (not only its process)."""
    lowered = cause.lower()
    return "node" in lowered and any(word in lowered for word in ("died", "dead", "removed", "lost"))


def _first_line(trial: Trial) -> str:
    # Tune writes the error into the trial's local folder first; its copy in the storage
    # path (``get_error``) is synced later, so a retry's line read it before it was there.
    local = trial.error_file
    error = Path(local).read_text() if local and Path(local).is_file() else (trial.get_error() or "")
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    # Tune's error file starts with "Failure # n (occurred at ...)"; the cause follows.
    meaningful = [line for line in lines if not line.startswith("Failure #")]
    return (meaningful[-1] if meaningful else "no error recorded")[:300]

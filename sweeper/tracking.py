"""MLflow as xsweep writes it: one experiment per sweep, nested runs, one tag contract.

Trials open their own runs (nothing driver-side logs for them), through ``TrackedRun``,
whose calls retry so a tracking-server hiccup does not kill a trial. Metric points go out
from a background thread: training never waits for the server, points logged during an
outage are delivered when it is back, and a resent point is stored once (each point's
timestamp is fixed when it is logged, and MLflow's store keeps one row per identical point).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

from mlflow.artifacts import get_artifact_repository
from mlflow.entities import Metric, Param, Run, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from sweeper.tags import RunTags, tag_filter

log = logging.getLogger(__name__)

PARENT_TAG = "mlflow.parentRunId"
# MLflow 3 opens an experiment on its GenAI overview unless told what kind it is.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"

T = TypeVar("T")


def resolve_tracking_uri(uri: str | None) -> str:
    """The URI every trial will use: ``uri``, else $MLFLOW_TRACKING_URI, else MLflow's own
    SQLite default in the working directory, made absolute (trials run elsewhere)."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlflow.db"
    if uri.startswith("sqlite:///"):
        path = uri.removeprefix("sqlite:///")
        return "sqlite:///" + str(Path(path).expanduser().resolve())
    if "://" not in uri:
        raise ValueError(f"tracking URI {uri!r} has no scheme; valid: sqlite:///PATH, http(s)://HOST, postgresql://...")
    return uri


def local_store_dir(tracking_uri: str) -> Path | None:
    """The folder holding a SQLite tracking database, where artifacts and studies go too."""
    if tracking_uri.startswith("sqlite:///"):
        return Path(tracking_uri.removeprefix("sqlite:///")).parent
    return None


def artifact_location(tracking_uri: str, experiment_name: str) -> str | None:
    """Artifacts beside a SQLite database, by absolute path; a server chooses its own."""
    store = local_store_dir(tracking_uri)
    if store is None:
        return None
    return (store / "mlartifacts" / experiment_name).as_uri()


# Metric points wait out a tracking outage this long (besides the client's own retries).
OUTAGE_ATTEMPTS, OUTAGE_MAX_WAIT_S = 12, 30.0


_DISK_FULL_WORDS = ("no space left on device", "database or disk is full", "disk quota exceeded")


def is_disk_full(message: str) -> bool:
    """Whether an error's text says a disk or store is full: waiting does not fix that."""
    lowered = message.lower()
    return any(words in lowered for words in _DISK_FULL_WORDS)


def retrying(call: Callable[[], T], attempts: int = 5, first_wait: float = 0.5, max_wait: float = 30.0) -> T:
    """Run ``call``, retrying with backoff on tracking errors (a busy SQLite file, a
    restarting server); the last error propagates, and a full disk's at once."""
    for attempt in range(attempts):
        try:
            return call()
        except (MlflowException, OSError) as error:
            if attempt == attempts - 1 or is_disk_full(str(error)):
                raise
            wait = min(first_wait * 2**attempt, max_wait)
            log.warning("tracking call failed (%s); retrying in %.1fs", error, wait)
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
        # Batches of metric points not yet delivered, and the thread that delivers them.
        self._outbox: queue.Queue[list[Metric]] = queue.Queue()
        self._sender: threading.Thread | None = None
        self._undelivered: Exception | None = None

    @classmethod
    def start(
        cls,
        client: MlflowClient,
        experiment_id: str,
        name: str,
        tags: Mapping[str, str],
        parent_run_id: str | None = None,
    ) -> TrackedRun:
        all_tags = dict(tags)
        if parent_run_id:
            all_tags[PARENT_TAG] = parent_run_id
        run = retrying(lambda: client.create_run(experiment_id, tags=all_tags, run_name=name))
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
            retrying(lambda: self.client.log_batch(self.run_id, params=batch))

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        """Queue the points for delivery and return at once; ``flush`` waits for them."""
        now = int(time.time() * 1000)
        batch = [
            Metric(key, float(value), now, step)
            for key, value in metrics.items()
            if step > self._logged_steps.get(key, -1)
        ]
        if not batch:
            return
        # log_batch takes at most 1000 metrics a call.
        for start in range(0, len(batch), 1000):
            self._outbox.put(batch[start : start + 1000])
        if self._sender is None:
            self._sender = threading.Thread(target=self._deliver, name=f"mlflow-{self.run_id[:8]}", daemon=True)
            self._sender.start()

    def _deliver(self) -> None:
        while True:
            chunk = self._outbox.get()
            try:
                retrying(
                    lambda chunk=chunk: self.client.log_batch(self.run_id, metrics=chunk),
                    attempts=OUTAGE_ATTEMPTS,
                    max_wait=OUTAGE_MAX_WAIT_S,
                )
            except (MlflowException, OSError) as error:
                self._undelivered = error
            finally:
                self._outbox.task_done()

    @property
    def undelivered(self) -> int:
        """Batches of metric points queued or in flight."""
        return self._outbox.unfinished_tasks

    def flush(self) -> None:
        """Wait until every queued metric point is delivered; raise if some could not be."""
        self._outbox.join()
        if self._undelivered is not None:
            raise self._undelivered

    def set_tags(self, tags: RunTags | Mapping[str, object]) -> None:
        spelled = tags.as_mlflow() if isinstance(tags, RunTags) else tags
        batch = [RunTag(key, str(value)) for key, value in spelled.items()]
        retrying(lambda: self.client.log_batch(self.run_id, tags=batch))

    def log_artifacts(self, local_dir: str | Path, artifact_path: str) -> None:
        retrying(lambda: self.client.log_artifacts(self.run_id, str(local_dir), artifact_path))

    def finish(self, status: str = "FINISHED") -> None:
        self.flush()
        retrying(lambda: self.client.set_terminated(self.run_id, status))


# -- what the sweep's decisions write (sweeper/search.py) -------------------------------


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


def drop_checkpoint(client: MlflowClient, run_id: str) -> None:
    """Delete a run's checkpoint (an intermediate trial the study did not select)."""
    artifact_uri = retrying(lambda: client.get_run(run_id)).info.artifact_uri
    try:
        get_artifact_repository(artifact_uri).delete_artifacts("checkpoint")
    except (NotImplementedError, MlflowException):
        log.info("artifact store cannot delete; keeping the checkpoint of run %s", run_id)


def end_pruned(client: MlflowClient, run_id: str) -> None:
    """A trial its study's pruner stopped: tagged so, and KILLED (not a finished trial)."""
    set_run_tags(client, run_id, RunTags(pruned=True))
    retrying(lambda: client.set_terminated(run_id, "KILLED"))


def runs_table_url(tracking_uri: str, experiment_id: str, ui_url: str | None = None) -> str:
    """Where the sweep's runs table is: the server itself, or a local `mlflow ui`."""
    if ui_url is None:
        parsed = urlparse(tracking_uri)
        ui_url = tracking_uri if parsed.scheme in ("http", "https") else "http://127.0.0.1:5000"
    return f"{ui_url.rstrip('/')}/#/experiments/{experiment_id}/runs"


def ui_instructions(tracking_uri: str, experiment_id: str) -> str:
    url = runs_table_url(tracking_uri, experiment_id)
    if urlparse(tracking_uri).scheme in ("http", "https"):
        return f"MLflow UI: {url}"
    return f"Open the MLflow UI: mlflow ui --backend-store-uri {tracking_uri}\nthen the sweep's runs table: {url}"

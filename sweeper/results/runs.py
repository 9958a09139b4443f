"""The runs of a sweep as the results read them: its latest sweep run, its finished target
runs, and the Δ and answer points those lack."""

from __future__ import annotations

import time

from mlflow.entities import Metric, Run
from mlflow.tracking import MlflowClient

from sweeper.plan.plan import SWEEP, TARGET
from sweeper.record.tags import RunTags, tag_filter
from sweeper.record.tracking import MAX_BATCH_METRICS, retrying
from sweeper.results.analysis import TargetRun, deltas_to_write
from tasks import get_task


class ReportError(LookupError):
    pass


def latest_sweep_run(client: MlflowClient, name: str) -> tuple[str, Run]:
    experiment = retrying(lambda: client.get_experiment_by_name(name))
    if experiment is None:
        raise ReportError(f"--name: no sweep named {name!r} in this tracking store")
    sweeps = retrying(
        lambda: client.search_runs(
            [experiment.experiment_id],
            filter_string=tag_filter(phase=SWEEP),
            order_by=["attribute.start_time DESC"],
            max_results=1,
        )
    )
    if not sweeps:
        raise ReportError(f"--name: sweep {name!r} has no sweep run")
    return experiment.experiment_id, sweeps[0]


def target_runs(client: MlflowClient, experiment_id: str, sweep_run_id: str) -> list[Run]:
    return retrying(
        lambda: client.search_runs(
            [experiment_id],
            filter_string=f"{tag_filter(phase=TARGET, sweep_run_id=sweep_run_id)} and attributes.status = 'FINISHED'",
            max_results=50_000,
        )
    )


def as_target_run(run: Run) -> TargetRun:
    tags = RunTags.parse(run.data.tags)
    return TargetRun(
        run.info.run_id, tags.scale, tags.intermediate, tags.target, tags.seed, run.data.metrics,
        get_task(tags.target).metric,
    )  # fmt: skip


def write_deltas(client: MlflowClient, experiment_id: str, sweep_run_id: str, **cell: object) -> int:
    """Write the Δ and answer points that finished target runs of the sweep lack (of one
    scale, target and seed where ``cell`` names them); returns how many were written."""
    where = tag_filter(phase="target", sweep_run_id=sweep_run_id, **cell) + " and attributes.status = 'FINISHED'"
    runs = retrying(lambda: client.search_runs([experiment_id], filter_string=where, max_results=50_000))
    missing = deltas_to_write([as_target_run(run) for run in runs])
    now = int(time.time() * 1000)
    for run_id, deltas in missing.items():
        points = [Metric(key, value, now, 0) for key, value in deltas.items()]
        for start in range(0, len(points), MAX_BATCH_METRICS):
            chunk = points[start : start + MAX_BATCH_METRICS]
            retrying(lambda run_id=run_id, chunk=chunk: client.log_batch(run_id, metrics=chunk))
    return sum(len(deltas) for deltas in missing.values())

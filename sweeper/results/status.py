"""`xsweep status`: where a sweep stands, read from its MLflow runs alone.

Per scale: learning-rate search trials and cells done, running, failed and still to come,
with a progress bar and an estimate of the time left (the mean duration of the scale's
finished runs of that kind × what is left ÷ how many run at once now).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from statistics import mean

from mlflow.entities import Run
from mlflow.tracking import MlflowClient
from rich.progress_bar import ProgressBar
from rich.table import Table

from sweeper.plan.plan import INTERMEDIATE, NONE, TARGET, TARGET_SEARCH
from sweeper.plan.scales import SCALES
from sweeper.record.tags import RunTags
from sweeper.record.tracking import runs_of_sweep
from sweeper.results.runs import latest_sweep_run

KINDS = {"search trials": (INTERMEDIATE, TARGET_SEARCH), "cells": (TARGET,)}


@dataclass(frozen=True)
class Progress:
    scale: str
    kind: str
    planned: int
    finished: int
    running: int
    failed: int
    seconds_left: float | None
    # Cut off by an interrupted launch (KILLED, not pruned): a relaunch continues them.
    interrupted: int = 0

    @property
    def pending(self) -> int:
        return max(0, self.planned - self.finished - self.running - self.failed - self.interrupted)


@dataclass(frozen=True)
class SweepStatus:
    name: str
    sweep_status: str
    rows: list[Progress]
    experiment_id: str = ""
    sweep_run_id: str = ""

    @property
    def scales(self) -> list[str]:
        return list(dict.fromkeys(row.scale for row in self.rows))


def _planned(sweep: Run) -> dict[tuple[str, str], int]:
    """Planned runs per (scale, kind), from the spec the launch logged."""
    params = sweep.data.params
    scales = params["scales"].split(",")
    intermediates = [i for i in params["intermediates"].split(",") if i and i != NONE]
    targets = params["targets"].split(",")
    trials, seeds = int(params["trials"]), int(params["seeds"])
    planned = {}
    for scale in scales:
        planned[(scale, "search trials")] = (len(intermediates) + len(targets)) * trials
        planned[(scale, "cells")] = (len(intermediates) + 1) * len(targets) * seeds
    return planned


def _seconds_left(runs: list[Run], left: int, running: int) -> float | None:
    durations = [(r.info.end_time - r.info.start_time) / 1000 for r in runs if r.info.status == "FINISHED"]
    if not left or not durations:
        return 0.0 if not left else None
    return mean(durations) * left / max(running, 1)


def read_status(client: MlflowClient, name: str) -> SweepStatus:
    experiment_id, sweep = latest_sweep_run(client, name)
    runs = runs_of_sweep(client, experiment_id, sweep.info.run_id)
    tags = {run.info.run_id: RunTags.parse(run.data.tags) for run in runs}
    rows = []
    for (scale, kind), planned in _planned(sweep).items():
        mine = [r for r in runs if tags[r.info.run_id].scale == scale and tags[r.info.run_id].phase in KINDS[kind]]
        # A pruned search trial is done: its study judged it.
        counts = Counter("PRUNED" if tags[r.info.run_id].pruned else r.info.status for r in mine)
        done = counts["FINISHED"] + counts["PRUNED"]
        progress = Progress(
            scale, kind, planned, done, counts["RUNNING"], counts["FAILED"], None, interrupted=counts["KILLED"]
        )
        left = progress.pending + progress.running
        rows.append(Progress(**{**progress.__dict__, "seconds_left": _seconds_left(mine, left, progress.running)}))
    rows.sort(key=lambda p: (list(SCALES).index(p.scale), p.kind != "search trials"))
    return SweepStatus(name, sweep.info.status, rows, experiment_id, sweep.info.run_id)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def status_table(status: SweepStatus) -> Table:
    table = Table(title=f"sweep {status.name}: {status.sweep_status.lower()} ({time.strftime('%H:%M:%S')})")
    for header in ("scale", "kind", "done", "running", "failed", "interrupted", "pending", "progress", "time left"):
        table.add_column(header, justify="left" if header in ("scale", "kind", "progress") else "right")
    for row in status.rows:
        bar = ProgressBar(total=max(row.planned, 1), completed=row.finished + row.failed, width=24)
        table.add_row(
            row.scale,
            row.kind,
            f"{row.finished}/{row.planned}",
            str(row.running),
            str(row.failed),
            str(row.interrupted),
            str(row.pending),
            bar,
            _duration(row.seconds_left),
        )
    return table

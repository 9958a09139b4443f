"""A progress bar over the sweep's trials, fed by Tune's callbacks in the driver."""

from __future__ import annotations

from ray.tune import Callback
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class SweepProgress(Callback):
    def __init__(self, total_trials: int) -> None:
        self.total_trials = total_trials
        self.running: dict[str, str] = {}
        self.failed = 0
        # Made on entering, so that Tune can pickle this callback before the sweep starts.
        self.progress: Progress | None = None

    def __enter__(self) -> SweepProgress:
        self.progress = Progress(
            TextColumn("[bold]trials"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
        )
        self.bar = self.progress.add_task("", total=self.total_trials)
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def _refresh(self) -> None:
        if self.progress is None:
            return
        failed = f"[red]{self.failed} failed[/red] " if self.failed else ""
        self.progress.update(self.bar, description=failed + "running: " + ", ".join(self.running.values()))

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        self.running[trial.trial_id] = trial.config["trial"]["run_name"]
        self._refresh()

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self.running.pop(trial.trial_id, None)
        if self.progress is not None:
            self.progress.advance(self.bar)
        self._refresh()

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self.running.pop(trial.trial_id, None)
        self.failed += 1
        if self.progress is not None:
            self.progress.advance(self.bar)
        self._refresh()

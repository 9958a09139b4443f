"""xsweep's Tune searcher: the sweep's DAG (``sweeper/plan/dag.py``) driven for Tune, with Optuna
studies (``sweeper/launch/studies.py``) proposing learning rates and MLflow recording what was
decided (through ``sweeper/record/``).

One Tuner runs the whole sweep. This searcher hands Tune only trials whose inputs exist:
learning-rate trials of every study at once, and a cell's target run as soon as its
(scale, intermediate) checkpoint and its (scale, target) learning rate are chosen. While
nothing is ready it answers "not now" (None), never "finished", so there is no barrier
between stages. ``StudyPruning`` tells the studies each epoch's score and stops what their
pruner prunes.
"""

from __future__ import annotations

import logging
import pickle
import time

from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher
from ray.tune.stopper import Stopper

from sweeper.launch.studies import SweepStudies, study_name
from sweeper.launch.trial_specs import SweepContext, cell_spec, study_trial_spec, sweep_shared
from sweeper.plan.dag import Outcome, StudyState, SweepDag, multi_gpu_room
from sweeper.plan.plan import Cell, Plan
from sweeper.record.tracking import (
    TrackingClient,
    end_pruned,
    is_disk_full,
    record_selection,
    recorded_runs,
    tracking_client,
)
from sweeper.resources.cluster import live_node_gpus
from sweeper.results.runs import write_deltas
from sweeper.trial.faults import FAILED, disk_full, one_line_cause, places_written
from sweeper.trial.trial_spec import EPOCH_SCORE, TrialSpec, trial_config

log = logging.getLogger(__name__)


class SweepSearcher(Searcher):
    def __init__(self, plan: Plan, context: SweepContext) -> None:
        super().__init__(metric="objective", mode="max")
        self.plan = plan
        self.context = context
        self.dag = SweepDag(plan, lambda key: study_name(context.name, context.sweep_run_id, key))
        self.optuna_studies = SweepStudies(context.study_storage, plan.spec.sampler)
        # (when read, GPUs per node) of the cluster, read at most every few seconds;
        # monotonic time means nothing in another process, so it is not pickled either.
        self._node_gpus: tuple[float, list[int] | None] = (float("-inf"), None)
        # Opened on first use. Tune pickles its searcher; a live client is not pickled.
        self._client: TrackingClient | None = None
        # Tune trial ids the study pruned, with their runs: Tune stops them.
        self.pruned: dict[str, str] = {}
        # A failure that ends the sweep (a full disk), as the trial reported it.
        self.fatal: str | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_client": None, "_node_gpus": (float("-inf"), None)}

    def save(self, checkpoint_path: str) -> None:
        """Tune saves its searcher beside the experiment; the studies live in Optuna's storage."""
        with open(checkpoint_path, "wb") as handle:
            pickle.dump(self.__getstate__(), handle)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as handle:
            self.__dict__.update(pickle.load(handle))

    @property
    def client(self) -> TrackingClient:
        if self._client is None:
            self._client = tracking_client(self.context.tracking_uri)
        return self._client

    # -- Tune's side -------------------------------------------------------------------

    def suggest(self, trial_id: str) -> dict | str | None:
        if self.fatal is not None:
            return Searcher.FINISHED
        spec = self._next_study_trial(trial_id) or self._next_cell(trial_id)
        if spec is not None:
            return trial_config(spec, sweep_shared(self.context, self.plan))
        if self.dag.all_handed_out:
            return Searcher.FINISHED
        return None

    def should_prune(self, trial_id: str, epoch: int, score: float, run_id: str) -> bool:
        """Tell the trial's study its English dev score after ``epoch``; True where the
        study's pruner stops it."""
        if not self.optuna_studies.should_prune(trial_id, epoch, score):
            return False
        self.pruned[trial_id] = run_id
        return True

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        try:
            self._complete(trial_id, result, error)
        except Exception as failure:
            if not disk_full(failure):
                raise
            # The studies' or runs' store is full: every later trial would meet it too.
            places = places_written(self.context.tracking_uri, self.context.storage_path, self.context.study_storage)
            self.fatal = one_line_cause(failure, places)

    def _complete(self, trial_id: str, result: dict | None, error: bool) -> None:
        self.optuna_studies.forget(trial_id)
        failure = (result or {}).get(FAILED)
        if failure and is_disk_full(failure):
            # Every later trial would fail the same way. Not the trial's fault: its study is
            # not told, so a relaunch runs it again at its learning rate, in its run.
            self.dag.abandon(trial_id)
            self.fatal = failure
            return
        # A trial stopped after an epoch's report is not complete: its score is a truncated one.
        complete = result is not None and "objective" in result and EPOCH_SCORE not in result
        ok = not error and complete and not failure
        if self.dag.is_cell(trial_id):
            cell = self.dag.in_flight[trial_id]
            self.dag.finish_cell(trial_id, ok)
            if ok:
                # Whichever of a cell and its paired `none` cell ends second gets the Δ.
                context = self.context
                write_deltas(
                    self.client, context.experiment_id, context.sweep_run_id,
                    scale=cell.scale, target=cell.target, seed=cell.seed,
                )  # fmt: skip
            return
        state, number = self.dag.in_flight[trial_id]
        studies = self.optuna_studies
        run_id = self.pruned.get(trial_id) or (result or {}).get("run_id")
        if run_id:
            studies.name_run(state, number, run_id)
        outcome = None
        if trial_id in self.pruned:
            # Told as pruned, never as a complete trial with a truncated score; its run says so too.
            studies.tell_pruned(state, number)
            end_pruned(self.client, self.pruned.pop(trial_id))
        elif ok:
            learning_rate = studies.tell_complete(state, number, result["objective"])
            outcome = Outcome(result["run_id"], learning_rate, result["objective"], number)
        else:
            studies.tell_failed(state, number)
        state = self.dag.finish_study_trial(trial_id, outcome)
        if state.complete:
            self._record_selection(state)

    # -- a relaunch --------------------------------------------------------------------

    def resume(self) -> None:
        """Pick up where an earlier launch of this sweep stopped, from what the studies and
        the tracking store hold (see ``SweepDag.resume``); trials and cells that were running
        or failed continue in their own runs (see ``trial._open_run``)."""
        runs = recorded_runs(self.client, self.context.experiment_id, self.context.sweep_run_id)
        recorded = {
            state.key: self.optuna_studies.recorded(state, runs.run_of_trial) for state in self.dag.studies.values()
        }
        self.dag.resume(recorded, runs.finished_cells)
        # Cells an earlier launch finished may lack their Δ (it ended between the two).
        write_deltas(self.client, self.context.experiment_id, self.context.sweep_run_id)
        for state in self.dag.studies.values():
            if state.complete and state.selected is None:
                log.warning("study %s: every trial failed", state.key)
        log.info(
            "resuming sweep %s: %d of %d cells done, %d search trials to continue",
            self.context.name,
            len(self.dag.finished_cells),
            self.dag.planned_cells,
            sum(len(state.interrupted) for state in self.dag.studies.values()),
        )

    # -- what is recorded ---------------------------------------------------------------

    def _record_selection(self, state: StudyState) -> None:
        if state.selected is None:
            log.warning("study %s: every trial failed", state.key)
            return
        record_selection(self.client, self.context.name, state)

    # -- the cluster -------------------------------------------------------------------

    def _cluster_node_gpus(self) -> list[int] | None:
        """The cluster's GPUs per node (``live_node_gpus``), read at most every few seconds."""
        read_at, gpus = self._node_gpus
        if time.monotonic() - read_at > 5:
            gpus = live_node_gpus(self.context.node_gpus)
            self._node_gpus = (time.monotonic(), gpus)
        return gpus

    def _has_room(self, scale: str) -> bool:
        need = self.context.placement(scale).gpus()
        if need <= 1:
            return True
        node_gpus = self._cluster_node_gpus()
        if node_gpus is None:
            return True  # no Ray cluster (the searcher driven by hand): nothing to place on
        in_flight = [e.scale if isinstance(e, Cell) else e[0].key.scale for e in self.dag.in_flight.values()]
        needs = [self.context.placement(s).gpus() for s in in_flight]
        return multi_gpu_room(need, needs, node_gpus)

    # -- what each trial is told -------------------------------------------------------

    def _next_study_trial(self, trial_id: str) -> TrialSpec | None:
        state = self.dag.next_study(self._has_room)
        if state is None:
            return None
        if state.interrupted:
            number, learning_rate = state.interrupted.pop(0)
        else:
            number, learning_rate = self.optuna_studies.ask(state, trial_id)
        self.dag.hand_out_study_trial(trial_id, state, number)
        return study_trial_spec(self.context, self.plan, state.key, number, learning_rate)

    def _next_cell(self, trial_id: str) -> TrialSpec | None:
        cell, blocked = self.dag.next_cell(trial_id, self._has_room)
        for stuck in blocked:
            log.warning(
                "cell %s/%s→%s/s%d blocked: every trial it depends on failed",
                stuck.scale,
                stuck.intermediate,
                stuck.target,
                stuck.seed,
            )
        return None if cell is None else cell_spec(self.context, self.plan, cell, *self.dag.selected_inputs(cell))


class StudyPruning(FIFOScheduler):
    """Tune's hook for "report, then stop or continue": each epoch's English dev score goes
    to the trial's study, and the trial stops where the study's pruner prunes it."""

    def __init__(self, searcher: SweepSearcher) -> None:
        super().__init__()
        self.searcher = searcher

    def on_trial_result(self, tune_controller: object, trial: object, result: dict) -> str:
        return self.decision(trial.trial_id, result)

    def decision(self, trial_id: str, result: dict) -> str:
        if EPOCH_SCORE not in result:
            return TrialScheduler.CONTINUE
        epoch, score = int(result["epoch"]), float(result[EPOCH_SCORE])
        pruned = self.searcher.should_prune(trial_id, epoch, score, result["run_id"])
        return TrialScheduler.STOP if pruned else TrialScheduler.CONTINUE


class FaultStop(Stopper):
    """Ends the whole sweep on a fault every later trial would meet (a full disk)."""

    def __init__(self, searcher: SweepSearcher) -> None:
        self.searcher = searcher

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.searcher.fatal is not None

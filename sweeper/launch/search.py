"""xsweep's Tune searcher: the sweep's DAG (``sweeper/plan/dag.py``) driven for Tune, with Optuna
studies proposing learning rates and MLflow recording what was decided.

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

import optuna
import ray
from mlflow.tracking import MlflowClient
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher
from ray.tune.stopper import Stopper

from sweeper.launch.trial_specs import SweepContext, cell_spec, study_trial_spec, sweep_shared
from sweeper.plan.dag import Outcome, RecordedTrial, StudyState, SweepDag, multi_gpu_room, study_label, trial_key
from sweeper.plan.plan import INTERMEDIATE, TARGET, Cell, Plan, StudyKey
from sweeper.plan.sampling import STARTUP_TRIALS, make_sampler, study_seed
from sweeper.plan.scales import SCALES
from sweeper.record.tags import RunTags
from sweeper.record.tracking import (
    drop_checkpoint,
    end_pruned,
    is_disk_full,
    mark_selection,
    register_encoder,
    registered_model_name,
    runs_of_sweep,
)
from sweeper.results.runs import write_deltas
from sweeper.trial.faults import FAILED, disk_full, one_line_cause, places_written
from sweeper.trial.trial_spec import EPOCH_SCORE, TrialSpec, trial_config

log = logging.getLogger(__name__)

LEARNING_RATE = "learning_rate"
# The Optuna trial's user attribute naming its MLflow run.
MLFLOW_RUN_ID = "mlflow_run_id"


class SweepSearcher(Searcher):
    def __init__(self, plan: Plan, context: SweepContext) -> None:
        super().__init__(metric="objective", mode="max")
        self.plan = plan
        self.context = context
        self.dag = SweepDag(plan, self._study_name)
        # (when read, GPUs per alive node) of the cluster, read at most every few seconds;
        # monotonic time means nothing in another process, so it is not pickled either.
        self._node_gpus: tuple[float, list[int]] = (0.0, [])
        # Live handles, opened on first use. Tune pickles its searcher; these are not pickled.
        self._live: dict[str, object] = {}
        # Tune trial id -> the Optuna trial it runs (asked in this process), for pruning.
        self._optuna_trials: dict[str, optuna.Trial] = {}
        # Tune trial ids the study pruned, with their runs: Tune stops them.
        self.pruned: dict[str, str] = {}
        # A failure that ends the sweep (a full disk), as the trial reported it.
        self.fatal: str | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_live": {}, "_node_gpus": (0.0, []), "_optuna_trials": {}}

    def save(self, checkpoint_path: str) -> None:
        """Tune saves its searcher beside the experiment; the studies live in Optuna's storage."""
        with open(checkpoint_path, "wb") as handle:
            pickle.dump(self.__getstate__(), handle)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as handle:
            self.__dict__.update(pickle.load(handle))

    # Where the sweep stands, as the DAG has it.
    @property
    def studies(self) -> dict[StudyKey, StudyState]:
        return self.dag.studies

    @property
    def finished_cells(self) -> list[Cell]:
        return self.dag.finished_cells

    @property
    def failed_cells(self) -> list[Cell]:
        return self.dag.failed_cells

    @property
    def blocked_cells(self) -> list[Cell]:
        return self.dag.blocked_cells

    @property
    def waiting_cells(self) -> list[Cell]:
        return self.dag.waiting_cells

    @property
    def running_cells(self) -> list[Cell]:
        return self.dag.running_cells

    def dead_end_studies(self) -> list[StudyKey]:
        return self.dag.dead_end_studies()

    def runnable_left(self) -> bool:
        return self.dag.runnable_left()

    @property
    def client(self) -> MlflowClient:
        return self._live.setdefault("client", MlflowClient(self.context.tracking_uri))

    def _study(self, state: StudyState) -> optuna.Study:
        if state.name not in self._live:
            self._live[state.name] = self._open_study(state.key, state.name)
        return self._live[state.name]

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
        optuna_trial = self._optuna_trials.get(trial_id)
        if optuna_trial is None:
            return False  # a trial continued from an earlier launch: it runs to its end
        optuna_trial.report(score, epoch)
        if not optuna_trial.should_prune():
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
        self._optuna_trials.pop(trial_id, None)
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
        study = self._study(state)
        run_id = self.pruned.get(trial_id) or (result or {}).get("run_id")
        if run_id:
            self._name_run(state, number, run_id)
        outcome = None
        if trial_id in self.pruned:
            # Told as pruned (Optuna keeps its last reported score), never as a complete
            # trial with a truncated score; its run says so too.
            study.tell(number, state=optuna.trial.TrialState.PRUNED)
            end_pruned(self.client, self.pruned.pop(trial_id))
        elif ok:
            study.tell(number, result["objective"])
            lr = study.trials[number].params[LEARNING_RATE]
            outcome = Outcome(result["run_id"], lr, result["objective"], number)
        else:
            study.tell(number, state=optuna.trial.TrialState.FAIL)
        state = self.dag.finish_study_trial(trial_id, outcome)
        if state.complete:
            self._record_selection(state)

    # -- a relaunch --------------------------------------------------------------------

    def resume(self) -> None:
        """Pick up where an earlier launch of this sweep stopped, from what the studies and
        the tracking store hold (see ``SweepDag.resume``); trials and cells that were running
        or failed continue in their own runs (see ``trial._open_run``)."""
        runs = runs_of_sweep(self.client, self.context.experiment_id, self.context.sweep_run_id)
        tags = {run.info.run_id: RunTags.parse(run.data.tags) for run in runs}
        run_of_key = {tags[run.info.run_id].trial_key: run.info.run_id for run in runs}
        recorded = {
            state.key: [self._recorded(state.key, trial, run_of_key) for trial in self._study(state).trials]
            for state in self.dag.studies.values()
        }
        finished = {
            tags[run.info.run_id].cell
            for run in runs
            if tags[run.info.run_id].phase == TARGET and run.info.status == "FINISHED"
        }
        self.dag.resume(recorded, finished)
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

    @staticmethod
    def _recorded(key: StudyKey, trial: optuna.trial.FrozenTrial, run_of_key: dict[str, str]) -> RecordedTrial:
        return RecordedTrial(
            number=trial.number,
            state=trial.state.name,
            learning_rate=trial.params.get(LEARNING_RATE),
            score=trial.value,
            run_id=run_of_key.get(trial_key(key, trial.number)),
        )

    # -- the studies -------------------------------------------------------------------

    def _study_name(self, key: StudyKey) -> str:
        return f"{self.context.name}/{self.context.sweep_run_id[:8]}/{key.scale}/{key.phase}/{key.task}"

    def _open_study(self, key: StudyKey, name: str) -> optuna.Study:
        scale = SCALES[key.scale]
        study = optuna.create_study(
            study_name=name,
            storage=self.context.study_storage,
            direction="maximize",
            # Seeded by the study's scale, phase and task, not by this launch's run id.
            sampler=make_sampler(self.plan.spec.sampler, study_seed(study_label(key))),
            # A trial whose English dev score after an epoch is below the median of the
            # finished trials' at that epoch stops there.
            pruner=optuna.pruners.MedianPruner(n_startup_trials=STARTUP_TRIALS, n_warmup_steps=0),
            load_if_exists=True,
        )
        # The recipe's learning rate is always tried first.
        study.enqueue_trial({LEARNING_RATE: scale.learning_rate}, skip_if_exists=True)
        return study

    def _record_selection(self, state: StudyState) -> None:
        """The study's choice on its runs; only the selected intermediate keeps its checkpoint."""
        if state.selected is None:
            log.warning("study %s: every trial failed", state.key)
            return
        mark_selection(self.client, [outcome.run_id for outcome in state.outcomes], state.selected.run_id)
        if state.key.phase == INTERMEDIATE:
            for outcome in state.outcomes:
                if outcome is not state.selected:
                    drop_checkpoint(self.client, outcome.run_id)
            # Found by name: "the MNLI-trained large encoder of sweep X".
            name = registered_model_name(self.context.name, state.key.scale, state.key.task)
            register_encoder(self.client, name, state.selected.run_id)

    def _name_run(self, state: StudyState, number: int, run_id: str) -> None:
        """The Optuna trial carries its MLflow run's id (optuna-dashboard shows it); set
        before the trial is told, while Optuna still accepts changes to it."""
        storage = self._live.setdefault("storage", optuna.storages.get_storage(self.context.study_storage))
        study_id = storage.get_study_id_from_name(state.name)
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
        storage.set_trial_user_attr(trial_id, MLFLOW_RUN_ID, run_id)

    # -- the cluster -------------------------------------------------------------------

    def _cluster_node_gpus(self) -> list[int]:
        if self.context.node_gpus:
            return list(self.context.node_gpus)
        read_at, gpus = self._node_gpus
        if time.monotonic() - read_at > 5:
            alive = [node for node in ray.nodes() if node["Alive"]] if ray.is_initialized() else []
            gpus = [int(node["Resources"].get("GPU", 0)) for node in alive]
            self._node_gpus = (time.monotonic(), gpus)
        return gpus

    def _has_room(self, scale: str) -> bool:
        need = self.context.placement(scale).gpus()
        if need <= 1 or not ray.is_initialized():
            return True
        in_flight = [e.scale if isinstance(e, Cell) else e[0].key.scale for e in self.dag.in_flight.values()]
        needs = [self.context.placement(s).gpus() for s in in_flight]
        return multi_gpu_room(need, needs, self._cluster_node_gpus())

    # -- what each trial is told -------------------------------------------------------

    def _next_study_trial(self, trial_id: str) -> TrialSpec | None:
        state = self.dag.next_study(self._has_room)
        if state is None:
            return None
        if state.interrupted:
            number, learning_rate = state.interrupted.pop(0)
        else:
            low, high = SCALES[state.key.scale].learning_rate_range
            distribution = optuna.distributions.FloatDistribution(low, high, log=True)
            optuna_trial = self._study(state).ask({LEARNING_RATE: distribution})
            number, learning_rate = optuna_trial.number, optuna_trial.params[LEARNING_RATE]
            self._optuna_trials[trial_id] = optuna_trial
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

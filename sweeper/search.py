"""xsweep's Tune searcher: Optuna studies behind it, the sweep's trial DAG in front of it.

One Tuner runs the whole sweep. This searcher hands Tune only trials whose inputs exist:
learning-rate trials of every study at once, and a cell's target run as soon as its
(scale, intermediate) checkpoint and its (scale, target) learning rate are chosen. While
nothing is ready it answers "not now" (None), never "finished", so there is no barrier
between stages.
"""

from __future__ import annotations

import logging
import pickle
import time
from dataclasses import dataclass, field

import optuna
import ray
from mlflow.artifacts import get_artifact_repository
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from ray.tune.search import Searcher
from ray.tune.stopper import Stopper

from sweeper.faults import FAILED, disk_full, one_line_cause, places_written
from sweeper.placement import placement_of
from sweeper.plan import Cell, Plan, StudyKey
from sweeper.provenance import PREFIX
from sweeper.resume import DEFAULT_CHECKPOINT_EVERY_S
from sweeper.sampling import STARTUP_TRIALS, best_outcome_index, make_sampler, may_hand_out, study_seed
from sweeper.scales import SCALES
from sweeper.tracking import (
    INTERMEDIATE,
    NONE,
    SWEEP,
    TARGET,
    TARGET_SEARCH,
    is_disk_full,
    retrying,
)
from sweeper.trial import EPOCH_SCORE, RUNS_PREFIX, TRIAL_KEY_TAG, TrialSpec
from tasks import get_task

log = logging.getLogger(__name__)

LEARNING_RATE = "learning_rate"


@dataclass(frozen=True)
class SweepContext:
    """Where the sweep's trials write, and what they start from."""

    name: str
    experiment_id: str
    sweep_run_id: str
    tracking_uri: str
    study_storage: str
    # Per scale: the pretrained encoder (runs:/... or a hub id) and its revision.
    encoders: dict[str, tuple[str, str]]
    # Tune's storage (absolute, or object storage): distributed trials' Train runs go there.
    storage_path: str = ""
    # The process-group backend of multi-GPU trials' workers.
    collective_backend: str = "nccl"
    # Where multi-GPU trials' drivers must run: a custom resource, or "" for anywhere.
    driver_resource: str = ""
    # GPUs of every node an autoscaling cluster may start (see sweeper/capacity.py), or ()
    # to read the nodes alive now.
    node_gpus: tuple[int, ...] = ()
    checkpoint_every_s: float = DEFAULT_CHECKPOINT_EVERY_S
    keep_target_checkpoints: bool = False
    # The xsweep commit the driver launched from (trials on other nodes may have no .git).
    source_commit: str = "unknown"


def study_label(key: StudyKey) -> str:
    return f"{key.scale}/{key.phase}/{key.task}"


@dataclass(frozen=True)
class Outcome:
    run_id: str
    learning_rate: float
    score: float
    # The Optuna trial number: ties in score go to the earlier trial.
    number: int = 0


@dataclass
class StudyState:
    key: StudyKey
    name: str
    n_trials: int
    handed_out: int = 0
    done: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    selected: Outcome | None = None
    # Optuna trials an earlier launch started and did not finish: (number, learning rate),
    # handed out again before anything new so they continue in their own runs.
    interrupted: list[tuple[int, float]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.done == self.n_trials


class SweepSearcher(Searcher):
    def __init__(self, plan: Plan, context: SweepContext) -> None:
        super().__init__(metric="objective", mode="max")
        self.plan = plan
        self.context = context

        # Longest chains first: the largest scale's trials go out before smaller scales'.
        def largest_first(item: StudyKey | Cell) -> int:
            return -SCALES[item.scale].parameters

        self.studies = {
            key: StudyState(key, self._study_name(key), plan.spec.trials)
            for key in sorted(plan.studies, key=largest_first)
        }
        self.waiting_cells: list[Cell] = sorted(plan.cells, key=largest_first)
        self.blocked_cells: list[Cell] = []
        self.finished_cells: list[Cell] = []
        self.failed_cells: list[Cell] = []
        # Tune trial id -> (study, Optuna trial number), or the cell it runs.
        self._in_flight: dict[str, tuple[StudyState, int] | Cell] = {}
        self._round_robin = 0
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
            return spec.to_config()
        if self.all_handed_out:
            return Searcher.FINISHED
        return None

    def should_prune(self, trial_id: str, epoch: int, score: float, run_id: str) -> bool:
        """Tell the trial's study its English dev score after ``epoch``; True where the
        study's pruner stops it (Tune then stops the trial: see ``PruningStopper``)."""
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
        entry = self._in_flight.pop(trial_id)
        self._optuna_trials.pop(trial_id, None)
        failure = (result or {}).get(FAILED)
        if failure and is_disk_full(failure):
            # Every later trial would fail the same way. Not the trial's fault: its study is
            # not told, so a relaunch runs it again at its learning rate, in its run.
            self.fatal = failure
            return
        # A trial stopped after an epoch's report is not complete: its score is a truncated one.
        complete = result is not None and "objective" in result and EPOCH_SCORE not in result
        ok = not error and complete and not failure
        if isinstance(entry, Cell):
            (self.finished_cells if ok else self.failed_cells).append(entry)
            return
        state, number = entry
        study = self._study(state)
        if trial_id in self.pruned:
            # Told as pruned (Optuna keeps its last reported score), never as a complete
            # trial with a truncated score; its run says so too.
            study.tell(number, state=optuna.trial.TrialState.PRUNED)
            run_id = self.pruned.pop(trial_id)
            retrying(lambda: self.client.set_tag(run_id, "pruned", "true"))
            retrying(lambda: self.client.set_terminated(run_id, "KILLED"))
        elif ok:
            study.tell(number, result["objective"])
            lr = study.trials[number].params[LEARNING_RATE]
            state.outcomes.append(Outcome(result["run_id"], lr, result["objective"], number))
        else:
            study.tell(number, state=optuna.trial.TrialState.FAIL)
        state.done += 1
        if state.complete:
            self._select(state)

    # -- a relaunch --------------------------------------------------------------------

    def resume(self) -> None:
        """Pick up where an earlier launch of this sweep stopped, from what the studies and
        the tracking store hold: finished trials and cells count as done and are not handed
        out again; trials and cells that were running or failed are handed out again, and
        continue in their own runs (see ``trial._open_run``)."""
        runs = retrying(
            lambda: self.client.search_runs(
                [self.context.experiment_id],
                filter_string=f"tags.sweep_run_id = '{self.context.sweep_run_id}'",
                max_results=50_000,
            )
        )
        by_key = {run.data.tags.get(TRIAL_KEY_TAG): run for run in runs}
        for state in self.studies.values():
            for trial in self._study(state).trials:
                if trial.state == optuna.trial.TrialState.WAITING:
                    continue  # enqueued, never asked for: ask() hands it out
                learning_rate = trial.params[LEARNING_RATE]
                if trial.state == optuna.trial.TrialState.RUNNING:
                    state.interrupted.append((trial.number, learning_rate))
                    continue
                state.handed_out += 1
                state.done += 1
                run = by_key.get(f"{study_label(state.key)}/{trial.number}")
                if trial.state == optuna.trial.TrialState.COMPLETE and run is not None:
                    state.outcomes.append(Outcome(run.info.run_id, learning_rate, trial.value, trial.number))
            if state.complete:
                self._select(state)
        finished = {
            run.data.tags.get("cell")
            for run in runs
            if run.data.tags.get("phase") == TARGET and run.info.status == "FINISHED"
        }
        self.finished_cells = [cell for cell in self.waiting_cells if cell.key in finished]
        self.waiting_cells = [cell for cell in self.waiting_cells if cell.key not in finished]
        log.info(
            "resuming sweep %s: %d of %d cells done, %d search trials to continue",
            self.context.name,
            len(self.finished_cells),
            len(self.plan.cells),
            sum(len(state.interrupted) for state in self.studies.values()),
        )

    # -- the DAG -----------------------------------------------------------------------

    def dead_end_studies(self) -> list[StudyKey]:
        """Studies whose every trial failed: the cells that need them can never start."""
        return [key for key, state in self.studies.items() if state.complete and state.selected is None]

    def runnable_left(self) -> bool:
        """Whether any search trial or cell is left that could still run."""
        if any(state.handed_out < state.n_trials for state in self.studies.values()):
            return True
        dead = set(self.dead_end_studies())
        return any(all(s.key not in dead for s in self._dependencies(cell)) for cell in self.waiting_cells)

    @property
    def running_cells(self) -> list[Cell]:
        """Cells handed out and not complete: cut off where the Tuner has ended."""
        return [entry for entry in self._in_flight.values() if isinstance(entry, Cell)]

    @property
    def all_handed_out(self) -> bool:
        studies_out = all(s.handed_out == s.n_trials for s in self.studies.values())
        return studies_out and not self.waiting_cells

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
        """Multi-GPU trials are drivers holding one CPU, so Ray would start any number of them
        and their Train workers would then compete for the same nodes. Hand one out only while
        the GPUs of nodes that fit it exceed what multi-GPU trials in flight need; always one,
        so that its pending workers make an autoscaler add a node."""
        need = SCALES[scale].gpus
        if need <= 1 or not ray.is_initialized():
            return True
        in_flight = [e.scale if isinstance(e, Cell) else e[0].key.scale for e in self._in_flight.values()]
        in_use = sum(SCALES[s].gpus for s in in_flight if SCALES[s].gpus > 1)
        fitting = sum(gpus for gpus in self._cluster_node_gpus() if gpus >= need)
        return in_use == 0 or in_use + need <= fitting

    def _next_study_trial(self, trial_id: str) -> TrialSpec | None:
        open_studies = [
            s
            for s in self.studies.values()
            if s.handed_out < s.n_trials
            and (s.interrupted or may_hand_out(s.handed_out, s.done))
            and self._has_room(s.key.scale)
        ]
        if not open_studies:
            return None
        # The largest scale with work left goes first; its studies take turns.
        largest = max(SCALES[s.key.scale].parameters for s in open_studies)
        turn = [s for s in open_studies if SCALES[s.key.scale].parameters == largest]
        state = turn[self._round_robin % len(turn)]
        self._round_robin += 1
        if state.interrupted:
            number, learning_rate = state.interrupted.pop(0)
        else:
            low, high = SCALES[state.key.scale].learning_rate_range
            distribution = optuna.distributions.FloatDistribution(low, high, log=True)
            optuna_trial = self._study(state).ask({LEARNING_RATE: distribution})
            number, learning_rate = optuna_trial.number, optuna_trial.params[LEARNING_RATE]
            self._optuna_trials[trial_id] = optuna_trial
        state.handed_out += 1
        self._in_flight[trial_id] = (state, number)
        return self._study_trial_spec(state.key, number, learning_rate)

    def _dependencies(self, cell: Cell) -> list[StudyState]:
        """The studies whose selection a cell needs: its target's learning rate (where the
        target trains) and its intermediate's checkpoint."""
        target_study = self.studies.get(StudyKey(cell.scale, TARGET_SEARCH, cell.target))
        needed = [target_study] if target_study is not None else []
        if cell.intermediate != NONE:
            needed.append(self.studies[StudyKey(cell.scale, INTERMEDIATE, cell.intermediate)])
        return needed

    def _next_cell(self, trial_id: str) -> TrialSpec | None:
        for cell in list(self.waiting_cells):
            if not self._has_room(cell.scale):
                continue
            needed = self._dependencies(cell)
            if any(s.complete and s.selected is None for s in needed):
                log.warning(
                    "cell %s/%s→%s/s%d blocked: every trial it depends on failed",
                    cell.scale,
                    cell.intermediate,
                    cell.target,
                    cell.seed,
                )
                self.waiting_cells.remove(cell)
                self.blocked_cells.append(cell)
                continue
            if all(s.selected is not None for s in needed):
                self.waiting_cells.remove(cell)
                self._in_flight[trial_id] = cell
                return self._cell_spec(cell)
        return None

    def _select(self, state: StudyState) -> None:
        """Choose the study's best trial on English dev; keep only its checkpoint."""
        if not state.outcomes:
            log.warning("study %s: every trial failed", state.key)
            return
        best = best_outcome_index([(outcome.number, outcome.score) for outcome in state.outcomes])
        state.selected = state.outcomes[best]
        for outcome in state.outcomes:
            chosen = outcome is state.selected
            retrying(lambda o=outcome, c=chosen: self.client.set_tag(o.run_id, "selected", str(c).lower()))
            if state.key.phase == INTERMEDIATE and not chosen:
                self._drop_checkpoint(outcome.run_id)

    def _drop_checkpoint(self, run_id: str) -> None:
        artifact_uri = retrying(lambda: self.client.get_run(run_id)).info.artifact_uri
        try:
            get_artifact_repository(artifact_uri).delete_artifacts("checkpoint")
        except (NotImplementedError, MlflowException):
            log.info("artifact store cannot delete; keeping the checkpoint of run %s", run_id)

    # -- what each trial is told -------------------------------------------------------

    def _common(self, scale: str) -> dict:
        encoder, revision = self.context.encoders[scale]
        return {
            "scale": scale,
            "encoder": encoder,
            "encoder_revision": revision,
            "data": self.plan.spec.data,
            "tracking_uri": self.context.tracking_uri,
            "experiment_id": self.context.experiment_id,
            "placement": placement_of(SCALES[scale], self.context.collective_backend, self.context.driver_resource),
            "storage_path": self.context.storage_path,
            "checkpoint_every_s": self.context.checkpoint_every_s,
        }

    def _tags(self, phase: str, scale: str, **extra: object) -> dict[str, str]:
        tags = {
            "phase": phase,
            SWEEP: self.context.name,
            "sweep_run_id": self.context.sweep_run_id,
            "scale": scale,
            "model": SCALES[scale].model,
            f"{PREFIX}xsweep_commit": self.context.source_commit,
            f"{PREFIX}sampler": self.plan.spec.sampler,
        }
        return tags | {key: str(value) for key, value in extra.items()}

    def _study_trial_spec(self, key: StudyKey, number: int, learning_rate: float) -> TrialSpec:
        """The trial of Optuna trial ``number`` of ``key``'s study (its key, across relaunches)."""
        if key.phase == INTERMEDIATE:
            name = f"{key.scale}/{key.task}/t{number}"
            tags = self._tags(INTERMEDIATE, key.scale, intermediate=key.task, trial=number)
        else:
            name = f"{key.scale}/none→{key.task}/t{number}"
            tags = self._tags(TARGET_SEARCH, key.scale, target=key.task, intermediate=NONE, trial=number)
        return TrialSpec(
            **self._common(key.scale),
            phase=key.phase,
            task=key.task,
            learning_rate=learning_rate,
            seed=0,
            languages=("en",),
            splits=("dev",),
            parent_run_id=self.context.sweep_run_id,
            run_name=name,
            tags=tags,
            params={"study": study_label(key)},
            key=f"{study_label(key)}/{number}",
            translated_data=self.plan.spec.translated_data if key.phase == INTERMEDIATE else None,
            mlm_text=self.plan.spec.mlm_text if key.phase == INTERMEDIATE else None,
        )

    def _cell_spec(self, cell: Cell) -> TrialSpec:
        target_study = self.studies.get(StudyKey(cell.scale, TARGET_SEARCH, cell.target))
        # A target evaluated straight from the encoder trains nothing: no learning rate.
        target_lr = target_study.selected if target_study is not None else None
        params = {"target_learning_rate_from": target_lr.run_id if target_lr else "none: the target does not train"}
        extra: dict[str, object] = {}
        common = self._common(cell.scale)
        parent = self.context.sweep_run_id
        if cell.intermediate != NONE:
            chosen = self.studies[StudyKey(cell.scale, INTERMEDIATE, cell.intermediate)].selected
            assert chosen is not None
            parent = chosen.run_id
            common["encoder"] = f"{RUNS_PREFIX}{chosen.run_id}/checkpoint"
            extra["intermediate_run_id"] = chosen.run_id
            same = get_task(cell.intermediate).train_source == get_task(cell.target).train_source
            extra["same_source"] = str(same).lower()
        return TrialSpec(
            **common,
            phase=TARGET,
            task=cell.target,
            learning_rate=target_lr.learning_rate if target_lr else 0.0,
            seed=cell.seed,
            languages=self.plan.languages[cell.target],
            splits=("dev", "test"),
            parent_run_id=parent,
            run_name=f"{cell.scale}/{cell.intermediate}→{cell.target}/s{cell.seed}",
            tags=self._tags(
                TARGET,
                cell.scale,
                intermediate=cell.intermediate,
                target=cell.target,
                seed=cell.seed,
                cell=cell.key,
                languages=",".join(self.plan.languages[cell.target]),
                **extra,
            ),
            params=params,
            key=cell.key,
            keep_checkpoint=self.context.keep_target_checkpoints,
        )


class PruningStopper(Stopper):
    """Stops the trials the searcher's studies prune, and the whole sweep on a fault that
    every later trial would meet (a full disk). Tune asks its stopper first about each
    result, so the intermediate scores reach Optuna here."""

    def __init__(self, searcher: SweepSearcher) -> None:
        self.searcher = searcher

    def __call__(self, trial_id: str, result: dict) -> bool:
        if EPOCH_SCORE not in result:
            return False
        return self.searcher.should_prune(trial_id, int(result["epoch"]), float(result[EPOCH_SCORE]), result["run_id"])

    def stop_all(self) -> bool:
        return self.searcher.fatal is not None

"""The sweep's Optuna studies: one per (scale, phase, task), seeded by the study and not by the
launch, the recipe's learning rate first; asked for learning rates, told how trials ended, and
read back on a relaunch. The searcher (``sweeper/launch/search.py``) decides when."""

from __future__ import annotations

import optuna

from sweeper.plan.dag import RecordedTrial, StudyState, study_label, trial_key
from sweeper.plan.plan import StudyKey
from sweeper.plan.sampling import STARTUP_TRIALS, make_sampler, study_seed
from sweeper.plan.scales import SCALES

LEARNING_RATE = "learning_rate"
# The Optuna trial's user attribute naming its MLflow run.
MLFLOW_RUN_ID = "mlflow_run_id"


def study_name(sweep: str, sweep_run_id: str, key: StudyKey) -> str:
    """Unique per sweep in a shared storage, and readable in optuna-dashboard."""
    return f"{sweep}/{sweep_run_id[:8]}/{key.scale}/{key.phase}/{key.task}"


def open_study(storage: str, name: str, key: StudyKey, sampler: str) -> optuna.Study:
    """The study of ``key``, created or loaded by ``name``, with the recipe's learning rate
    queued to go first."""
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        direction="maximize",
        # Seeded by the study's scale, phase and task, not by this launch's run id.
        sampler=make_sampler(sampler, study_seed(study_label(key))),
        # A trial whose English dev score after an epoch is below the median of the
        # finished trials' at that epoch stops there.
        pruner=optuna.pruners.MedianPruner(n_startup_trials=STARTUP_TRIALS, n_warmup_steps=0),
        load_if_exists=True,
    )
    study.enqueue_trial({LEARNING_RATE: SCALES[key.scale].learning_rate}, skip_if_exists=True)
    return study


class SweepStudies:
    """The studies of one sweep in their storage, opened on first use. Pickled without live
    handles (Tune pickles its searcher): the studies themselves live in the storage."""

    def __init__(self, storage: str, sampler: str) -> None:
        self.storage = storage
        self.sampler = sampler
        # Study name -> open study, and Optuna's storage handle, opened on first use.
        self._live: dict[str, optuna.Study] = {}
        self._storage: optuna.storages.BaseStorage | None = None
        # The caller's trial id -> the Optuna trial asked for it in this process, for pruning.
        self._asked: dict[str, optuna.Trial] = {}

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_live": {}, "_storage": None, "_asked": {}}

    def study(self, state: StudyState) -> optuna.Study:
        if state.name not in self._live:
            self._live[state.name] = open_study(self.storage, state.name, state.key, self.sampler)
        return self._live[state.name]

    def ask(self, state: StudyState, trial_id: str) -> tuple[int, float]:
        """A new trial of the study: its number and learning rate, on the scale's log range."""
        low, high = SCALES[state.key.scale].learning_rate_range
        distribution = optuna.distributions.FloatDistribution(low, high, log=True)
        trial = self.study(state).ask({LEARNING_RATE: distribution})
        self._asked[trial_id] = trial
        return trial.number, trial.params[LEARNING_RATE]

    def should_prune(self, trial_id: str, epoch: int, score: float) -> bool:
        """Report ``score`` after ``epoch`` to the trial's study; whether its pruner stops it.
        A trial not asked in this process (continued from an earlier launch) runs to its end."""
        trial = self._asked.get(trial_id)
        if trial is None:
            return False
        trial.report(score, epoch)
        return trial.should_prune()

    def forget(self, trial_id: str) -> None:
        """The trial ended: nothing more is reported for it."""
        self._asked.pop(trial_id, None)

    def tell_complete(self, state: StudyState, number: int, score: float) -> float:
        """Tell the study trial ``number`` scored ``score``; returns its learning rate."""
        study = self.study(state)
        study.tell(number, score)
        return study.trials[number].params[LEARNING_RATE]

    def tell_pruned(self, state: StudyState, number: int) -> None:
        # Optuna keeps its last reported score, never a truncated one as complete.
        self.study(state).tell(number, state=optuna.trial.TrialState.PRUNED)

    def tell_failed(self, state: StudyState, number: int) -> None:
        self.study(state).tell(number, state=optuna.trial.TrialState.FAIL)

    def name_run(self, state: StudyState, number: int, run_id: str) -> None:
        """The Optuna trial carries its MLflow run's id (optuna-dashboard shows it); set
        before the trial is told, while Optuna still accepts changes to it."""
        if self._storage is None:
            self._storage = optuna.storages.get_storage(self.storage)
        storage = self._storage
        study_id = storage.get_study_id_from_name(state.name)
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
        storage.set_trial_user_attr(trial_id, MLFLOW_RUN_ID, run_id)

    def recorded(self, state: StudyState, run_of_key: dict[str, str]) -> list[RecordedTrial]:
        """The study's trials as its storage holds them, each with its run (by trial key)."""
        return [
            RecordedTrial(
                number=trial.number,
                state=trial.state.name,
                learning_rate=trial.params.get(LEARNING_RATE),
                score=trial.value,
                run_id=run_of_key.get(trial_key(state.key, trial.number)),
            )
            for trial in self.study(state).trials
        ]

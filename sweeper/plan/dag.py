"""The sweep's decisions as plain data: which trial is ready, what finished, which trial a
study selects, what a relaunch resumes. No Ray, MLflow or Optuna here (``sweeper/launch/search.py``
drives this for Tune and writes the consequences).

A sweep is a DAG of studies and cells. Every study's learning-rate trials may run at once;
a cell (scale, intermediate, target, seed) is ready once the studies it needs have selected:
its target's learning rate (where the target trains) and its intermediate's checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sweeper.plan.plan import INTERMEDIATE, NONE, TARGET_SEARCH, Cell, Plan, StudyKey
from sweeper.plan.sampling import best_outcome_index, may_hand_out
from sweeper.plan.scales import SCALES


def study_label(key: StudyKey) -> str:
    return f"{key.scale}/{key.phase}/{key.task}"


def trial_key(key: StudyKey, number: int) -> str:
    """What identifies a study trial's run across relaunches."""
    return f"{study_label(key)}/{number}"


@dataclass(frozen=True)
class Outcome:
    """A study trial that completed: its run, learning rate and English dev score."""

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

    @property
    def dead_end(self) -> bool:
        """Every trial ended and none completed: nothing to select."""
        return self.complete and self.selected is None

    def may_hand_out(self) -> bool:
        return self.handed_out < self.n_trials and bool(self.interrupted or may_hand_out(self.handed_out, self.done))


@dataclass(frozen=True)
class RecordedTrial:
    """A study trial as the stores hold it after a launch ended (see ``SweepDag.resume``)."""

    number: int
    # Optuna's state name: WAITING (enqueued, never asked), RUNNING, COMPLETE, PRUNED, FAIL.
    state: str
    learning_rate: float | None
    score: float | None = None
    run_id: str | None = None


def largest_first(item: StudyKey | Cell) -> int:
    return -SCALES[item.scale].parameters


# Whether a trial of a scale may be handed out now (the cluster has room for it).
HasRoom = Callable[[str], bool]


class SweepDag:
    """The state of one sweep's studies and cells, and the rules that move it on."""

    def __init__(self, plan: Plan, study_name: Callable[[StudyKey], str]) -> None:
        # Longest chains first: the largest scale's trials go out before smaller scales'.
        self.studies = {
            key: StudyState(key, study_name(key), plan.spec.trials) for key in sorted(plan.studies, key=largest_first)
        }
        self.planned_cells = len(plan.cells)
        self.waiting_cells: list[Cell] = sorted(plan.cells, key=largest_first)
        self.blocked_cells: list[Cell] = []
        self.finished_cells: list[Cell] = []
        self.failed_cells: list[Cell] = []
        # Tune trial id -> (study, trial number), or the cell it runs.
        self.in_flight: dict[str, tuple[StudyState, int] | Cell] = {}
        self._round_robin = 0

    # -- what is ready -----------------------------------------------------------------

    def next_study(self, has_room: HasRoom) -> StudyState | None:
        """The study whose trial goes out next: the largest scale with work left, its
        studies taking turns."""
        ready = [s for s in self.studies.values() if s.may_hand_out() and has_room(s.key.scale)]
        if not ready:
            return None
        largest = max(SCALES[s.key.scale].parameters for s in ready)
        turn = [s for s in ready if SCALES[s.key.scale].parameters == largest]
        state = turn[self._round_robin % len(turn)]
        self._round_robin += 1
        return state

    def hand_out_study_trial(self, trial_id: str, state: StudyState, number: int) -> None:
        state.handed_out += 1
        self.in_flight[trial_id] = (state, number)

    def dependencies(self, cell: Cell) -> list[StudyState]:
        """The studies whose selection a cell needs: its target's learning rate (where the
        target trains) and its intermediate's checkpoint."""
        target_study = self.studies.get(StudyKey(cell.scale, TARGET_SEARCH, cell.target))
        needed = [target_study] if target_study is not None else []
        if cell.intermediate != NONE:
            needed.append(self.studies[StudyKey(cell.scale, INTERMEDIATE, cell.intermediate)])
        return needed

    def next_cell(self, trial_id: str, has_room: HasRoom) -> tuple[Cell | None, list[Cell]]:
        """The first waiting cell whose inputs are selected, handed out as ``trial_id``;
        and the cells found blocked on the way (a study they need has nothing to select)."""
        blocked = []
        for cell in list(self.waiting_cells):
            if not has_room(cell.scale):
                continue
            needed = self.dependencies(cell)
            if any(s.dead_end for s in needed):
                self.waiting_cells.remove(cell)
                self.blocked_cells.append(cell)
                blocked.append(cell)
                continue
            if all(s.selected is not None for s in needed):
                self.waiting_cells.remove(cell)
                self.in_flight[trial_id] = cell
                return cell, blocked
        return None, blocked

    def selected_inputs(self, cell: Cell) -> tuple[Outcome | None, Outcome | None]:
        """A ready cell's target learning-rate trial (None where the target does not train)
        and its intermediate's selected trial (None for the baseline)."""
        target_study = self.studies.get(StudyKey(cell.scale, TARGET_SEARCH, cell.target))
        target = target_study.selected if target_study is not None else None
        if cell.intermediate == NONE:
            return target, None
        return target, self.studies[StudyKey(cell.scale, INTERMEDIATE, cell.intermediate)].selected

    # -- what finished -----------------------------------------------------------------

    def finish_cell(self, trial_id: str, ok: bool) -> None:
        cell = self.in_flight.pop(trial_id)
        (self.finished_cells if ok else self.failed_cells).append(cell)

    def finish_study_trial(self, trial_id: str, outcome: Outcome | None) -> StudyState:
        """A study trial ended: an ``outcome`` where it completed, None where it failed or
        was pruned. Returns its study (selected, where this was its last trial)."""
        state, _ = self.in_flight.pop(trial_id)
        if outcome is not None:
            state.outcomes.append(outcome)
        state.done += 1
        if state.complete:
            select(state)
        return state

    def is_cell(self, trial_id: str) -> bool:
        return isinstance(self.in_flight[trial_id], Cell)

    def abandon(self, trial_id: str) -> None:
        """A trial cut off by a fault that is not its own (a full disk): not counted, so a
        relaunch runs it again."""
        self.in_flight.pop(trial_id)

    # -- where the sweep stands --------------------------------------------------------

    def dead_end_studies(self) -> list[StudyKey]:
        """Studies whose every trial failed: the cells that need them can never start."""
        return [key for key, state in self.studies.items() if state.dead_end]

    def runnable_left(self) -> bool:
        """Whether any search trial or cell is left that could still run."""
        if any(state.handed_out < state.n_trials for state in self.studies.values()):
            return True
        return any(not any(s.dead_end for s in self.dependencies(cell)) for cell in self.waiting_cells)

    @property
    def running_cells(self) -> list[Cell]:
        """Cells handed out and not complete: cut off where the Tuner has ended."""
        return [entry for entry in self.in_flight.values() if isinstance(entry, Cell)]

    @property
    def all_handed_out(self) -> bool:
        studies_out = all(s.handed_out == s.n_trials for s in self.studies.values())
        return studies_out and not self.waiting_cells

    # -- a relaunch --------------------------------------------------------------------

    def resume(self, recorded: dict[StudyKey, Iterable[RecordedTrial]], finished_cells: set[str]) -> None:
        """Pick up where an earlier launch stopped: finished trials and cells count as done
        and are not handed out again; trials that were running are handed out again first,
        at their learning rate (they continue in their own runs)."""
        for key, state in self.studies.items():
            for trial in recorded.get(key, ()):
                if trial.state == "WAITING":
                    continue  # enqueued, never asked for: the study hands it out
                if trial.state == "RUNNING":
                    state.interrupted.append((trial.number, trial.learning_rate))
                    continue
                state.handed_out += 1
                state.done += 1
                if trial.state == "COMPLETE" and trial.run_id is not None:
                    state.outcomes.append(Outcome(trial.run_id, trial.learning_rate, trial.score, trial.number))
            if state.complete:
                select(state)
        self.finished_cells = [cell for cell in self.waiting_cells if cell.key in finished_cells]
        self.waiting_cells = [cell for cell in self.waiting_cells if cell.key not in finished_cells]


def select(state: StudyState) -> Outcome | None:
    """The study's best trial on English dev (ties to the earlier trial), or None where
    every trial failed."""
    best = best_outcome_index([(outcome.number, outcome.score) for outcome in state.outcomes])
    state.selected = None if best is None else state.outcomes[best]
    return state.selected


def multi_gpu_room(need: float, in_flight_need: Iterable[float], node_gpus: Iterable[int]) -> bool:
    """Whether a trial needing ``need`` GPUs on Train workers may go out. Multi-GPU trials
    are drivers holding one CPU, so Ray would start any number of them and their workers
    would then compete for the same nodes: one goes out only while the GPUs of nodes that
    fit it exceed what multi-GPU trials in flight need; always one, so that its pending
    workers make an autoscaler add a node. A trial of one GPU or a share of one (packed)
    reserves it in its own bundle, so Ray holds it back itself: it always may go out, and
    it takes nothing from the multi-GPU trials' count."""
    if need <= 1:
        return True
    in_use = sum(gpus for gpus in in_flight_need if gpus > 1)
    fitting = sum(gpus for gpus in node_gpus if gpus >= need)
    return in_use == 0 or in_use + need <= fitting

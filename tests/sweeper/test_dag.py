"""The sweep's decisions in plain Python: no Ray, MLflow or Optuna behind them."""

from __future__ import annotations

import subprocess
import sys

from sweeper.plan.dag import Outcome, RecordedTrial, SweepDag, multi_gpu_room, select, trial_key
from sweeper.plan.plan import INTERMEDIATE, TARGET_SEARCH, Cell, Plan, StudyKey
from sweeper.plan.spec import NONE, SweepSpec


def _plan(scales: tuple[str, ...] = ("tiny",), trials: int = 2, seeds: int = 1) -> Plan:
    spec = SweepSpec("s", scales, ("mnli",), ("xnli",), None, trials, seeds, "hub")
    studies = tuple(
        key
        for scale in scales
        for key in (StudyKey(scale, INTERMEDIATE, "mnli"), StudyKey(scale, TARGET_SEARCH, "xnli"))
    )
    cells = tuple(
        Cell(scale, intermediate, "xnli", seed, f"{scale}-{intermediate}-{seed}")
        for scale in scales
        for intermediate in (NONE, "mnli")
        for seed in range(seeds)
    )
    return Plan(spec, studies, cells, {"xnli": ("en", "de")}, {})


def _dag(**kwargs: object) -> SweepDag:
    return SweepDag(_plan(**kwargs), lambda key: f"study/{key.scale}/{key.phase}/{key.task}")


def anywhere(scale: str) -> bool:
    return True


def _run_study_trials(dag: SweepDag, scores: dict[str, list[float]]) -> dict[StudyKey, str]:
    """Hand out and finish every study trial with the given scores per phase; returns the
    run id each study should select."""
    handed = []
    while (state := dag.next_study(anywhere)) is not None:
        number = state.handed_out
        trial_id = f"{state.key.phase}/{number}"
        dag.hand_out_study_trial(trial_id, state, number)
        handed.append((trial_id, state, number))
    best = {}
    for trial_id, state, number in handed:
        score = scores[state.key.phase][number]
        dag.finish_study_trial(trial_id, Outcome(f"run-{trial_id}", 1e-5 * (number + 1), score, number))
        if score == max(scores[state.key.phase]):
            best[state.key] = f"run-{trial_id}"
    return best


def test_importing_the_dag_starts_no_service_library() -> None:
    code = "import sys, sweeper.plan.dag; print(sorted(m for m in ('mlflow', 'optuna', 'ray') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_study_trials_go_out_at_once_and_cells_wait_for_their_selections() -> None:
    dag = _dag()
    # Two startup trials per study may run at once; then nothing until they end.
    assert [state.key.phase for state in iter(lambda: _take(dag), None)] == [
        INTERMEDIATE,
        TARGET_SEARCH,
        INTERMEDIATE,
        TARGET_SEARCH,
    ]
    assert dag.next_cell("c0", anywhere) == (None, [])
    assert not dag.all_handed_out


def _take(dag: SweepDag):
    state = dag.next_study(anywhere)
    if state is not None:
        dag.hand_out_study_trial(f"{state.key.phase}/{state.handed_out}", state, state.handed_out)
    return state


def test_a_cell_is_ready_when_the_studies_it_needs_have_selected() -> None:
    dag = _dag()
    best = _run_study_trials(dag, {INTERMEDIATE: [0.5, 0.9], TARGET_SEARCH: [0.7, 0.6]})
    target_study = dag.studies[StudyKey("tiny", TARGET_SEARCH, "xnli")]
    assert target_study.selected.run_id == best[target_study.key]
    ready = []
    while (cell := dag.next_cell(f"c{len(ready)}", anywhere)[0]) is not None:
        ready.append(cell)
    assert {cell.intermediate for cell in ready} == {NONE, "mnli"}
    target_lr, intermediate = dag.selected_inputs(next(c for c in ready if c.intermediate == "mnli"))
    assert target_lr.score == 0.7 and intermediate.score == 0.9
    assert dag.selected_inputs(next(c for c in ready if c.intermediate == NONE))[1] is None
    assert dag.all_handed_out and len(dag.running_cells) == 2
    for index, _ in enumerate(ready):
        dag.finish_cell(f"c{index}", ok=index == 0)
    assert len(dag.finished_cells) == 1 and len(dag.failed_cells) == 1 and not dag.running_cells


def test_a_study_whose_trials_all_failed_blocks_its_cells_only() -> None:
    dag = _dag()
    for _ in range(4):
        _take(dag)
    for trial_id in list(dag.in_flight):
        state, number = dag.in_flight[trial_id]
        ok = state.key.phase == TARGET_SEARCH
        dag.finish_study_trial(trial_id, Outcome("r", 1e-5, 0.5, number) if ok else None)
    assert dag.dead_end_studies() == [StudyKey("tiny", INTERMEDIATE, "mnli")]
    cell, _ = dag.next_cell("c", anywhere)
    assert cell.intermediate == NONE
    nothing, blocked = dag.next_cell("c2", anywhere)
    assert nothing is None and [b.intermediate for b in blocked] == ["mnli"] and dag.blocked_cells == blocked
    dag.finish_cell("c", ok=True)
    assert not dag.runnable_left() and dag.all_handed_out


def test_ties_go_to_the_earlier_trial_and_no_outcome_selects_nothing() -> None:
    dag = _dag()
    state = dag.studies[StudyKey("tiny", INTERMEDIATE, "mnli")]
    state.outcomes = [Outcome("late", 1e-5, 0.8, 3), Outcome("early", 2e-5, 0.8, 1), Outcome("low", 3e-5, 0.1, 0)]
    assert select(state).run_id == "early"
    state.outcomes = []
    assert select(state) is None


def test_the_largest_scale_goes_first_and_its_studies_take_turns() -> None:
    dag = _dag(scales=("tiny", "large"))
    order = [(state.key.scale, state.key.phase) for state in iter(lambda: _take(dag), None)]
    assert order[:4] == [("large", INTERMEDIATE), ("large", TARGET_SEARCH)] * 2
    assert {scale for scale, _ in order[4:]} == {"tiny"}


def test_no_room_for_a_scale_holds_its_trials_back() -> None:
    dag = _dag(scales=("tiny", "large"))
    only_tiny = [state.key.scale for state in iter(lambda: _take_if(dag, lambda s: s == "tiny"), None)]
    assert only_tiny == ["tiny"] * 4


def _take_if(dag: SweepDag, has_room):
    state = dag.next_study(has_room)
    if state is not None:
        dag.hand_out_study_trial(f"{state.key.scale}/{state.key.phase}/{state.handed_out}", state, state.handed_out)
    return state


def test_a_relaunch_counts_what_ended_and_hands_out_what_was_running_first() -> None:
    dag = _dag(seeds=2)
    mnli, xnli = StudyKey("tiny", INTERMEDIATE, "mnli"), StudyKey("tiny", TARGET_SEARCH, "xnli")
    recorded = {
        mnli: [RecordedTrial(0, "COMPLETE", 1e-5, 0.6, "m0"), RecordedTrial(1, "RUNNING", 3e-5)],
        xnli: [
            RecordedTrial(0, "COMPLETE", 1e-5, 0.7, "x0"),
            RecordedTrial(1, "PRUNED", 2e-5, 0.1, "x1"),
            RecordedTrial(2, "WAITING", None),
        ],
    }
    dag.resume(recorded, finished_cells={"tiny-none-0"})
    assert dag.studies[xnli].complete and dag.studies[xnli].selected.run_id == "x0"
    assert dag.studies[mnli].interrupted == [(1, 3e-5)] and not dag.studies[mnli].complete
    assert [cell.key for cell in dag.finished_cells] == ["tiny-none-0"]
    assert "tiny-none-0" not in {cell.key for cell in dag.waiting_cells}
    # The interrupted trial goes out again before anything new.
    state = dag.next_study(anywhere)
    assert state.key == mnli and state.interrupted
    assert trial_key(mnli, 1) == "tiny/intermediate/mnli/1"


def test_a_full_disk_abandons_a_trial_without_counting_it() -> None:
    dag = _dag()
    state = _take(dag)
    (trial_id,) = dag.in_flight
    dag.abandon(trial_id)
    assert state.handed_out == 1 and state.done == 0 and not dag.in_flight


def test_multi_gpu_trials_go_out_while_nodes_that_fit_them_have_room() -> None:
    assert multi_gpu_room(1, [4, 4, 4], [])  # single-GPU trials are Ray's to place
    assert multi_gpu_room(4, [], [])  # always one, so an autoscaler sees the demand
    assert multi_gpu_room(4, [4], [4, 4]) and not multi_gpu_room(4, [4, 4], [4, 4])
    assert not multi_gpu_room(4, [4], [4, 2, 2])  # GPUs on nodes too small do not count

"""The searcher's DAG, driven through Tune's Searcher interface by hand, on real MLflow and Optuna."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient
from ray.tune.schedulers import TrialScheduler
from ray.tune.search import Searcher

from sweeper.launch.search import StudyPruning, SweepSearcher
from sweeper.launch.trial_specs import SweepContext
from sweeper.plan.plan import make_plan
from sweeper.plan.spec import build_spec
from sweeper.trial.trial_spec import TrialSpec


def _searcher(scales: str, demo_data: Path, tmp_path: Path, trials: int = 2) -> SweepSearcher:
    spec = build_spec(
        scales=scales, intermediate="mnli", targets_="xnli", trials=trials, seeds=2, data=str(demo_data), name="s"
    )
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri)
    experiment_id = client.create_experiment("s", artifact_location=(tmp_path / "artifacts").as_uri())
    sweep = client.create_run(experiment_id)
    context = SweepContext(
        name="s",
        experiment_id=experiment_id,
        sweep_run_id=sweep.info.run_id,
        tracking_uri=tracking_uri,
        study_storage=f"sqlite:///{tmp_path / 'optuna.db'}",
        encoders={"tiny": ("runs:/x/pretrained/tiny", "local"), "large": ("FacebookAI/xlm-roberta-large", "main")},
    )
    return SweepSearcher(make_plan(spec), context)


@pytest.fixture
def searcher(demo_data: Path, tmp_path: Path) -> SweepSearcher:
    return _searcher("tiny", demo_data, tmp_path)


def _finish(searcher: SweepSearcher, trial_id: str, spec: TrialSpec, score: float, tmp_path: Path) -> str:
    """What a trial does, minus the training: open a run (with a checkpoint), report a score."""
    client = searcher.client
    run = client.create_run(searcher.context.experiment_id, tags=dict(spec.tags))
    (tmp_path / "ckpt").mkdir(exist_ok=True)
    (tmp_path / "ckpt" / "weights.txt").write_text("w")
    client.log_artifacts(run.info.run_id, str(tmp_path / "ckpt"), "checkpoint")
    searcher.on_trial_complete(trial_id, {"objective": score, "run_id": run.info.run_id})
    return run.info.run_id


def test_trials_follow_the_dag(searcher: SweepSearcher, tmp_path: Path) -> None:
    handed: dict[str, TrialSpec] = {}
    for index in range(4):
        config = searcher.suggest(f"t{index}")
        handed[f"t{index}"] = TrialSpec.from_config(config)
    phases = sorted(spec.phase for spec in handed.values())
    assert phases == ["intermediate", "intermediate", "target_search", "target_search"]
    # The recipe's learning rate goes first in every study.
    firsts = [s for s in handed.values() if s.tags["trial"] == "0"]
    assert all(s.learning_rate == pytest.approx(1e-3) for s in firsts)
    # Nothing else is ready: "not now", not "finished".
    assert searcher.suggest("t4") is None

    scores = {"intermediate": [0.5, 0.9], "target_search": [0.7, 0.6]}
    chosen = {}

    def finish(phase: str) -> None:
        for trial_id, spec in handed.items():
            if spec.phase == phase:
                score = scores[phase][int(spec.tags["trial"])]
                run_id = _finish(searcher, trial_id, spec, score, tmp_path)
                if score == max(scores[phase]):
                    chosen[phase] = (run_id, spec.learning_rate)

    # With the target's learning rate chosen but no intermediate yet, only `none` cells start.
    finish("target_search")
    cells = []
    for index in range(2):
        cells.append(TrialSpec.from_config(searcher.suggest(f"n{index}")))
        assert cells[-1].tags["intermediate"] == "none"
        searcher.on_trial_complete(f"n{index}", {"objective": 0.5, "run_id": "x"})
    assert searcher.suggest("n2") is None

    finish("intermediate")
    while isinstance(config := searcher.suggest(f"c{len(cells)}"), dict):
        cells.append(TrialSpec.from_config(config))
        searcher.on_trial_complete(f"c{len(cells) - 1}", {"objective": 0.5, "run_id": "x"})
    assert searcher.suggest("end") == Searcher.FINISHED

    mnli_cells = [c for c in cells if c.tags["intermediate"] == "mnli"]
    assert len(mnli_cells) == 2 and len(searcher.dag.finished_cells) == 4
    intermediate_run, _ = chosen["intermediate"]
    _, target_lr = chosen["target_search"]
    for cell in mnli_cells:
        assert cell.encoder == f"runs:/{intermediate_run}/checkpoint"
        assert cell.tags["intermediate_run_id"] == intermediate_run
        assert cell.learning_rate == target_lr
        assert cell.splits == ("dev", "test") and "ru" in cell.languages

    client = searcher.client
    selected = client.search_runs([searcher.context.experiment_id], "tags.selected = 'true'")
    assert {r.info.run_id for r in selected} == {chosen["intermediate"][0], chosen["target_search"][0]}
    # Only the selected intermediate keeps its checkpoint.
    for run in client.search_runs([searcher.context.experiment_id], "tags.phase = 'intermediate'"):
        has_checkpoint = bool(client.list_artifacts(run.info.run_id, "checkpoint"))
        assert has_checkpoint == (run.info.run_id == intermediate_run)

    study = optuna.load_study(
        study_name=searcher.dag.studies[next(iter(searcher.dag.studies))].name, storage=searcher.context.study_storage
    )
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2


def test_cells_behind_a_study_whose_trials_all_failed_are_blocked(searcher: SweepSearcher) -> None:
    handed = {f"t{i}": TrialSpec.from_config(searcher.suggest(f"t{i}")) for i in range(4)}
    for trial_id, spec in handed.items():
        if spec.phase == "intermediate":
            searcher.on_trial_complete(trial_id, None, error=True)
        else:
            run = searcher.client.create_run(searcher.context.experiment_id)
            searcher.on_trial_complete(trial_id, {"objective": 0.5, "run_id": run.info.run_id})
    while isinstance(config := searcher.suggest("c"), dict):
        assert TrialSpec.from_config(config).tags["intermediate"] == "none"
        searcher.on_trial_complete("c", {"objective": 0.5, "run_id": "x"})
    assert searcher.suggest("end") == Searcher.FINISHED
    assert len(searcher.dag.blocked_cells) == 2 and len(searcher.dag.finished_cells) == 2


def test_searcher_pickles_without_live_handles(searcher: SweepSearcher, tmp_path: Path) -> None:
    searcher.suggest("t0")
    assert searcher.optuna_studies._live
    path = tmp_path / "searcher.pkl"
    searcher.save(str(path))
    restored = SweepSearcher.__new__(SweepSearcher)
    restored.restore(str(path))
    assert (
        restored._client is None
        and restored.optuna_studies._live == {}
        and restored.dag.studies.keys() == searcher.dag.studies.keys()
    )


def test_the_largest_scale_goes_first(demo_data: Path, tmp_path: Path) -> None:
    searcher = _searcher("tiny,large", demo_data, tmp_path)
    scales = [TrialSpec.from_config(searcher.suggest(f"t{i}")).scale for i in range(8)]
    assert scales == ["large"] * 4 + ["tiny"] * 4


def test_a_trial_below_the_median_after_an_epoch_is_pruned_and_told_so(demo_data: Path, tmp_path: Path) -> None:
    searcher = _searcher("tiny", demo_data, tmp_path, trials=4)
    pruning = StudyPruning(searcher)
    client = searcher.client
    runs: dict[str, str] = {}

    def run(trial_id: str, spec: TrialSpec, epoch_score: float) -> None:
        runs[trial_id] = client.create_run(searcher.context.experiment_id, tags=dict(spec.tags)).info.run_id
        epoch_result = {"objective": epoch_score, "epoch_score": epoch_score, "epoch": 1, "run_id": runs[trial_id]}
        if pruning.decision(trial_id, epoch_result) == TrialScheduler.STOP:
            searcher.on_trial_complete(trial_id, epoch_result)  # what Tune does with a stopped trial
        else:
            searcher.on_trial_complete(trial_id, {"objective": epoch_score + 0.05, "run_id": runs[trial_id]})

    handed = [(f"t{index}", TrialSpec.from_config(searcher.suggest(f"t{index}"))) for index in range(4)]
    # Two startup trials per study; a later one waits until every earlier trial of its study ended.
    assert searcher.suggest("t4") is None
    mnli = [(trial_id, spec) for trial_id, spec in handed if spec.task == "mnli"]
    for (trial_id, spec), epoch_score in zip(mnli, (0.6, 0.7), strict=True):
        run(trial_id, spec, epoch_score)
    for trial_id, epoch_score in (("t5", 0.3), ("t6", 0.9)):
        spec = TrialSpec.from_config(searcher.suggest(trial_id))
        assert spec.task == "mnli"
        mnli.append((trial_id, spec))
        run(trial_id, spec, epoch_score)
    # The pruner judges once two trials finished: the third is below their median at epoch 1.
    state = next(state for key, state in searcher.dag.studies.items() if key.task == "mnli")
    trials = optuna.load_study(study_name=state.name, storage=searcher.context.study_storage).trials
    assert [trial.state.name for trial in trials] == ["COMPLETE", "COMPLETE", "PRUNED", "COMPLETE"]
    assert trials[2].intermediate_values == {1: 0.3}  # its last reported score, as PRUNED
    pruned = client.get_run(runs[mnli[2][0]])
    assert pruned.info.status == "KILLED" and pruned.data.tags["pruned"] == "true"
    # A pruned trial is done, not an outcome: the study selects among the complete ones.
    assert state.complete and [outcome.score for outcome in state.outcomes] == pytest.approx([0.65, 0.75, 0.95])
    assert state.selected is not None and state.selected.run_id == runs[mnli[3][0]]

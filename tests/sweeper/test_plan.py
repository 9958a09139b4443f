from pathlib import Path

import pytest

from sweeper.plan.plan import make_plan
from sweeper.plan.spec import SpecError, build_spec
from tasks.demo import write_demo_data


def _spec(data: Path, **overrides):
    args = {"scales": "tiny", "intermediate": "mnli,qqp", "targets_": "xnli,pawsx", "trials": 2, "seeds": 2}
    return build_spec(**{**args, **overrides, "data": str(data)})


def test_plan_counts_studies_and_cells(demo_data: Path) -> None:
    plan = make_plan(_spec(demo_data))
    assert len(plan.studies) == 4  # 2 intermediate studies + 2 target-search studies
    assert len(plan.cells) == 3 * 2 * 2  # (none, mnli, qqp) × 2 targets × 2 seeds
    assert plan.total_trials == 4 * 2 + 12
    assert len({cell.key for cell in plan.cells}) == 12


def test_missing_languages_are_skipped_and_named(demo_data: Path, caplog: pytest.LogCaptureFixture) -> None:
    plan = make_plan(_spec(demo_data))
    assert plan.languages["xnli"] == ("de", "en", "es", "fr", "ru")
    assert "zh" in plan.skipped_languages["xnli"]
    assert sum("xnli: no data for" in record.message for record in caplog.records) == 1


def test_languages_narrow_evaluation_but_english_stays(demo_data: Path) -> None:
    plan = make_plan(_spec(demo_data, languages="de,fr"))
    assert plan.languages == {"xnli": ("de", "en", "fr"), "pawsx": ("de", "en", "fr")}
    assert plan.skipped_languages == {"xnli": (), "pawsx": ()}


def test_cell_keys_are_deterministic_and_follow_the_data(demo_data: Path, tmp_path: Path) -> None:
    keys = [cell.key for cell in make_plan(_spec(demo_data)).cells]
    assert keys == [cell.key for cell in make_plan(_spec(demo_data)).cells]
    other = write_demo_data(tmp_path / "other", seed=7)
    assert not set(keys) & {cell.key for cell in make_plan(_spec(other)).cells}
    # More seeds add cells but leave the existing ones' keys alone.
    assert set(keys) < {cell.key for cell in make_plan(_spec(demo_data, seeds=3)).cells}


def test_a_target_without_english_data_is_refused(tmp_path: Path) -> None:
    data = write_demo_data(tmp_path / "data")
    (data / "pawsx" / "en" / "train.jsonl").unlink()
    with pytest.raises(SpecError, match="pawsx needs its English training"):
        make_plan(_spec(data))

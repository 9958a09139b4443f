"""The tag contract: what RunTags writes, MLflow stores as strings, and parse reads back."""

from __future__ import annotations

import pytest

from sweeper.record.tags import RunTags, tag_filter


def test_a_cell_run_s_tags_round_trip_through_strings() -> None:
    tags = RunTags(
        phase="target",
        sweep="demo",
        sweep_run_id="abc",
        scale="tiny",
        intermediate="mnli",
        target="xnli",
        seed=2,
        cell="k",
        languages=("en", "de"),
        same_source=True,
        provenance={"provenance/torch": "2.13.0"},
    )
    spelled = tags.as_mlflow()
    assert spelled["seed"] == "2" and spelled["languages"] == "en,de" and spelled["same_source"] == "true"
    assert spelled["provenance/torch"] == "2.13.0"
    assert all(isinstance(value, str) for value in spelled.values())
    assert RunTags.parse({**spelled, "mlflow.runName": "x"}) == tags


def test_unset_fields_are_not_written_so_an_update_touches_only_its_own_tags() -> None:
    assert RunTags(selected=False).as_mlflow() == {"selected": "false"}
    assert RunTags(pruned=True).as_mlflow() == {"pruned": "true"}
    assert RunTags().as_mlflow() == {}


def test_a_provenance_tag_outside_its_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="not under 'provenance/'"):
        RunTags(provenance={"torch": "2"}).as_mlflow()


def test_filters_spell_values_as_the_tags_store_them() -> None:
    assert tag_filter(phase="target", sweep_run_id="abc") == "tags.phase = 'target' and tags.sweep_run_id = 'abc'"
    assert tag_filter(seed=0) == "tags.seed = '0'"

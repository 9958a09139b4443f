"""The answer's arithmetic on hand-made scores, against values computed by hand."""

import math

import numpy as np
import pytest

from sweeper.plan.scales import SCALES
from sweeper.results.analysis import (
    Score,
    TargetRun,
    answer_points,
    bootstrap_mean,
    deltas,
    headline,
    language_average,
    negative_transfer_rate,
    scale_slope,
)


def _scores(scale: str, intermediate: str, values: dict[str, list[float]]) -> list[Score]:
    return [
        Score(scale, intermediate, "xnli", lang, seed, "test", value)
        for lang, by_seed in values.items()
        for seed, value in enumerate(by_seed)
    ]


def test_deltas_pair_by_seed_and_skip_the_baseline() -> None:
    scores = _scores("base", "none", {"en": [0.80, 0.82], "de": [0.70, 0.60]})
    scores += _scores("base", "mnli", {"en": [0.85, 0.83], "de": [0.65, 0.66]})
    found = {(d.intermediate, d.language): d for d in deltas(scores)}
    assert set(found) == {("mnli", "en"), ("mnli", "de")}
    de = found[("mnli", "de")]
    assert de.by_seed == pytest.approx((-0.05, 0.06)) and de.mean == pytest.approx(0.005) and de.seeds == 2
    assert -0.05 - 1e-12 <= de.low <= de.mean <= de.high <= 0.06 + 1e-12


def test_the_bootstrap_is_fixed_by_its_generator_seed_and_collapses_on_equal_values() -> None:
    first = bootstrap_mean([0.1, 0.3, 0.2], np.random.default_rng(0))
    again = bootstrap_mean([0.1, 0.3, 0.2], np.random.default_rng(0))
    assert first == again and first.mean == pytest.approx(0.2)
    flat = bootstrap_mean([0.4, 0.4, 0.4], np.random.default_rng(1))
    assert flat.low == flat.high == pytest.approx(0.4)


def test_negative_transfer_rate_and_slope_by_hand() -> None:
    # base: de −2, fr +1 (en ignored); large: de −1, fr +2 → rates 1/2 and 1/2.
    scores = []
    for scale, (de, fr) in {"base": (-0.02, 0.01), "large": (-0.01, 0.02)}.items():
        scores += _scores(scale, "none", {"en": [0.5], "de": [0.5], "fr": [0.5]})
        scores += _scores(scale, "qqp", {"en": [0.9], "de": [0.5 + de], "fr": [0.5 + fr]})
    cells = deltas(scores)
    assert negative_transfer_rate(cells) == {"base": 0.5, "large": 0.5}
    # Non-English means: base −0.005, large +0.005; slope over log10 parameters, by hand.
    x = [math.log10(SCALES[s].parameters) for s in ("base", "large")]
    assert scale_slope(cells) == pytest.approx(0.01 / (x[1] - x[0]))
    assert scale_slope([c for c in cells if c.scale == "base"]) is None
    base_non_en = [c for c in cells if c.scale == "base" and c.language != "en"]
    average = language_average(base_non_en, np.random.default_rng(0))
    assert average.mean == pytest.approx(-0.005) and -0.02 - 1e-12 <= average.low <= average.high <= 0.01 + 1e-12


def _target_run(intermediate: str, target: str, seed: int, non_en: float, split: str = "test") -> TargetRun:
    metric = "f1" if target == "xquad" else "accuracy"
    metrics = {f"{split}/{metric}/avg": non_en, f"{split}/{metric}/avg_non_en": non_en, "dev/accuracy/en": 0.9}
    return TargetRun(f"{intermediate}-{target}-{seed}", "base", intermediate, target, seed, metrics, metric)


def test_the_headline_averages_within_each_target_first_then_across_targets() -> None:
    """XNLI Δ −0.10 and −0.20 over two seeds, XQuAD (dev only) +0.05 and +0.15: the headline is
    the mean of −0.15 and +0.10, not of the four runs' Δ pooled with XNLI's many languages."""
    runs = [
        _target_run("none", "xnli", 0, 0.60),
        _target_run("none", "xnli", 1, 0.70),
        _target_run("mnli", "xnli", 0, 0.50),
        _target_run("mnli", "xnli", 1, 0.50),
        _target_run("none", "xquad", 0, 0.40, "dev"),
        _target_run("none", "xquad", 1, 0.30, "dev"),
        _target_run("mnli", "xquad", 0, 0.45, "dev"),
        _target_run("mnli", "xquad", 1, 0.45, "dev"),
    ]
    points = answer_points(runs)
    assert points["none-xnli-0"] == {"answer/non_en": 0.6}
    assert points["mnli-xnli-1"] == {"answer/non_en": 0.5, "answer/delta_non_en": -0.2}
    assert points["mnli-xquad-1"]["answer/delta_non_en"] == 0.15  # rounded: no 0.15000000000000002
    (row,) = headline(runs)
    assert (row.scale, row.intermediate, row.targets, row.seeds) == ("base", "mnli", ("xnli", "xquad"), 2)
    assert row.mean == pytest.approx(((-0.1 - 0.2) / 2 + (0.05 + 0.15) / 2) / 2)
    # The MLflow UI's mean over the runs grouped by (scale, intermediate) is the same number
    # where every target has the same seeds.
    by_run = [points[r.run_id]["answer/delta_non_en"] for r in runs if r.intermediate == "mnli"]
    assert row.mean == pytest.approx(sum(by_run) / len(by_run))
    # Resampling seeds within each target: the extremes are all-worst and all-best seeds.
    assert (-0.2 + 0.05) / 2 - 1e-12 <= row.low <= row.mean <= row.high <= (-0.1 + 0.15) / 2 + 1e-12


def test_a_run_without_its_baseline_carries_its_score_but_no_delta() -> None:
    runs = [_target_run("mnli", "xnli", 0, 0.5), _target_run("none", "xnli", 1, 0.6)]
    assert answer_points(runs) == {"mnli-xnli-0": {"answer/non_en": 0.5}, "none-xnli-1": {"answer/non_en": 0.6}}
    assert headline(runs) == []

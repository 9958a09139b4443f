"""The answer's arithmetic on hand-made scores, against values computed by hand."""

import math

import numpy as np
import pytest

from sweeper.plan.scales import SCALES
from sweeper.results.analysis import (
    Score,
    bootstrap_mean,
    deltas,
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

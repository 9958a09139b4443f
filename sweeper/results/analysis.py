"""The answer's arithmetic: Δ per (scale, intermediate, target, language), paired by seed,
with percentile-bootstrap intervals, and the summaries across languages and scales.

Pure functions over ``Score`` rows (one target run's score in one language), so that every
number in a report can be recomputed by hand from the runs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sweeper.plan.scales import SCALES
from sweeper.plan.spec import NONE

RESAMPLES = 1000
LEVEL = 0.95
GENERATOR_SEED = 0


@dataclass(frozen=True)
class Score:
    scale: str
    intermediate: str
    target: str
    language: str
    seed: int
    split: str
    value: float


@dataclass(frozen=True)
class TargetRun:
    """A finished target run as the Δ it carries is decided: its cell and its metrics."""

    run_id: str
    scale: str
    intermediate: str
    target: str
    seed: int
    metrics: Mapping[str, float]


DELTA_PREFIX = "delta/"
SCORED_SPLITS = ("dev", "test")


def paired_deltas(metrics: Mapping[str, float], baseline: Mapping[str, float]) -> dict[str, float]:
    """``delta/<split>/<metric>/<lang>`` (averages too) for every score both runs have: the
    run's minus its paired baseline's, so the UI can chart Δ per run."""
    found = {}
    for key, value in metrics.items():
        parts = key.split("/")
        if len(parts) == 3 and parts[0] in SCORED_SPLITS and key in baseline:
            found[DELTA_PREFIX + key] = value - baseline[key]
    return found


def deltas_to_write(runs: Iterable[TargetRun]) -> dict[str, dict[str, float]]:
    """Per run with an intermediate whose paired ``none`` run (same scale, target and seed) is
    among ``runs``: the Δ points it lacks. Whichever of the two finishes second gets them
    written; a point a run holds already is never written again (a relaunch adds none)."""
    runs = list(runs)
    baselines = {(r.scale, r.target, r.seed): r for r in runs if r.intermediate == NONE}
    missing = {}
    for run in runs:
        baseline = baselines.get((run.scale, run.target, run.seed))
        if run.intermediate == NONE or baseline is None:
            continue
        lacking = {k: v for k, v in paired_deltas(run.metrics, baseline.metrics).items() if k not in run.metrics}
        if lacking:
            missing[run.run_id] = lacking
    return missing


@dataclass(frozen=True)
class Delta:
    """Mean over seeds of (score with the intermediate − score with ``none``), same seed."""

    scale: str
    intermediate: str
    target: str
    language: str
    split: str
    mean: float
    low: float
    high: float
    seeds: int
    by_seed: tuple[float, ...]


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float


def _percentiles(samples: np.ndarray) -> tuple[float, float]:
    tail = 100 * (1 - LEVEL) / 2
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_mean(values: Sequence[float], rng: np.random.Generator) -> Interval:
    """The mean and its 95 % percentile-bootstrap interval (resampling ``values``)."""
    data = np.asarray(values, dtype=float)
    samples = rng.choice(data, size=(RESAMPLES, len(data)), replace=True).mean(axis=1)
    return Interval(float(data.mean()), *_percentiles(samples))


def deltas(scores: Iterable[Score]) -> list[Delta]:
    """Δ for every (scale, intermediate ≠ none, target, language) with a baseline on the same
    seeds; one generator (fixed seed) draws every interval, in a fixed order."""
    table: dict[tuple[str, str, str, str, str], dict[int, float]] = defaultdict(dict)
    for score in scores:
        key = (score.scale, score.intermediate, score.target, score.language, score.split)
        table[key][score.seed] = score.value
    rng = np.random.default_rng(GENERATOR_SEED)
    found = []
    for key in sorted(table, key=lambda k: (list(SCALES).index(k[0]), *k[1:])):
        scale, intermediate, target, language, split = key
        baseline = table.get((scale, NONE, target, language, split))
        if intermediate == NONE or not baseline:
            continue
        seeds = sorted(set(table[key]) & set(baseline))
        if not seeds:
            continue
        by_seed = tuple(table[key][seed] - baseline[seed] for seed in seeds)
        interval = bootstrap_mean(by_seed, rng)
        found.append(
            Delta(scale, intermediate, target, language, split, interval.mean, interval.low, interval.high,
                  len(seeds), by_seed)
        )  # fmt: skip
    return found


def language_average(cells: Sequence[Delta], rng: np.random.Generator) -> Interval:
    """Mean Δ over languages (and seeds), with a two-level bootstrap: languages resampled,
    then each drawn language's seeds resampled."""
    per_language = [np.asarray(cell.by_seed) for cell in cells]
    means = np.empty(RESAMPLES)
    for i in range(RESAMPLES):
        drawn = rng.integers(0, len(per_language), size=len(per_language))
        means[i] = np.mean([rng.choice(per_language[j], size=len(per_language[j])).mean() for j in drawn])
    point = float(np.mean([seeds.mean() for seeds in per_language]))
    return Interval(point, *_percentiles(means))


def negative_transfer_rate(cells: Sequence[Delta]) -> dict[str, float]:
    """Per scale, the share of (intermediate, target, non-English language) cells whose mean Δ
    is below zero."""
    by_scale: dict[str, list[bool]] = defaultdict(list)
    for cell in cells:
        if cell.language != "en":
            by_scale[cell.scale].append(cell.mean < 0)
    return {scale: sum(flags) / len(flags) for scale, flags in by_scale.items()}


def scale_slope(cells: Sequence[Delta]) -> float | None:
    """Least-squares slope of non-English Δ (per cell) against log10(parameters): how much Δ
    changes per tenfold model size. None with fewer than two scales."""
    points = [(math.log10(SCALES[c.scale].parameters), c.mean) for c in cells if c.language != "en"]
    if len({x for x, _ in points}) < 2:
        return None
    slope, _ = np.polyfit([x for x, _ in points], [y for _, y in points], 1)
    return float(slope)

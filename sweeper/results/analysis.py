"""The answer's arithmetic: Δ per (scale, intermediate, target, language), paired by seed,
with percentile-bootstrap intervals, and the summaries across languages and scales.

The headline is one number per (scale, intermediate): each target run's non-English average
minus its paired baseline's (``answer/delta_non_en``, written on the run itself), averaged over
seeds within each target, then across targets, as XTREME aggregates; its interval resamples
seeds. Pooling languages across targets instead (``language_average``) is the secondary view.

Pure functions over ``Score`` rows (one target run's score in one language) and ``TargetRun``s,
so that every number in a report can be recomputed by hand from the runs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sweeper.plan.scales import SCALES
from sweeper.plan.spec import NONE
from sweeper.record.answer_view import ANSWER_DELTA, ANSWER_NON_EN

RESAMPLES = 1000
LEVEL = 0.95
GENERATOR_SEED = 0
# Digits the answer's points keep: a difference of averages carries binary noise in its last
# digits (0.8775000000000001), which the UI would show; twelve keep every real digit of a score.
ANSWER_DIGITS = 12


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
    """A finished target run as the Δ it carries is decided: its cell, its metrics, and the
    name of its target's metric (``accuracy``, ``f1``, ...)."""

    run_id: str
    scale: str
    intermediate: str
    target: str
    seed: int
    metrics: Mapping[str, float]
    target_metric: str


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


def reported_split(target_metric: str, runs_metrics: Iterable[Mapping[str, float]]) -> str:
    """The split a target's numbers come from: test where every run has test labels."""
    key = f"test/{target_metric}/avg"
    return "test" if all(key in metrics for metrics in runs_metrics) else "dev"


def answer_points(runs: Iterable[TargetRun]) -> dict[str, dict[str, float]]:
    """Per run: ``answer/non_en``, its non-English average on its target's reported split
    (over ``runs``), and, where its paired ``none`` run (same scale, target and seed) is among
    ``runs``, ``answer/delta_non_en``, the one minus the other."""
    runs = list(runs)
    splits = {
        target: reported_split(runs_of[0].target_metric, [r.metrics for r in runs_of])
        for target, runs_of in _by_target(runs).items()
    }
    baselines = {(r.scale, r.target, r.seed): r for r in runs if r.intermediate == NONE}
    points: dict[str, dict[str, float]] = {}
    for run in runs:
        key = f"{splits[run.target]}/{run.target_metric}/avg_non_en"
        if key not in run.metrics:
            continue  # a target evaluated in English alone
        points[run.run_id] = {ANSWER_NON_EN: round(run.metrics[key], ANSWER_DIGITS)}
        baseline = baselines.get((run.scale, run.target, run.seed))
        if run.intermediate != NONE and baseline is not None and key in baseline.metrics:
            points[run.run_id][ANSWER_DELTA] = round(run.metrics[key] - baseline.metrics[key], ANSWER_DIGITS)
    return points


def _by_target(runs: Iterable[TargetRun]) -> dict[str, list[TargetRun]]:
    grouped: dict[str, list[TargetRun]] = defaultdict(list)
    for run in runs:
        grouped[run.target].append(run)
    return grouped


def deltas_to_write(runs: Iterable[TargetRun]) -> dict[str, dict[str, float]]:
    """Per run: the answer's points (``answer_points``) and, where its paired ``none`` run (same
    scale, target and seed) is among ``runs``, the Δ points, that it lacks. Whichever of the two
    finishes second gets them written; a point a run holds already is never written again (a
    relaunch adds none)."""
    runs = list(runs)
    baselines = {(r.scale, r.target, r.seed): r for r in runs if r.intermediate == NONE}
    answers = answer_points(runs)
    missing = {}
    for run in runs:
        found = dict(answers.get(run.run_id, {}))
        baseline = baselines.get((run.scale, run.target, run.seed))
        if run.intermediate != NONE and baseline is not None:
            found.update(paired_deltas(run.metrics, baseline.metrics))
        lacking = {k: v for k, v in found.items() if k not in run.metrics}
        if lacking:
            missing[run.run_id] = lacking
    return missing


@dataclass(frozen=True)
class Headline:
    """The answer for one (scale, intermediate): non-English Δ averaged over seeds within each
    target, then across targets, with a 95 % bootstrap interval (seeds resampled per target)."""

    scale: str
    intermediate: str
    mean: float
    low: float
    high: float
    targets: tuple[str, ...]
    seeds: int


def headline(runs: Iterable[TargetRun]) -> list[Headline]:
    """The headline per (scale, intermediate ≠ none), from the runs' ``answer/delta_non_en``
    (``answer_points``): what the MLflow UI's mean over the runs grouped by scale and
    intermediate shows, wherever every target has the same seeds."""
    runs = list(runs)
    points = answer_points(runs)
    # (scale, intermediate) -> target -> per-seed Δ
    grouped: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for run in sorted(runs, key=lambda r: r.seed):
        delta = points.get(run.run_id, {}).get(ANSWER_DELTA)
        if delta is not None:
            grouped[(run.scale, run.intermediate)][run.target].append(delta)
    rng = np.random.default_rng(GENERATOR_SEED)
    found = []
    for scale, intermediate in sorted(grouped, key=lambda k: (list(SCALES).index(k[0]), k[1])):
        by_target = {target: np.asarray(values) for target, values in sorted(grouped[(scale, intermediate)].items())}
        point = float(np.mean([values.mean() for values in by_target.values()]))
        samples = np.mean(
            [rng.choice(values, size=(RESAMPLES, len(values))).mean(axis=1) for values in by_target.values()], axis=0
        )
        seeds = max(len(values) for values in by_target.values())
        found.append(Headline(scale, intermediate, point, *_percentiles(samples), tuple(by_target), seeds))
    return found


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

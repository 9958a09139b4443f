"""`xsweep report`: from a sweep's MLflow runs to the table that answers the question.

The headline: per (scale, intermediate), non-English Δ against the `none` baseline, paired by
seed, averaged within each target first, then across targets (``sweeper.results.analysis``),
from the very ``answer/delta_non_en`` values the target runs carry. Per (scale, intermediate,
target): the English score, the non-English and all-language averages, and their Δ. Per
language, the Δ with its bootstrap interval; per scale, Δ pooled over every target's languages.
Written as report.md, report.csv and two plots.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from statistics import mean

import numpy as np
from mlflow.entities import Run
from mlflow.tracking import MlflowClient
from rich.console import Console
from rich.table import Table

from sweeper.plan.scales import SCALES
from sweeper.plan.spec import NONE
from sweeper.record.tags import RunTags
from sweeper.record.tracking import TrackedRun, metric_key
from sweeper.results.analysis import (
    GENERATOR_SEED,
    RESAMPLES,
    Delta,
    Headline,
    Interval,
    Score,
    deltas,
    headline,
    language_average,
    negative_transfer_rate,
    reported_split,
    scale_slope,
)
from sweeper.results.runs import as_target_run, latest_sweep_run, target_runs, write_deltas
from tasks import get_task


@dataclass(frozen=True)
class ReportRow:
    scale: str
    intermediate: str
    target: str
    split: str
    metric: str
    seeds: int
    english: float | None  # None: the target has no English (XCOPA, Tatoeba, BUCC)
    non_english: float | None
    all_languages: float
    delta_english: float | None
    delta_non_english: float | None
    same_source: bool


@dataclass(frozen=True)
class Report:
    name: str
    experiment_id: str
    sweep_run_id: str
    sweep_status: str
    rows: list[ReportRow]
    languages: dict[str, str]
    scores: list[Score]
    # The answer, per (scale, intermediate): see ``sweeper.results.analysis.headline``.
    headline: list[Headline]

    @property
    def scales(self) -> list[str]:
        """The scales with target runs, smallest first."""
        return [scale for scale in SCALES if any(row.scale == scale for row in self.rows)]

    @cached_property
    def deltas(self) -> list[Delta]:
        """Computed once: the bootstrap is the report's only costly step."""
        return deltas(self.scores)


def _paired_delta(scores: dict[int, float], baseline: dict[int, float]) -> float | None:
    seeds = sorted(set(scores) & set(baseline))
    return mean(scores[s] - baseline[s] for s in seeds) if seeds else None


def reported_splits(runs: list[Run]) -> dict[str, str]:
    """Per target, the split its numbers come from (``analysis.reported_split``)."""
    by_target: dict[str, list[dict[str, float]]] = defaultdict(list)
    for run in runs:
        by_target[RunTags.parse(run.data.tags).target].append(run.data.metrics)
    return {target: reported_split(get_task(target).metric, metrics) for target, metrics in by_target.items()}


def scores_of(runs: list[Run]) -> list[Score]:
    """Every (run, language) score on its target's reported split."""
    splits = reported_splits(runs)
    found = []
    for run in runs:
        tags = RunTags.parse(run.data.tags)
        split, metric = splits[tags.target], get_task(tags.target).metric
        prefix = f"{split}/{metric}/"
        for key, value in run.data.metrics.items():
            language = key.removeprefix(prefix)
            if key.startswith(prefix) and not language.startswith("avg"):
                found.append(Score(tags.scale, tags.intermediate, tags.target, language, tags.seed, split, value))
    return found


def summarize(runs: list[Run]) -> list[ReportRow]:
    # (scale, intermediate, target) -> seed -> run metrics
    groups: dict[tuple[str, str, str], dict[int, dict[str, float]]] = defaultdict(dict)
    for run in runs:
        tags = RunTags.parse(run.data.tags)
        groups[(tags.scale, tags.intermediate, tags.target)][tags.seed] = run.data.metrics
    splits = reported_splits(runs)

    def scores(by_seed: dict[int, dict[str, float]], key: str) -> dict[int, float]:
        return {seed: metrics[key] for seed, metrics in by_seed.items() if key in metrics}

    rows = []
    order = sorted(groups, key=lambda k: (list(SCALES).index(k[0]), k[2], k[1] != NONE, k[1]))
    for scale, intermediate, target in order:
        task = get_task(target)
        split = splits[target]
        by_seed = groups[(scale, intermediate, target)]
        baseline = groups.get((scale, NONE, target), {})
        keys = {part: metric_key(split, task.metric, part) for part in ("en", "avg_non_en", "avg")}
        english = scores(by_seed, keys["en"])
        non_english = scores(by_seed, keys["avg_non_en"])
        has_baseline = intermediate != NONE
        rows.append(
            ReportRow(
                scale=scale,
                intermediate=intermediate,
                target=target,
                split=split,
                metric=task.metric,
                seeds=len(by_seed),
                english=mean(english.values()) if english else None,
                non_english=mean(non_english.values()) if non_english else None,
                all_languages=mean(scores(by_seed, keys["avg"]).values()),
                delta_english=_paired_delta(english, scores(baseline, keys["en"])) if has_baseline else None,
                delta_non_english=_paired_delta(non_english, scores(baseline, keys["avg_non_en"]))
                if has_baseline
                else None,
                same_source=has_baseline and get_task(intermediate).train_source == task.train_source,
            )
        )
    return rows


def build_report(client: MlflowClient, name: str) -> Report:
    experiment_id, sweep = latest_sweep_run(client, name)
    runs = target_runs(client, experiment_id, sweep.info.run_id)
    languages = {
        key.removeprefix("languages/"): value
        for key, value in sweep.data.params.items()
        if key.startswith("languages/")
    }
    return Report(
        name, experiment_id, sweep.info.run_id, sweep.info.status, summarize(runs), languages, scores_of(runs),
        headline([as_target_run(run) for run in runs]),
    )  # fmt: skip


def _number(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{100 * value:+.1f}" if signed else f"{100 * value:.1f}"


def print_report(report: Report, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=f"sweep {report.name} ({report.sweep_status.lower()}): scores ×100, Δ vs none paired by seed")
    for header in (
        "scale",
        "intermediate",
        "target",
        "split",
        "metric",
        "seeds",
        "en",
        "non-en",
        "all",
        "Δ en",
        "Δ non-en",
    ):
        numeric = header in ("seeds", "en", "non-en", "all", "Δ en", "Δ non-en")
        table.add_column(header, justify="right" if numeric else "left")
    for row in report.rows:
        intermediate = row.intermediate + (" *" if row.same_source else "")
        table.add_row(
            row.scale,
            intermediate,
            row.target,
            row.split,
            row.metric,
            str(row.seeds),
            _number(row.english),
            _number(row.non_english),
            _number(row.all_languages),
            _number(row.delta_english, signed=True),
            _number(row.delta_non_english, signed=True),
        )
    console.print(table)
    if any(row.same_source for row in report.rows):
        console.print("* the intermediate task is the target's own English training source")
    for target, langs in sorted(report.languages.items()):
        console.print(f"{target}: evaluated on {langs}")
    print_headline(report.headline, console)


@dataclass(frozen=True)
class ScaleSummary:
    """One scale's answer: mean Δ in English and over non-English languages (bootstrap over
    languages and seeds), and the share of non-English cells with negative mean Δ."""

    scale: str
    english: Interval | None
    non_english: Interval | None
    negative_transfer_rate: float | None


def summarize_scales(cells: list[Delta]) -> list[ScaleSummary]:
    rng = np.random.default_rng(GENERATOR_SEED)
    rates = negative_transfer_rate(cells)
    summaries = []
    for scale in [s for s in SCALES if any(c.scale == s for c in cells)]:
        english = [c for c in cells if c.scale == scale and c.language == "en"]
        non_english = [c for c in cells if c.scale == scale and c.language != "en"]
        summaries.append(
            ScaleSummary(
                scale,
                language_average(english, rng) if english else None,
                language_average(non_english, rng) if non_english else None,
                rates.get(scale),
            )
        )
    return summaries


def _points(value: float) -> str:
    return f"{100 * value:+.2f}"


def _interval(interval: Interval | None) -> str:
    if interval is None:
        return "–"
    return f"{_points(interval.mean)} [{_points(interval.low)}, {_points(interval.high)}]"


# Δ and its interval in points (×100 on the target's metric).
CSV_COLUMNS = (
    "scale",
    "intermediate",
    "target",
    "language",
    "split",
    "metric",
    "mean_delta",
    "ci_low",
    "ci_high",
    "seeds",
)


def write_csv(cells: list[Delta], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for c in cells:
            numbers = [round(100 * v, 4) for v in (c.mean, c.low, c.high)]
            metric = get_task(c.target).metric
            writer.writerow([c.scale, c.intermediate, c.target, c.language, c.split, metric, *numbers, c.seeds])
    return path


def _headline_interval(row: Headline) -> str:
    return _interval(Interval(row.mean, row.low, row.high))


def write_markdown(report: Report, summaries: list[ScaleSummary], slope: float | None, path: Path) -> Path:
    lines = [
        f"# Sweep {report.name}: does scale shrink the harm of English intermediate tasks?",
        "",
        f"Δ = score with the intermediate task − score with `none`, paired by seed, ×100 on each target's "
        f"metric; intervals are 95 % percentile bootstraps ({RESAMPLES} resamples, generator seed "
        f"{GENERATOR_SEED}) over seeds, and for averages over languages and seeds. Sweep status: "
        f"{report.sweep_status.lower()}.",
        "",
        "## The answer",
        "",
        "Non-English Δ per scale and intermediate: each target run's non-English average minus its paired "
        "baseline's (`answer/delta_non_en` on the run), averaged over seeds within each target, then across "
        "targets; seeds resampled for the interval.",
        "",
        "| scale | intermediate | targets | seeds | Δ non-English |",
        "|---|---|---|---|---|",
        *(
            f"| {row.scale} | {row.intermediate} | {', '.join(row.targets)} | {row.seeds} | {_headline_interval(row)} |"
            for row in report.headline
        ),
        "",
        "## Per scale, languages pooled across targets",
        "",
        "| scale | parameters | Δ English | Δ non-English | negative transfer (non-English cells with Δ < 0) |",
        "|---|---|---|---|---|",
    ]
    for summary in summaries:
        rate = "–" if summary.negative_transfer_rate is None else f"{summary.negative_transfer_rate:.0%}"
        parameters = f"{SCALES[summary.scale].parameters / 1e6:,.1f} M"
        lines.append(
            f"| {summary.scale} | {parameters} | {_interval(summary.english)} | {_interval(summary.non_english)} "
            f"| {rate} |"
        )
    lines += [
        "",
        "Slope of non-English Δ against log10(parameters): "
        + ("needs two or more scales" if slope is None else f"{100 * slope:+.2f} points per tenfold parameters"),
        "",
        "| scale | intermediate | target | split | seeds | Δ English | Δ non-English (mean of languages) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report.rows:
        if row.intermediate == NONE:
            continue
        lines.append(
            f"| {row.scale} | {row.intermediate}{' *' if row.same_source else ''} | {row.target} | {row.split} "
            f"| {row.seeds} | {_number(row.delta_english, signed=True)} "
            f"| {_number(row.delta_non_english, signed=True)} |"
        )
    lines += [
        "",
        "\\* the intermediate task is the target's own English training source.",
        "",
        "Per language: `report.csv`. Plots: `delta_vs_scale.png`, `delta_heatmap.png`.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_report(report: Report, out_dir: Path, client: MlflowClient | None = None) -> list[ScaleSummary]:
    """Write report.md, report.csv and the two plots into ``out_dir``; with ``client``, log
    them under ``report/`` of the sweep run. Returns the per-scale summaries."""
    from sweeper.results.plots import plot_delta_heatmap, plot_delta_vs_scale

    out_dir.mkdir(parents=True, exist_ok=True)
    cells = report.deltas
    summaries = summarize_scales(cells)
    slope = scale_slope(cells)
    write_csv(cells, out_dir / "report.csv")
    write_markdown(report, summaries, slope, out_dir / "report.md")
    plot_delta_vs_scale(report.headline, out_dir / "delta_vs_scale.png")
    plot_delta_heatmap(cells, out_dir / "delta_heatmap.png")
    if client is not None:
        TrackedRun(client, report.sweep_run_id).log_artifacts(out_dir, "report")
        # Sweeps from before target runs carried their Δ get it now, for the UI's charts.
        write_deltas(client, report.experiment_id, report.sweep_run_id)
    return summaries


def print_headline(rows: list[Headline], console: Console) -> None:
    table = Table(
        title="the answer: non-English Δ ×100 vs none, paired by seed, mean within each target then across "
        "targets, 95 % bootstrap interval over seeds"
    )
    for header in ("scale", "intermediate", "targets", "seeds", "Δ non-English"):
        table.add_column(header, justify="right" if header in ("seeds", "Δ non-English") else "left")
    for row in rows:
        table.add_row(row.scale, row.intermediate, ", ".join(row.targets), str(row.seeds), _headline_interval(row))
    console.print(table)


def print_summary(summaries: list[ScaleSummary], cells: list[Delta], console: Console) -> None:
    table = Table(title="per scale, languages pooled across targets: Δ ×100 vs none, 95 % bootstrap interval")
    for header in ("scale", "Δ English", "Δ non-English", "negative transfer"):
        table.add_column(header, justify="left" if header == "scale" else "right")
    for summary in summaries:
        rate = "–" if summary.negative_transfer_rate is None else f"{summary.negative_transfer_rate:.0%}"
        table.add_row(summary.scale, _interval(summary.english), _interval(summary.non_english), rate)
    console.print(table)
    slope = scale_slope(cells)
    if slope is not None:
        console.print(f"non-English Δ changes by {100 * slope:+.2f} points per tenfold parameters")

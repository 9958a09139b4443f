"""`xsweep report`: from a sweep's MLflow runs to the table that answers the question.

Per (scale, intermediate, target): the English score, the non-English and all-language
averages, and Δ against the `none` baseline, paired by seed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from statistics import mean

from mlflow.entities import Run
from mlflow.tracking import MlflowClient
from rich.console import Console
from rich.table import Table

from sweeper.scales import SCALES
from sweeper.tracking import NONE, SWEEP, TARGET, metric_key, retrying
from tasks import get_task


class ReportError(LookupError):
    pass


@dataclass(frozen=True)
class ReportRow:
    scale: str
    intermediate: str
    target: str
    split: str
    metric: str
    seeds: int
    english: float
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


def latest_sweep_run(client: MlflowClient, name: str) -> tuple[str, Run]:
    experiment = retrying(lambda: client.get_experiment_by_name(name))
    if experiment is None:
        raise ReportError(f"--name: no sweep named {name!r} in this tracking store")
    sweeps = retrying(
        lambda: client.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.phase = '{SWEEP}'",
            order_by=["attribute.start_time DESC"],
            max_results=1,
        )
    )
    if not sweeps:
        raise ReportError(f"--name: sweep {name!r} has no sweep run")
    return experiment.experiment_id, sweeps[0]


def target_runs(client: MlflowClient, experiment_id: str, sweep_run_id: str) -> list[Run]:
    return retrying(
        lambda: client.search_runs(
            [experiment_id],
            filter_string=(
                f"tags.phase = '{TARGET}' and tags.sweep_run_id = '{sweep_run_id}' and attributes.status = 'FINISHED'"
            ),
            max_results=50_000,
        )
    )


def _paired_delta(scores: dict[int, float], baseline: dict[int, float]) -> float | None:
    seeds = sorted(set(scores) & set(baseline))
    return mean(scores[s] - baseline[s] for s in seeds) if seeds else None


def summarize(runs: list[Run]) -> list[ReportRow]:
    # (scale, intermediate, target) -> seed -> run metrics
    groups: dict[tuple[str, str, str], dict[int, dict[str, float]]] = defaultdict(dict)
    for run in runs:
        tags = run.data.tags
        groups[(tags["scale"], tags["intermediate"], tags["target"])][int(tags["seed"])] = run.data.metrics

    def split_for(target: str) -> str:
        metric = get_task(target).metric
        target_groups = [g for (_, _, t), g in groups.items() if t == target]
        labelled = all(metric_key("test", metric, "avg") in m for g in target_groups for m in g.values())
        return "test" if labelled else "dev"

    def scores(by_seed: dict[int, dict[str, float]], key: str) -> dict[int, float]:
        return {seed: metrics[key] for seed, metrics in by_seed.items() if key in metrics}

    rows = []
    order = sorted(groups, key=lambda k: (list(SCALES).index(k[0]), k[2], k[1] != NONE, k[1]))
    for scale, intermediate, target in order:
        task = get_task(target)
        split = split_for(target)
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
                english=mean(english.values()),
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
    return Report(name, experiment_id, sweep.info.run_id, sweep.info.status, summarize(runs), languages)


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

"""`xsweep compare`: whether two sweeps gave the same numbers, run by run.

Runs are matched by phase and name: a study trial by its study and Optuna trial number
(``tiny/mnli/t0``, ``tiny/none→xnli/t1``), a cell by scale, intermediate, target and seed
(``tiny/mnli→xnli/s0``), and the two sweep runs with each other. Two matched runs agree when
their learning rates are equal and every metric is within the tolerance. The provenance tags
that differ between matched runs (code, libraries, device, starting model and tokenizer) are
listed beside, to explain what does not agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mlflow.tracking import MlflowClient
from rich.console import Console
from rich.table import Table

from sweeper.plan.plan import INTERMEDIATE, SWEEP, TARGET, TARGET_SEARCH
from sweeper.record.provenance import PREFIX
from sweeper.record.tags import RunTags
from sweeper.record.tracking import runs_of_sweep
from sweeper.results.runs import latest_sweep_run

DEFAULT_TOLERANCE = 1e-6
SYSTEM_METRICS_PREFIX = "system/"
PHASE_ORDER = {INTERMEDIATE: 0, TARGET_SEARCH: 1, TARGET: 2, SWEEP: 3}


@dataclass(frozen=True)
class RunRecord:
    phase: str
    name: str
    status: str
    learning_rate: float | None
    metrics: Mapping[str, float]
    provenance: Mapping[str, str]

    @property
    def key(self) -> tuple[str, str]:
        return self.phase, self.name


@dataclass(frozen=True)
class RunComparison:
    phase: str
    name: str
    learning_rates: tuple[float | None, float | None]
    metrics_compared: int
    # What differs, one line each: "dev/accuracy/en 0.57 vs 0.715", "only in A", ...
    differences: tuple[str, ...]

    @property
    def agrees(self) -> bool:
        return not self.differences


@dataclass(frozen=True)
class ProvenanceDifference:
    tag: str
    runs: int  # matched pairs whose values of the tag differ
    example_run: str
    values: tuple[str, str]


@dataclass(frozen=True)
class Comparison:
    runs: list[RunComparison]
    provenance: list[ProvenanceDifference]
    tolerance: float

    @property
    def agrees(self) -> bool:
        return all(run.agrees for run in self.runs)


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.6g}"


def compare_run(a: RunRecord | None, b: RunRecord | None, tolerance: float) -> RunComparison:
    """One matched pair (or a run only one sweep has)."""
    either = a or b
    assert either is not None
    if a is None or b is None:
        side = "A" if b is None else "B"
        rate = either.learning_rate
        return RunComparison(
            either.phase, either.name, (rate, None) if b is None else (None, rate), 0, (f"only in {side}",)
        )
    differences = []
    if a.status != b.status:
        differences.append(f"status {a.status} vs {b.status}")
    if a.learning_rate != b.learning_rate:
        differences.append(f"learning_rate {_number(a.learning_rate)} vs {_number(b.learning_rate)}")
    for key in sorted(set(a.metrics) | set(b.metrics)):
        if key not in a.metrics or key not in b.metrics:
            differences.append(f"{key} only in {'A' if key in a.metrics else 'B'}")
        elif abs(a.metrics[key] - b.metrics[key]) > tolerance:
            differences.append(f"{key} {_number(a.metrics[key])} vs {_number(b.metrics[key])}")
    shared = len(set(a.metrics) & set(b.metrics))
    return RunComparison(a.phase, a.name, (a.learning_rate, b.learning_rate), shared, tuple(differences))


def differing_provenance(pairs: list[tuple[RunRecord, RunRecord]]) -> list[ProvenanceDifference]:
    """Per provenance tag, how many matched pairs disagree on it, with a first example."""
    found: dict[str, ProvenanceDifference] = {}
    for a, b in pairs:
        for tag in sorted(set(a.provenance) | set(b.provenance)):
            values = (a.provenance.get(tag, "–"), b.provenance.get(tag, "–"))
            if values[0] == values[1]:
                continue
            seen = found.get(tag)
            runs = seen.runs + 1 if seen else 1
            example = seen or ProvenanceDifference(tag, 0, f"{a.phase} {a.name}", values)
            found[tag] = ProvenanceDifference(tag, runs, example.example_run, example.values)
    return list(found.values())


def compare_records(a: list[RunRecord], b: list[RunRecord], tolerance: float = DEFAULT_TOLERANCE) -> Comparison:
    by_key_a = {record.key: record for record in a}
    by_key_b = {record.key: record for record in b}
    # In the order a sweep runs them: study trials, then cells, then the sweep run.
    keys = sorted(set(by_key_a) | set(by_key_b), key=lambda key: (PHASE_ORDER.get(key[0], 0), key))
    runs = [compare_run(by_key_a.get(key), by_key_b.get(key), tolerance) for key in keys]
    pairs = [(by_key_a[key], by_key_b[key]) for key in keys if key in by_key_a and key in by_key_b]
    return Comparison(runs, differing_provenance(pairs), tolerance)


def read_records(client: MlflowClient, name: str) -> list[RunRecord]:
    """Every run of the sweep's latest launch, as the comparison reads it."""
    experiment_id, sweep = latest_sweep_run(client, name)
    records = []
    for run in runs_of_sweep(client, experiment_id, sweep.info.run_id):
        tags = RunTags.parse(run.data.tags)
        phase = tags.phase
        rate = run.data.params.get("learning_rate")
        records.append(
            RunRecord(
                phase=phase,
                # The sweep runs match each other whatever their sweeps' names.
                name=SWEEP if phase == SWEEP else run.info.run_name,
                status=run.info.status,
                learning_rate=float(rate) if rate is not None else None,
                # System metrics (CPU, memory, GPU use) say how a run went, not what it found.
                metrics={k: v for k, v in run.data.metrics.items() if not k.startswith(SYSTEM_METRICS_PREFIX)},
                provenance=dict(tags.provenance),
            )
        )
    return records


def print_comparison(comparison: Comparison, names: tuple[str, str], console: Console) -> None:
    """Per run: both learning rates, how many metrics both have, and what differs (A vs B)."""
    console.print(f"A: {names[0]}   B: {names[1]}")
    table = Table("phase", "run", "lr A", "lr B", "metrics", "agrees", "what differs (A vs B)")
    for run in comparison.runs:
        first = run.differences[:2]
        more = f" (+{len(run.differences) - 2} more)" if len(run.differences) > 2 else ""
        table.add_row(
            run.phase, run.name, _number(run.learning_rates[0]), _number(run.learning_rates[1]),
            str(run.metrics_compared), "yes" if run.agrees else "NO", "; ".join(first) + more,
        )  # fmt: skip
    console.print(table)
    if comparison.provenance:
        tags = Table("provenance tag", "runs differing", "e.g. run", "A", "B")
        for diff in comparison.provenance:
            tags.add_row(diff.tag.removeprefix(PREFIX), str(diff.runs), diff.example_run, *diff.values)
        console.print(tags)
    else:
        console.print("provenance: the same code, libraries, device, starting models and tokenizers")
    agreeing = sum(run.agrees for run in comparison.runs)
    verdict = "agree" if comparison.agrees else "differ"
    console.print(
        f"A and B {verdict}: {agreeing} of {len(comparison.runs)} runs agree "
        f"(learning rates equal, metrics within {comparison.tolerance:g})"
    )

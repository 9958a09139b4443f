"""The `xsweep` command line: launch, report, and what scales and tasks exist."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict

import click
from mlflow.tracking import MlflowClient
from rich.console import Console
from rich.table import Table

from sweeper.launch import launch as launch_sweep
from sweeper.report import ReportError, build_report, print_report
from sweeper.scales import SCALES
from sweeper.spec import SpecError, build_spec
from sweeper.tracking import resolve_tracking_uri, ui_instructions
from tasks import HUB, TASKS, DataError
from tasks.demo import write_demo_data


def _tracking_uri(value: str | None) -> str:
    try:
        return resolve_tracking_uri(value)
    except ValueError as error:
        raise click.ClickException(f"--tracking-uri: {error}") from None


def _console() -> Console:
    # Piped into a file or a CI log, rich would squeeze tables into 80 columns.
    return Console() if sys.stdout.isatty() else Console(width=160)


tracking_option = click.option(
    "--tracking-uri",
    default=None,
    help="MLflow tracking URI [default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here].",
)


@click.group()
def main() -> None:
    """xsweep: STILTs sweeps over XLM-R scales, on Ray Tune, Optuna and MLflow."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--name", default=None, help="Sweep name (one MLflow experiment) [default: from the spec].")
@click.option("--scales", required=True, help=f"Comma list of {', '.join(SCALES)}.")
@click.option("--intermediate", default=None, help="Comma list of intermediate tasks [default: all]; none always runs.")
@click.option("--targets", default=None, help="Comma list of target tasks [default: all].")
@click.option("--languages", default=None, help="Comma list of languages [default: all of each target's].")
@click.option("--trials", default=4, show_default=True, help="Learning-rate trials per study.")
@click.option("--seeds", default=3, show_default=True, help="Seeds 0..N-1 per cell.")
@click.option(
    "--data", default=HUB, show_default=True, help="'hub', or a local mirror DIR/<task>/<config>/<split>.jsonl."
)
@tracking_option
@click.option("--address", default=None, help="Ray cluster address (e.g. auto) [default: a local Ray].")
@click.option("--study-storage", default=None, help="Optuna storage URL [default: optuna.db beside MLflow's].")
def launch(
    name: str | None,
    scales: str,
    intermediate: str | None,
    targets: str | None,
    languages: str | None,
    trials: int,
    seeds: int,
    data: str,
    tracking_uri: str | None,
    address: str | None,
    study_storage: str | None,
) -> None:
    """Run a sweep: intermediate and target trials on Ray Tune, tracked in MLflow."""
    uri = _tracking_uri(tracking_uri)
    try:
        spec = build_spec(
            scales=scales,
            intermediate=intermediate,
            targets_=targets,
            languages=languages,
            trials=trials,
            seeds=seeds,
            data=data,
            name=name,
        )
        result = launch_sweep(spec, uri, address=address, study_storage=study_storage)
    except (SpecError, DataError) as error:
        raise click.ClickException(str(error)) from None
    console = _console()
    if result.already_done:
        console.print(f"sweep {spec.name} already finished with this spec: nothing to run")
    else:
        console.print(
            f"sweep {spec.name}: {result.finished} cells finished, {result.failed} failed, {result.blocked} blocked"
        )
    print_report(build_report(MlflowClient(uri), spec.name), console)
    console.print(ui_instructions(uri, result.experiment_id))
    if not result.ok:
        raise SystemExit(1)


@main.command()
@click.option("--name", required=True, help="The sweep's name.")
@tracking_option
def report(name: str, tracking_uri: str | None) -> None:
    """Print a sweep's result table."""
    uri = _tracking_uri(tracking_uri)
    try:
        result = build_report(MlflowClient(uri), name)
    except ReportError as error:
        raise click.ClickException(str(error)) from None
    console = _console()
    print_report(result, console)
    console.print(ui_instructions(uri, result.experiment_id))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tasks(as_json: bool) -> None:
    """List the registered tasks."""
    entries = [
        {
            "name": task.name,
            "kind": task.kind,
            "family": task.family,
            "metric": task.metric,
            "train_source": task.train_source,
            "languages": list(task.languages),
            "dataset": task.train.dataset,
        }
        for task in TASKS.values()
    ]
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    table = Table("name", "kind", "family", "metric", "train source", "languages")
    for entry in entries:
        table.add_row(
            entry["name"],
            entry["kind"],
            entry["family"],
            entry["metric"],
            entry["train_source"],
            " ".join(entry["languages"]),
        )
    _console().print(table)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def scales(as_json: bool) -> None:
    """List the registered model scales."""
    entries = [asdict(scale) for scale in SCALES.values()]
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    table = Table("name", "model", "parameters", "GPUs/trial", "recipe lr", "lr range")
    for s in SCALES.values():
        low, high = s.learning_rate_range
        table.add_row(s.name, s.model, f"{s.parameters:,}", str(s.gpus), f"{s.learning_rate:g}", f"{low:g}–{high:g}")
    _console().print(table)


@main.group()
def data() -> None:
    """Data in the local mirror layout."""


@data.command("demo")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Where to write the mirror.")
def demo_data(out: str) -> None:
    """Write the generated demo sample set (a few languages, xnli pawsx mnli qqp)."""
    click.echo(f"demo data written to {write_demo_data(out)}")

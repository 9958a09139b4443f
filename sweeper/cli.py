"""The `xsweep` command line: launch, report, compare, and what scales and tasks exist."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource
from rich.console import Console
from rich.table import Table

from sweeper.plan.sampling import DEFAULT_SAMPLER, SAMPLERS
from sweeper.plan.scales import SCALES
from sweeper.record.locations import DEFAULT_CONNECT_TIMEOUT_S, local_store_dir, resolve_tracking_uri
from sweeper.resources.hardware import Hardware
from sweeper.train.resume import DEFAULT_CHECKPOINT_EVERY_S, DEFAULT_RETRIES
from tasks.batching import BATCH_ORDERS, DEFAULT_BATCH_ORDER

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from sweeper.plan.spec import SweepSpec

# Ray, MLflow, torch, transformers, `datasets` and seqeval (scikit-learn) take seconds to import:
# each command imports what it needs, and the task registry imports them only where it loads
# rows or scores tags, so that --help, `tasks`, `scales` and `plan` answer at once
# (tests/sweeper/test_cli.py checks what they import; benchmarks/cli_startup.py times them).


def _tracking_uri(value: str | None, reach: bool = True) -> str:
    """The resolved URI, refused in one line where it cannot be a tracking store or (where
    ``reach``) nothing answers there: a report or status would wait out the client's retries.
    A launch reaches it itself, after a cluster's own checks."""
    from sweeper.launch.preflight import check_tracking_uri, reach_tracking_uri

    try:
        uri = resolve_tracking_uri(value)
    except ValueError as error:
        raise click.ClickException(f"--tracking-uri: {error}") from None
    check_tracking_uri(uri)
    if reach:
        reach_tracking_uri(uri, DEFAULT_CONNECT_TIMEOUT_S)
    return uri


def _reading_client(tracking_uri: str | None, name: str) -> tuple[str, MlflowClient]:
    """A client for commands that only read a sweep: a SQLite store that is not there is
    an unknown sweep, not a new empty database."""
    from mlflow.tracking import MlflowClient

    from sweeper.results.runs import ReportError

    uri = _tracking_uri(tracking_uri)
    store = local_store_dir(uri)
    if store is not None and not Path(uri.removeprefix("sqlite:///")).is_file():
        raise ReportError(
            f"no sweep named {name!r}: no tracking database at {uri}; valid: the --tracking-uri it ran with"
        )
    return uri, MlflowClient(uri)


def _console() -> Console:
    # Piped into a file or a CI log, rich would squeeze tables into 80 columns.
    return Console() if sys.stdout.isatty() else Console(width=160)


def _print_links(console: Console, text: str) -> None:
    # Whole lines, as they are: a wrapped or restyled URL would not open.
    console.print(text, soft_wrap=True, markup=False, highlight=False)


tracking_option = click.option(
    "--tracking-uri",
    default=None,
    help="MLflow tracking URI [default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here].",
)


class _Commands(click.Group):
    """Click's group, with its usage errors in one line like xsweep's own."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            if error.ctx is not None:
                if not getattr(error, "possibilities", None):  # else click suggests a name itself
                    error.message = f"{error.message} (`{error.ctx.command_path} --help` lists what is valid)"
                error.ctx = None  # the usage block would take three more lines
            raise


@click.group(cls=_Commands)
# The installed distribution's version, read (importlib.metadata) only when asked.
@click.version_option(package_name="xsweep", prog_name="xsweep")
@click.option("--verbose", is_flag=True, help="On an error, show its traceback (for a bug report).")
def main(verbose: bool) -> None:
    """xsweep: STILTs sweeps over XLM-R scales, on Ray Tune, Optuna and MLflow."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def _one_line(message: str) -> str:
    return " ".join(message.split())


# The errors printed as they are: the user's input, or a fault a relaunch gets past.
_INPUT_ERRORS = (
    ("sweeper.plan.spec", "SpecError"),
    ("tasks.data", "DataError"),
    ("sweeper.results.runs", "ReportError"),
    ("sweeper.launch.errors", "SweepAborted"),
)


def _is_input_error(error: Exception) -> bool:
    # Only a module already imported can have raised its error: checking imports nothing.
    return any(
        isinstance(error, getattr(sys.modules[module], name)) for module, name in _INPUT_ERRORS if module in sys.modules
    )


def one_line_errors(command: Callable) -> Callable:
    """Every error of ``command`` as one line, printed once, exit 1: the user's input errors
    as they are, anything else with its type (``xsweep --verbose`` shows its traceback)."""

    @functools.wraps(command)
    def run(*args: object, **kwargs: object) -> object:
        try:
            return command(*args, **kwargs)
        except click.ClickException:
            raise
        except Exception as error:
            if _is_input_error(error):
                raise click.ClickException(_one_line(str(error))) from None
            if click.get_current_context().find_root().params.get("verbose"):
                raise
            message = _one_line(str(error))[:500]
            raise click.ClickException(
                f"{type(error).__name__}: {message} (run `xsweep --verbose ...` for the traceback)"
            ) from None

    return run


def _options(*options: Callable) -> Callable:
    def apply(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


spec_options = _options(
    click.option("--name", default=None, help="Sweep name (one MLflow experiment) [default: from the spec]."),
    click.option("--scales", required=True, help=f"Comma list of {', '.join(SCALES)}."),
    click.option(
        "--intermediate", default=None, help="Comma list of intermediate tasks [default: all]; none always runs."
    ),
    click.option("--targets", default=None, help="Comma list of target tasks [default: all]."),
    click.option("--languages", default=None, help="Comma list of languages [default: all of each target's]."),
    click.option("--trials", default=4, show_default=True, help="Learning-rate trials per study."),
    click.option("--seeds", default=3, show_default=True, help="Seeds 0..N-1 per cell."),
    click.option(
        "--data", default=None, help="'hub', or a local mirror DIR/<task>/<config>/<split>.jsonl [default: hub]."
    ),
    click.option(
        "--local-data",
        default=None,
        help="Where the tasks with no hub copy (lareqa, bucc2018, cosmosqa; ccg) are read from, whatever --data is: "
        "the DIR of `xsweep data fetch TASKS --out DIR`.",
    ),
    click.option(
        "--translated-data",
        default=None,
        help="Machine-translated intermediate data, DIR/<task>/<lang>/train.jsonl, mixed into intermediate training.",
    ),
    click.option(
        "--mlm-text", default=None, help="A .txt file or directory: continued MLM interleaved with intermediate runs."
    ),
    click.option(
        "--sampler",
        type=click.Choice(SAMPLERS),
        default=DEFAULT_SAMPLER,
        show_default=True,
        help="How studies propose learning rates: qmc, a fixed design after the recipe's; tpe, modelled on scores.",
    ),
    click.option(
        "--batch-order",
        type=click.Choice(BATCH_ORDERS),
        default=DEFAULT_BATCH_ORDER,
        show_default=True,
        help="Training batches: random, or grouped by length (less padding; may skew labels where length tracks them).",
    ),
)
cost_options = _options(
    click.option("--gpus", default=Hardware.gpus, show_default=True, help="GPUs to spread the sweep over."),
    click.option("--gpu-hour-price", default=Hardware.gpu_hour_price, show_default=True, help="Price of one GPU-hour."),
    click.option("--gpu-tflops", default=Hardware.peak_tflops, show_default=True, help="Peak TFLOP/s of one GPU."),
    click.option("--utilisation", default=Hardware.utilisation, show_default=True, help="Fraction of peak reached."),
    click.option(
        "--gpu-memory",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        help="GiB of one GPU: base and large trials share GPUs (2-4 each) as their measured memory allows, "
        "each asking Ray for its share [default: one trial per GPU].",
    ),
    click.option(
        "--calibration",
        default=None,
        help="Measured tokens/s per scale and GPU model (benchmarks/gpu_check.py --calibration-out FILE): "
        "the scales it covers are priced at their measured speed instead of --utilisation.",
    ),
    click.option("--gpu-model", default=None, help="The calibration's GPU model to price [default: its only one]."),
    click.option(
        "--cluster",
        default="cluster.yaml",
        show_default=True,
        help="Ray cluster config whose node types must fit every scale, and whose autoscaler limits a launch "
        "with --address keeps enough trials in flight for (skipped when the default is absent).",
    ),
)


def _spec(options: dict) -> SweepSpec:
    from sweeper.plan.spec import build_spec
    from tasks import HUB

    return build_spec(
        scales=options["scales"],
        intermediate=options["intermediate"],
        targets_=options["targets"],
        languages=options["languages"],
        trials=options["trials"],
        seeds=options["seeds"],
        data=options["data"] or HUB,
        local_data=options["local_data"],
        name=options["name"],
        translated_data=options["translated_data"],
        mlm_text=options["mlm_text"],
        sampler=options["sampler"],
        batch_order=options["batch_order"],
    )


def _cluster_given(options: dict) -> str | None:
    """--cluster where given, or the default where it exists."""
    explicit = click.get_current_context().get_parameter_source("cluster") != ParameterSource.DEFAULT
    return options["cluster"] if explicit or Path(options["cluster"]).exists() else None


def _print_cost_plan(spec: SweepSpec, options: dict) -> None:
    """Validate, then print the plan and its cost; touches neither Ray nor MLflow."""
    from sweeper.plan.plan import make_plan
    from sweeper.plan.spec import SpecError
    from sweeper.resources.cost import estimate, print_cost_plan, print_grouped_saving
    from tasks import HUB
    from tasks.batching import GROUPED, RANDOM

    cluster_path = _cluster_given(options)
    if cluster_path is not None:
        from sweeper.resources.cluster import check_scales_fit, load_cluster

        check_scales_fit(spec.scales, load_cluster(cluster_path), cluster_path)
    hardware = Hardware(
        gpus=options["gpus"],
        gpu_hour_price=options["gpu_hour_price"],
        peak_tflops=options["gpu_tflops"],
        utilisation=options["utilisation"],
        gpu_memory_gib=options["gpu_memory"],
    )
    if hardware.gpus < 1 or not 0 < hardware.utilisation <= 1 or hardware.peak_tflops <= 0:
        raise SpecError("--gpus, --gpu-tflops, --utilisation: valid are gpus ≥ 1, tflops > 0, 0 < utilisation ≤ 1")
    calibration, gpu = None, ""
    if options["calibration"] is not None:
        from sweeper.resources.calibration import pick_gpu, read_calibration

        calibration = read_calibration(options["calibration"])
        gpu = pick_gpu(calibration, options["gpu_model"])
    plan = make_plan(spec)
    console = _console()
    # `launch --dry-run` prices the models --keep-target-checkpoints keeps; `plan` has no such option.
    keep_target_checkpoints = bool(options.get("keep_target_checkpoints"))
    cost = estimate(plan, hardware, calibration, gpu, keep_target_checkpoints=keep_target_checkpoints)
    print_cost_plan(cost, spec, console)
    if spec.batch_order == RANDOM:
        # The same sweep's bill with batches grouped by length: what opting in would save.
        grouped = replace(plan, spec=replace(spec, batch_order=GROUPED))
        print_grouped_saving(cost, estimate(grouped, hardware, calibration, gpu), console)
    if spec.data == HUB:
        from sweeper.launch.hub_data import target_coverage

        for line in target_coverage(spec):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    if spec.data == HUB:
        from sweeper.launch.hub_data import unpinned

        loose = unpinned(plan)
        if loose:
            console.print(
                f"reproducibility warning: {len(loose)} hub revisions are branches, not commits; "
                "runs record the commit served (provenance/data_commits):",
                markup=False,
            )
            for line in loose:
                console.print(f"  {line}", markup=False, highlight=False)


@main.command("plan")
@spec_options
@cost_options
@one_line_errors
def plan_command(**options: object) -> None:
    """Print what a sweep would run and what it would cost; starts nothing."""
    _print_cost_plan(_spec(options), options)


@main.command()
@spec_options
@tracking_option
@click.option("--address", default=None, help="Ray cluster address (e.g. auto) [default: a local Ray].")
@click.option("--study-storage", default=None, help="Optuna storage URL [default: optuna.db beside MLflow's].")
@click.option("--storage-path", default=".xsweep/tune", show_default=True, help="Tune's experiment storage.")
@click.option(
    "--collective-backend",
    type=click.Choice(["nccl", "gloo"]),
    default="nccl",
    show_default=True,
    help="Process group of multi-GPU (XL, XXL) trials' Train workers; gloo for logical GPUs on CPUs.",
)
@click.option(
    "--fork", is_flag=True, help="If --name exists with another spec, launch this one as NAME-<spec fingerprint>."
)
@click.option(
    "--checkpoint-every",
    type=click.FloatRange(min=1),
    default=DEFAULT_CHECKPOINT_EVERY_S,
    show_default=True,
    help="Seconds between the checkpoints an interrupted trial resumes from.",
)
@click.option(
    "--keep-target-checkpoints", is_flag=True, help="Target runs store their fine-tuned model, not only predictions."
)
@click.option(
    "--connect-timeout",
    type=click.FloatRange(min=0.1),
    default=DEFAULT_CONNECT_TIMEOUT_S,
    show_default=True,
    help="Seconds to reach the tracking server, the study storage and the Ray address before giving up.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=DEFAULT_RETRIES,
    show_default=True,
    help="Times a trial whose process, worker or node died runs again (in the same run, from its last checkpoint).",
)
@click.option("--dry-run", is_flag=True, help="Print the plan and its cost (as `xsweep plan`) and stop.")
@click.option(
    "--no-data-check", is_flag=True, help="With --data hub, skip asking the hub for every source before the sweep."
)
@click.option(
    "--no-table", is_flag=True, help="End with the summary line alone (where `xsweep report` follows, as in the demo)."
)
@cost_options
@one_line_errors
def launch(**options: object) -> None:
    """Run a sweep: intermediate and target trials on Ray Tune, tracked in MLflow."""
    spec = _spec(options)
    if options["dry_run"]:
        _print_cost_plan(spec, options)
        return
    # Ray Tune, torch and transformers take seconds to import; only a launch needs them.
    from sweeper.launch.launch import LaunchOptions
    from sweeper.launch.launch import launch as launch_sweep

    uri = _tracking_uri(options["tracking_uri"], reach=False)
    launch_options = LaunchOptions(
        tracking_uri=uri,
        address=options["address"],
        study_storage=options["study_storage"],
        storage_path=options["storage_path"],
        collective_backend=options["collective_backend"],
        fork=options["fork"],
        checkpoint_every_s=options["checkpoint_every"],
        keep_target_checkpoints=options["keep_target_checkpoints"],
        connect_timeout_s=options["connect_timeout"],
        retries=options["retries"],
        cluster=_cluster_given(options),
        data_check=not options["no_data_check"],
        gpu_memory_gib=options["gpu_memory"],
    )
    result = launch_sweep(spec, launch_options)
    console = _console()
    console.print(result.summary())
    from mlflow.tracking import MlflowClient

    from sweeper.results.links import answer_lines

    client = MlflowClient(uri)
    if not options["no_table"]:
        from sweeper.results.report import build_report, print_report

        print_report(build_report(client, result.name), console)
    _print_links(console, answer_lines(client, uri, result.experiment_id, result.sweep_run_id, spec.scales))
    if result.stopped_by_signal:
        raise SystemExit(result.stopped_by_signal)
    if not result.ok:
        raise SystemExit(1)


@main.command()
@click.option("--name", required=True, help="The sweep's name.")
@tracking_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where report.md, report.csv and the plots go [default: ./xsweep-report/NAME/].",
)
@one_line_errors
def report(name: str, tracking_uri: str | None, out: Path | None) -> None:
    """The answer for one sweep: Δ per scale, intermediate, target and language, with
    bootstrap intervals; written to --out and logged under report/ of the sweep run."""
    from sweeper.results.links import answer_lines
    from sweeper.results.report import build_report, print_report, print_summary, write_report

    uri, client = _reading_client(tracking_uri, name)
    result = build_report(client, name)
    console = _console()
    print_report(result, console)
    out = out or Path("xsweep-report") / name
    summaries = write_report(result, out, client)
    print_summary(summaries, result.deltas, console)
    console.print(f"report.md, report.csv and two plots in {out}/, and under report/ of the sweep run")
    _print_links(console, answer_lines(client, uri, result.experiment_id, result.sweep_run_id, result.scales))


@main.command()
@click.argument("name_a")
@click.argument("name_b")
@tracking_option
@click.option("--other-tracking-uri", default=None, help="The tracking store of NAME_B [default: NAME_A's].")
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0),
    default=None,
    help="Largest difference of a metric that still agrees [default: 1e-06].",
)
def compare(
    name_a: str, name_b: str, tracking_uri: str | None, other_tracking_uri: str | None, tolerance: float | None
) -> None:
    """Whether two sweeps agree, per study trial and cell: learning rates, metrics, and the
    provenance tags that differ. Exits 1 where they differ."""
    from mlflow.tracking import MlflowClient

    from sweeper.results.compare import DEFAULT_TOLERANCE, compare_records, print_comparison, read_records
    from sweeper.results.runs import ReportError

    tolerance = DEFAULT_TOLERANCE if tolerance is None else tolerance
    uri_a = _tracking_uri(tracking_uri)
    uri_b = _tracking_uri(other_tracking_uri) if other_tracking_uri else uri_a
    records = []
    for argument, name, uri in (("NAME_A", name_a, uri_a), ("NAME_B", name_b, uri_b)):
        try:
            records.append(read_records(MlflowClient(uri), name))
        except ReportError as error:
            raise click.ClickException(str(error).replace("--name", argument, 1)) from None
    records_a, records_b = records
    comparison = compare_records(records_a, records_b, tolerance)
    names = (name_a, name_b) if uri_a == uri_b else (f"{name_a} in {uri_a}", f"{name_b} in {uri_b}")
    print_comparison(comparison, names, _console())
    if not comparison.agrees:
        raise SystemExit(1)


@main.command()
@click.option("--name", required=True, help="The sweep's name.")
@tracking_option
@click.option("--watch", type=float, default=None, help="Refresh every N seconds until the sweep ends.")
@one_line_errors
def status(name: str, tracking_uri: str | None, watch: float | None) -> None:
    """Where a sweep stands: search trials and cells done, running, failed, pending."""
    import time

    from rich.live import Live

    from sweeper.results.links import answer_lines
    from sweeper.results.status import read_status, status_table

    uri, client = _reading_client(tracking_uri, name)
    current = read_status(client, name)
    console = _console()
    if watch is None:
        console.print(status_table(current))
        _print_links(console, answer_lines(client, uri, current.experiment_id, current.sweep_run_id, current.scales))
        return
    with Live(status_table(current), console=console, auto_refresh=False) as live:
        while current.sweep_status == "RUNNING":
            time.sleep(watch)
            current = read_status(client, name)
            live.update(status_table(current), refresh=True)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tasks(as_json: bool) -> None:
    """List the registered tasks."""
    from tasks import TASKS, training_sources

    entries = [
        {
            "name": task.name,
            "kind": task.kind,
            "family": task.family,
            "metric": task.metric,
            "train_source": task.train_source,
            "languages": list(task.languages),
            # The hub splits it trains on, in order ([] for one evaluated straight from the encoder).
            "train": [f"{s.dataset}:{s.config}:{s.split}@{s.revision}" for s in training_sources(task)],
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
            entry["train_source"] or "none",
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
    table = Table(
        "name", "model", "parameters", "GPUs/trial", "batch/device", "precision", "grad ckpt", "recipe lr", "lr range"
    )
    for s in SCALES.values():
        low, high = s.learning_rate_range
        table.add_row(
            s.name, s.model, f"{s.parameters:,}", str(s.gpus), str(s.per_device_batch), s.precision,
            "yes" if s.gradient_checkpointing else "no", f"{s.learning_rate:g}", f"{low:g}–{high:g}",
        )  # fmt: skip
    _console().print(table)


@main.command("score")
@click.argument("pred_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("label_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--benchmark", type=click.Choice(["xtreme", "xtreme-r"]), default="xtreme-r", show_default=True)
@click.option("--split", type=click.Choice(["test", "dev"]), default="test", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {task: {metric: {lang: value}}} and the averages.")
@one_line_errors
def score(pred_dir: str, label_dir: str, benchmark: str, split: str, as_json: bool) -> None:
    """Score predictions in the XTREME submission layout (<task>/test-<lang>.<ext>) against labels."""
    from sweeper.results.score import score_command

    score_command(pred_dir, label_dir, benchmark, split, as_json)


@main.group()
def data() -> None:
    """Data in the local mirror layout."""


def _task_list(task_names: str | None) -> list[str]:
    """The --tasks given (default every task), or a one-line error naming the unknown ones."""
    from tasks import TASKS

    if task_names is None:
        return list(TASKS)
    names = [name.strip() for name in task_names.split(",") if name.strip()]
    unknown = [name for name in names if name not in TASKS]
    if unknown or not names:
        given = ", ".join(unknown) or "(none given)"
        raise click.ClickException(f"--tasks: unknown {given}; valid: {', '.join(TASKS)}")
    return names


@data.command("mirror")
@click.option("--tasks", "task_names", required=True, help="Comma list of tasks to mirror.")
@click.option("--languages", default=None, help="Comma list of languages [default: all of each task's].")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="The mirror's root directory.")
@one_line_errors
def mirror(task_names: str, languages: str | None, out: str) -> None:
    """Copy tasks' splits from the hub into the local layout, for `launch --data DIR` offline.
    Each split is written whole or not at all; a rerun skips those already there."""
    from rich.progress import Progress, TextColumn

    from tasks import TASKS, mirror_sources, mirror_split
    from tasks.data import is_mirrored
    from tasks.hub import listing_error

    names = _task_list(task_names)
    wanted = [lang.strip() for lang in languages.split(",")] if languages else None
    sources = list(dict.fromkeys((name, s) for name in names for s in mirror_sources(TASKS[name], wanted)))
    console = _console()
    failures: list[str] = []
    skipped = 0
    with Progress(*Progress.get_default_columns(), TextColumn("{task.fields[split]}"), console=console) as bar:
        progress = bar.add_task("mirroring", total=len(sources), split="")
        for name, source in sources:
            bar.update(progress, split=f"{source.dataset} {source.config or ''} {source.split}")
            if is_mirrored(source, out):
                skipped += 1
            else:
                try:
                    mirror_split(source, out)
                except Exception as error:  # noqa: BLE001 - each failure is a line of the summary
                    failures.append(f"{name} {source.dataset}@{source.revision} {source.config}/{source.split}: "
                                    f"{listing_error(error)}")  # fmt: skip
            bar.advance(progress)
    done = len(sources) - len(failures)
    console.print(f"{done} of {len(sources)} splits of {', '.join(names)} in {out} ({skipped} already there)")
    if failures:
        for line in failures:
            console.print(f"failed: {line}", markup=False, highlight=False, soft_wrap=True)
        raise click.ClickException(f"{len(failures)} splits failed (above); rerun to retry them, the others are kept")
    console.print(f"use `xsweep launch --data {out}`")


@data.command("check")
@click.option("--tasks", "task_names", default=None, help="Comma list of tasks [default: every task].")
@click.option("--languages", default=None, help="Comma list of languages [default: all of each task's].")
@one_line_errors
def check_data(task_names: str | None, languages: str | None) -> None:
    """Ask the hub (no data downloaded) whether each source's repository, revision and files
    exist: one line per source; exit 1 where any is missing."""
    from tasks import TASKS
    from tasks.checks import check_sources
    from tasks.sources import labelled_sources

    wanted = [lang.strip() for lang in languages.split(",")] if languages else None
    rows = [row for name in _task_list(task_names) for row in labelled_sources(TASKS[name], wanted)]
    checks = check_sources(rows)
    for check in checks:
        click.echo(check.line())
    failed = sum(not check.ok for check in checks)
    local = len(rows) - len(checks)
    click.echo(f"{len(checks) - failed} of {len(checks)} hub sources OK; {local} local-only sources not asked for")
    if failed:
        raise SystemExit(1)


@data.command("fetch")
@click.argument("task_names", metavar="TASKS")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="The local layout's root (--data DIR).")
@click.option(
    "--languages", default=None, help="Comma list of languages [default: all of each task's; a task with none: all]."
)
@click.option(
    "--source-url",
    "source_urls",
    multiple=True,
    metavar="TASK=URL",
    help="A task's base URL instead of its official one (a mirror of the same files); repeatable.",
)
@one_line_errors
def fetch_data(task_names: str, out: str, languages: str | None, source_urls: tuple[str, ...]) -> None:
    """Build local-only tasks (lareqa, bucc2018, cosmosqa) from their official files into the
    local layout, with each file's SHA-256; a rerun skips the splits already there."""
    from tasks import TASKS
    from tasks.fetch import CONVERTERS, FetchError, fetch

    names = _task_list(task_names)
    unknown = [name for name in names if name not in CONVERTERS]
    if unknown:
        raise click.ClickException(
            f"TASKS: {', '.join(unknown)} has no official files to fetch; valid: {', '.join(CONVERTERS)}"
        )
    urls = {}
    for given in source_urls:
        name, sep, url = given.partition("=")
        if not sep or name not in names or not url:
            raise click.ClickException(f"--source-url: {given!r}; valid: TASK=URL for one of {', '.join(names)}")
        urls[name] = url
    wanted = [lang.strip() for lang in languages.split(",")] if languages else None
    failures = []
    for name in names:
        task = TASKS[name]
        chosen = tuple(lang for lang in wanted if lang in task.languages) if wanted else None
        try:
            done = fetch(task, out, chosen or None, urls.get(name))
        except FetchError as error:
            failures.append(f"{name}: {error}")
            continue
        for record in done.files:
            click.echo(f"{name} {record['file']} sha256 {record['sha256']}")
        click.echo(f"{name}: {len(done.written)} splits written, {len(done.kept)} already there")
    if failures:
        for line in failures:
            click.echo(f"failed: {line}")
        raise click.ClickException(f"{len(failures)} tasks failed (above); rerun to retry them, the others are kept")
    click.echo(
        f"use `xsweep launch --local-data {out}` (the other tasks from --data, the hub by default; "
        f"or offline, mirrored there too: `xsweep data mirror --out {out}`, then --data {out})"
    )


@data.command("table")
def data_table() -> None:
    """Print the catalog's sources as the Markdown table of docs/tasks.md."""
    from tasks import TASKS
    from tasks.sources import source_table

    click.echo(source_table(TASKS.values()), nl=False)


@data.command("demo")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Where to write the mirror.")
@one_line_errors
def demo_data(out: str) -> None:
    """Write the generated demo sample set (a few languages, xnli pawsx mnli qqp)."""
    from tasks.demo import write_demo_data

    click.echo(f"demo data written to {write_demo_data(out)}")

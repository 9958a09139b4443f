"""Do batches grouped by length move final scores? The same small sweep on the demo data,
launched twice through the real CLI (``--batch-order grouped``, then ``random``), same seeds;
prints, per cell (scale, intermediate, target), the English and non-English dev accuracy of
each order over seeds (mean, and the spread: min to max), the difference of the means, and
whether grouped's mean lies within random order's seed spread. ``--control`` calibrates that
test: one launch in random order with twice the seeds, its second half against its first
(what seeds alone move; the intermediate, trained once on seed 0, is the same in both halves).

    python benchmarks/batch_order_scores.py [--scales tiny] [--intermediate mnli] [--targets xnli,pawsx]
                                            [--trials 2] [--seeds 3] [--control]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from statistics import mean

from mlflow import MlflowClient

XSWEEP = str(Path(sys.executable).with_name("xsweep"))
ORDERS = ("grouped", "random")


Scores = dict[tuple[str, str, str], dict[str, list[float]]]


def launch(order: str, seeds: int, args: argparse.Namespace, data: Path, work: Path, tracking_uri: str) -> None:
    command = [
        XSWEEP, "launch", "--name", f"order-{order}", "--scales", args.scales, "--intermediate", args.intermediate,
        "--targets", args.targets, "--trials", str(args.trials), "--seeds", str(seeds), "--data", str(data),
        "--batch-order", order, "--no-table",
    ]  # fmt: skip
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}
    subprocess.run(command, cwd=work, env=env, check=True, stdout=subprocess.DEVNULL)


def dev_scores(client: MlflowClient, sweep: str) -> Scores:
    """Per cell, the target runs' dev accuracy (en; mean over the other languages), by seed."""
    experiment = client.get_experiment_by_name(sweep)
    runs = client.search_runs([experiment.experiment_id], "tags.phase = 'target'", max_results=10_000)
    scores: Scores = defaultdict(lambda: defaultdict(list))
    for run in sorted(runs, key=lambda run: int(run.data.tags["seed"])):
        tags, metrics = run.data.tags, run.data.metrics
        cell = (tags["scale"], tags["intermediate"], tags["target"])
        scores[cell]["en"].append(metrics["dev/accuracy/en"])
        scores[cell]["non-en"].append(metrics["dev/accuracy/avg_non_en"])
    return scores


def seeds_from(scores: Scores, first: int, count: int) -> Scores:
    """The scores of seeds ``first`` to ``first + count - 1`` of every cell."""
    return {cell: {part: v[first : first + count] for part, v in parts.items()} for cell, parts in scores.items()}


def compare(tested: Scores, reference: Scores, names: tuple[str, str]) -> None:
    """Per (cell, split): each side's mean [min, max] over its seeds, Δ of the means, and whether
    the tested mean lies within the reference's seed spread (its lowest to its highest seed)."""
    print(f"{'cell':<24}{'split':<8}{names[0]:>22}{names[1]:>22}{'Δ':>8}  within")
    deltas: dict[str, list[float]] = defaultdict(list)
    within = []
    for cell in sorted(tested):
        for part in ("en", "non-en"):
            values, spread = tested[cell][part], reference[cell][part]
            shown = [f"{mean(v):.3f} [{min(v):.3f}, {max(v):.3f}]" for v in (values, spread)]
            deltas[part].append(mean(values) - mean(spread))
            within.append(min(spread) <= mean(values) <= max(spread))
            mark = "yes" if within[-1] else "no"
            print(f"{'/'.join(cell):<24}{part:<8}{shown[0]:>22}{shown[1]:>22}{deltas[part][-1]:>+8.3f}  {mark}")
    print(
        f"{names[0]}'s mean within {names[1]}'s seed spread: {sum(within)} of {len(within)} rows; "
        + "; ".join(f"mean Δ {part} {mean(values):+.3f}" for part, values in deltas.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="tiny")
    parser.add_argument("--intermediate", default="mnli")
    parser.add_argument("--targets", default="xnli,pawsx")
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--control", action="store_true", help="random order on seeds n..2n-1 against seeds 0..n-1 (one launch)"
    )
    args = parser.parse_args()
    n = args.seeds
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tracking_uri = f"sqlite:///{work / 'mlflow.db'}"
        subprocess.run([XSWEEP, "data", "demo", "--out", str(work / "data")], check=True, stdout=subprocess.DEVNULL)
        scores = {}
        for order in ("random",) if args.control else ORDERS:
            launch(order, 2 * n if args.control else n, args, work / "data", work, tracking_uri)
            scores[order] = dev_scores(MlflowClient(tracking_uri), f"order-{order}")
    if args.control:
        print(f"dev accuracy, random order: seeds {n}..{2 * n - 1} against seeds 0..{n - 1}: mean [min, max]")
        compare(seeds_from(scores["random"], n, n), seeds_from(scores["random"], 0, n), ("other seeds", "random"))
    else:
        print(f"dev accuracy over seeds 0..{n - 1}: mean [min, max]; Δ = grouped - random of the means")
        compare(scores["grouped"], scores["random"], ("grouped", "random"))


if __name__ == "__main__":
    main()

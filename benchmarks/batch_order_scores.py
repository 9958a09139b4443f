"""Do batches grouped by length move final scores? The same small sweep on the demo data,
launched twice through the real CLI (``--batch-order grouped``, then ``random``), same seeds;
prints, per cell (scale, intermediate, target), the English and non-English dev accuracy of
each order over seeds (mean, and the spread: min to max), and the difference of the means.

    python benchmarks/batch_order_scores.py [--scales tiny] [--intermediate mnli] [--targets xnli,pawsx]
                                            [--trials 2] [--seeds 3]
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


def launch(order: str, args: argparse.Namespace, data: Path, work: Path, tracking_uri: str) -> None:
    command = [
        XSWEEP, "launch", "--name", f"order-{order}", "--scales", args.scales, "--intermediate", args.intermediate,
        "--targets", args.targets, "--trials", str(args.trials), "--seeds", str(args.seeds), "--data", str(data),
        "--batch-order", order, "--no-table",
    ]  # fmt: skip
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}
    subprocess.run(command, cwd=work, env=env, check=True, stdout=subprocess.DEVNULL)


def dev_scores(client: MlflowClient, sweep: str) -> dict[tuple[str, str, str], dict[str, list[float]]]:
    """Per cell, the target runs' dev accuracy (en; mean over the other languages), by seed."""
    experiment = client.get_experiment_by_name(sweep)
    runs = client.search_runs([experiment.experiment_id], "tags.phase = 'target'", max_results=10_000)
    scores: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for run in sorted(runs, key=lambda run: int(run.data.tags["seed"])):
        tags, metrics = run.data.tags, run.data.metrics
        cell = (tags["scale"], tags["intermediate"], tags["target"])
        scores[cell]["en"].append(metrics["dev/accuracy/en"])
        scores[cell]["non-en"].append(metrics["dev/accuracy/avg_non_en"])
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="tiny")
    parser.add_argument("--intermediate", default="mnli")
    parser.add_argument("--targets", default="xnli,pawsx")
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tracking_uri = f"sqlite:///{work / 'mlflow.db'}"
        subprocess.run([XSWEEP, "data", "demo", "--out", str(work / "data")], check=True, stdout=subprocess.DEVNULL)
        scores = {}
        for order in ORDERS:
            launch(order, args, work / "data", work, tracking_uri)
            scores[order] = dev_scores(MlflowClient(tracking_uri), f"order-{order}")
    print(f"dev accuracy over seeds 0..{args.seeds - 1}: mean [min, max]; Δ = grouped - random of the means")
    print(f"{'cell':<24}{'split':<8}{'grouped':>22}{'random':>22}{'Δ':>8}  within")
    deltas: dict[str, list[float]] = defaultdict(list)
    within = []
    for cell in sorted(scores["grouped"]):
        for part in ("en", "non-en"):
            grouped, shuffled = scores["grouped"][cell][part], scores["random"][cell][part]
            shown = [f"{mean(values):.3f} [{min(values):.3f}, {max(values):.3f}]" for values in (grouped, shuffled)]
            deltas[part].append(mean(grouped) - mean(shuffled))
            # Within the seed spread: grouped's mean lies between random's lowest and highest seed.
            within.append(min(shuffled) <= mean(grouped) <= max(shuffled))
            mark = "yes" if within[-1] else "no"
            print(f"{'/'.join(cell):<24}{part:<8}{shown[0]:>22}{shown[1]:>22}{deltas[part][-1]:>+8.3f}  {mark}")
    print(
        f"grouped's mean within random's seed spread: {sum(within)} of {len(within)} rows; "
        + "; ".join(f"mean Δ {part} {mean(values):+.3f}" for part, values in deltas.items())
    )


if __name__ == "__main__":
    main()

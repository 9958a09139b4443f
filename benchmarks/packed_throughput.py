"""Packed GPUs: the training tokens/s of N trials sharing one device at once, against one
trial alone. Each trial is its own process (as Ray runs trials that ask for a fraction of a
GPU), training through xsweep's training stage exactly as ``train_throughput.py`` does
(batches grouped by length, XNLI-like lengths); the processes wait for each other after
their warm-up steps, so that their timed steps overlap. The aggregate is the real tokens of
every trial's timed steps over the span from the first start to the last end.

With ``--calibration-out FILE`` it writes what ``xsweep plan --calibration FILE`` reads
(``sweeper/resources/calibration.py``): per packing, the token positions per second one trial trains
(padding included, as the plan counts them), so that a plan packing trials prices them at the
measured speed instead of an assumed gain.

    python benchmarks/packed_throughput.py [--shape base] [--packing 1,2,4] [--device cuda] [--calibration-out FILE]

On a CPU (``--device cpu``) it runs as a smoke test: the processes split the cores.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
from pathlib import Path

import datasets
import numpy as np
import torch
import transformers
from transformers import AutoTokenizer

sys.path.insert(0, str(Path(__file__).parent))
from train_throughput import XNLI_LONGEST, XNLI_MEAN, Meter, encoders, measure, mnli_like_data  # noqa: E402

from sweeper.resources.padding import lognormal_lengths  # noqa: E402
from tasks.batching import GROUPED  # noqa: E402


class TogetherMeter(Meter):
    """A ``Meter`` whose timing starts once every packed trial has finished its warm-up."""

    def __init__(self, warmup: int, steps: int, barrier) -> None:
        super().__init__(warmup, steps)
        self.barrier = barrier

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.warmup:
            self.barrier.wait()
        return super().on_step_end(args, state, control, **kwargs)


def one_trial(rank: int, packed: int, barrier, encoder: str, data: str, args: argparse.Namespace, out) -> None:
    """A packed trial's process: train, then send back its tokens and its timed span."""
    if args.device == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // packed))
    datasets.disable_progress_bars()
    transformers.utils.logging.set_verbosity_error()
    meter = TogetherMeter(args.warmup, args.steps, barrier)
    with tempfile.TemporaryDirectory() as work:
        row = measure(args.shape, Path(encoder), Path(data), GROUPED, args, Path(work), meter)
    memory = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float("nan")
    out.put({**row, "rank": rank, "positions": meter.real + meter.pad, "real": meter.real,
             "start": meter.start, "end": meter.start + meter.seconds, "memory_gib": memory})  # fmt: skip


def run_packed(packed: int, encoder: Path, data: Path, args: argparse.Namespace) -> dict:
    """``packed`` trials at once; their aggregate and per-trial speeds."""
    context = multiprocessing.get_context("spawn")
    barrier, out = context.Barrier(packed), context.Queue()
    processes = [
        context.Process(target=one_trial, args=(rank, packed, barrier, str(encoder), str(data), args, out))
        for rank in range(packed)
    ]
    for process in processes:
        process.start()
    trials = [out.get() for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"packing {packed}: a trial's process exited with {process.exitcode}")
    span = max(t["end"] for t in trials) - min(t["start"] for t in trials)
    per_trial = [t["positions"] / (t["end"] - t["start"]) for t in trials]
    return {
        "packing": packed,
        "aggregate_real_tokens_per_s": sum(t["real"] for t in trials) / span,
        "trial_tokens_per_s": float(np.mean(per_trial)),
        "memory_gib": max(t["memory_gib"] for t in trials),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="base", choices=("tiny", "base"))
    parser.add_argument("--packing", default="1,2,4", help="trials per device to measure, comma-separated")
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--examples", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--peak-tflops", type=float, default=None, help="the GPU's dense bf16 peak")
    parser.add_argument("--calibration-out", default=None, help="write per-trial tokens/s per packing here (JSON)")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA GPU here; valid: --device cpu for a smoke run")
    packings = [int(n) for n in args.packing.split(",")]
    if not packings or min(packings) < 1:
        raise SystemExit(f"--packing: {args.packing!r}; valid: positive integers, comma-separated")
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the spawned trials see no GPU either
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    lengths = lognormal_lengths(XNLI_MEAN, args.examples, XNLI_LONGEST, np.random.default_rng(0))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        encoder = encoders([args.shape], work / "models")[args.shape]
        mnli_like_data(lengths, AutoTokenizer.from_pretrained(encoder), work / "data")
        rows = [run_packed(n, encoder, work / "data", args) for n in packings]
    alone = next((row for row in rows if row["packing"] == 1), None)
    steps = f"{args.warmup} warm-up + {args.steps} timed steps"
    print(f"{device_name}; {args.shape}; batch {args.batch_size}, grouped by length; {steps}")
    header = f"{'aggregate real tokens/s':>26}{'per trial tokens/s':>20}{'vs one alone':>14}{'peak GiB':>10}"
    print(f"{'packing':>8}{header}")
    for row in rows:
        ratio = row["aggregate_real_tokens_per_s"] / alone["aggregate_real_tokens_per_s"] if alone else float("nan")
        print(
            f"{row['packing']:>8}{row['aggregate_real_tokens_per_s']:>26,.0f}{row['trial_tokens_per_s']:>20,.0f}"
            f"{ratio:>13.2f}x{row['memory_gib']:>10.1f}"
        )
    if args.calibration_out:
        entries = [
            {
                "scale": args.shape,
                "gpu": device_name,
                "packing": row["packing"],
                "tokens_per_s": row["trial_tokens_per_s"],
            }
            for row in rows
        ]
        calibration = {"version": 1, "source": "benchmarks/packed_throughput.py", "entries": entries}
        Path(args.calibration_out).write_text(json.dumps(calibration, indent=2) + "\n")
        print(f"calibration written to {args.calibration_out}")


if __name__ == "__main__":
    main()

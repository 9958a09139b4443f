"""Tracking overhead: the same tiny fine-tuning with xsweep's full tracking and with none.

Each repetition trains the tiny model on the demo MNLI set through ``sweeper.train.finetune`` twice,
alternating the order, evaluating and saving its checkpoint each time: once with the
trial's tracking (an MLflow run with its params, system metrics sampled every 2 s as in a
trial, the loss logged every 10 steps through ``LossLogger``, the metrics
and the checkpoint uploaded as an artifact), once with none.
It prints, for each, the median wall seconds per optimizer step while training (the
Trainer's loop with its logging callback and the system-metrics sampler running beside it:
the step time tracking must not slow) and per step of the whole stage (adding the run's
creation, the final metrics, the checkpoint's upload: fixed costs of a run, which in this
2-second training weigh as they never do in a real one), and their ratios.

    python benchmarks/tracking_overhead.py [--repeats 3] [--tracking-uri sqlite:///...]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import datasets
import transformers
from mlflow.tracking import MlflowClient

from sweeper.record.system_metrics import SystemSampler
from sweeper.record.tracking import TrackedRun, with_averages
from sweeper.train.finetune import Hyperparameters, evaluate, fine_tune
from sweeper.train.pretrained import build_tiny_model
from sweeper.trial.trainable import LossLogger
from tasks import get_task, load_split
from tasks.demo import write_demo_data

HPARAMS = Hyperparameters(
    learning_rate=1e-3, seed=0, epochs=1, batch_size=16, max_length=128, warmup_ratio=0.1, per_device_batch=16
)


def one_training(work: Path, data: Path, encoder: Path, uri: str | None, experiment_id: str) -> tuple[float, float]:
    """Seconds per optimizer step of one fine-tune's training loop, and of the whole stage
    (with its tracking, when ``uri`` is set)."""
    task = get_task("mnli")
    run = monitor = None
    start = time.perf_counter()
    if uri is not None:
        run = TrackedRun.start(MlflowClient(uri), experiment_id, "overhead", {"phase": "benchmark"})
        run.log_params({"learning_rate": HPARAMS.learning_rate, "batch_size": HPARAMS.batch_size})
        monitor = SystemSampler(run).start()
    callbacks = [LossLogger(run)] if run is not None else []
    training_started = time.perf_counter()
    tuned = fine_tune(str(encoder), task, str(data), HPARAMS, work / "trainer", callbacks)
    training = time.perf_counter() - training_started
    # Both sides evaluate and save; only the tracked side sends the results to MLflow.
    evaluation = evaluate(tuned, task, str(data), ["en"], ["dev"], HPARAMS.max_length)
    checkpoint = tuned.save_encoder(work / "checkpoint")
    if run is not None:
        monitor.finish()
        run.log_metrics(with_averages(evaluation.metrics))
        run.log_artifacts(checkpoint, "checkpoint")
        run.finish()
    steps = tuned.trainer.state.global_step
    return training / steps, (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tracking-uri", default=None, help="[default: a SQLite file in a temporary folder]")
    args = parser.parse_args()
    datasets.disable_progress_bars()
    transformers.utils.logging.set_verbosity_error()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = write_demo_data(work / "data")
        rows = load_split(get_task("mnli").train, str(data))
        encoder = build_tiny_model(list(rows["premise"]) + list(rows["hypothesis"]), work / "tiny")
        uri = args.tracking_uri or f"sqlite:///{work / 'mlflow.db'}"
        client = MlflowClient(uri)
        experiment_id = client.create_experiment(f"overhead-{time.time():.0f}", artifact_location=(work / "a").as_uri())
        # Untimed warm-up: imports, the tokenizer's caches, the database's tables.
        one_training(work, data, encoder, uri, experiment_id)
        tracked, untracked = [], []
        for repeat in range(args.repeats):
            order = [True, False] if repeat % 2 == 0 else [False, True]
            for with_tracking in order:
                seconds = one_training(work, data, encoder, uri if with_tracking else None, experiment_id)
                (tracked if with_tracking else untracked).append(seconds)
    steps = 2000 // HPARAMS.batch_size
    print(f"tiny model, demo MNLI (2000 examples, {steps} steps), {args.repeats} repetitions each, tracking: {uri}")
    rows = {"full tracking, system metrics on": tracked, "no tracking": untracked}
    print(f"{'':<36}{'s / step, training':>20}{'s / step, whole stage':>24}")
    medians = {name: [statistics.median(part) for part in zip(*times, strict=True)] for name, times in rows.items()}
    for name, (training, whole) in medians.items():
        print(f"{name:<36}{training:>20.4f}{whole:>24.4f}")
    (tracked_training, tracked_whole), (untracked_training, untracked_whole) = medians.values()
    print(f"{'ratio':<36}{tracked_training / untracked_training:>20.3f}{tracked_whole / untracked_whole:>24.3f}")


if __name__ == "__main__":
    main()

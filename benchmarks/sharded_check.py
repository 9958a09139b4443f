"""Sharded-path check: xsweep's own stage code (``sweeper.train.finetune``) fine-tunes and saves a
small XLM-R with FSDP2 in bf16, the way XL and XXL trials train on their Ray Train workers.

Run it under torchrun on CUDA GPUs, one process per GPU:

    torchrun --nproc_per_node=N benchmarks/sharded_check.py

It checks that the Trainer really shards (Accelerate enables FSDP on accelerators only: on
CPUs the same arguments fall back to plain data parallelism), that evaluation gathers every
example, and that the checkpoint gathered from the shards is the whole trained encoder,
loadable as the next stage's. Imports torch, transformers, datasets and xsweep's
``tasks``/``sweeper.train.finetune`` only (no Ray, MLflow or Optuna).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
from transformers import AutoModel

from sweeper.train.finetune import Hyperparameters, evaluate, fine_tune
from sweeper.train.pretrained import build_tiny_model
from tasks import get_task, load_split
from tasks.demo import write_demo_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", default=None, help="a folder every process sees [default: a temporary one]")
    args = parser.parse_args()
    rank = int(os.environ.get("RANK", 0))
    if "WORLD_SIZE" in os.environ and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="xsweep-sharded-"))
    task = get_task("mnli")
    if rank == 0:
        data = write_demo_data(work / "data")
        rows = load_split(task.train, str(data))
        build_tiny_model(list(rows["premise"]) + list(rows["hypothesis"]), work / "pretrained")
    if dist.is_initialized():
        dist.barrier()
    hparams = Hyperparameters(
        learning_rate=1e-3,
        seed=0,
        epochs=1,
        batch_size=32,
        max_length=128,
        warmup_ratio=0.1,
        per_device_batch=32 // max(1, int(os.environ.get("WORLD_SIZE", 1))),
        bf16=True,
        gradient_checkpointing=True,
        sharded=True,
    )
    start = time.perf_counter()
    tuned = fine_tune(str(work / "pretrained"), task, str(work / "data"), hparams, work / "trainer")
    trained_s = time.perf_counter() - start
    evaluation = evaluate(tuned, task, str(work / "data"), ["en"], ["dev"], hparams.max_length)
    checkpoint = tuned.save_encoder(work / "checkpoint")
    if not tuned.is_main_process:
        return
    state = tuned.trainer.accelerator.state
    trained = AutoModel.from_pretrained(checkpoint).state_dict()
    pretrained = AutoModel.from_pretrained(work / "pretrained").state_dict()
    same_shapes = trained.keys() == pretrained.keys() and all(trained[k].shape == pretrained[k].shape for k in trained)
    changed = sum(not torch.equal(trained[k], pretrained[k]) for k in trained)
    predictions = len(evaluation.predictions[("dev", "en")])
    checks = {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU",
        "processes": tuned.trainer.args.world_size,
        "distributed type": str(state.distributed_type),
        "FSDP enabled (sharded)": tuned.trainer.is_fsdp_enabled,
        "FSDP version": getattr(getattr(state, "fsdp_plugin", None), "fsdp_version", "-"),
        "bf16": tuned.trainer.args.bf16,
        "training seconds": round(trained_s, 1),
        "dev accuracy (en)": evaluation.metrics["dev/accuracy/en"],
        "dev predictions / examples": f"{predictions} / {len(load_split(task.dev['en'], str(work / 'data')))}",
        "checkpoint: all tensors, full shapes": same_shapes,
        "checkpoint: tensors changed by training": f"{changed} / {len(trained)}",
    }
    width = max(len(name) for name in checks)
    for name, value in checks.items():
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()

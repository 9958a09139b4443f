"""The GPUs a cost plan prices a sweep on (``sweeper/resources/cost.py``); apart, so that the command
line shows their defaults without importing the plan and the task registry."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hardware:
    gpus: int = 8
    gpu_hour_price: float = 2.0
    # An A100's dense bf16 peak, and a utilisation fine-tuning encoders commonly reaches.
    peak_tflops: float = 312.0
    utilisation: float = 0.35
    # GiB of one GPU, where base and large trials are packed onto GPUs (sweeper/resources/packing.py).
    gpu_memory_gib: float | None = None

    def gpu_hours(self, flops: float) -> float:
        return flops / (self.peak_tflops * 1e12 * self.utilisation) / 3600

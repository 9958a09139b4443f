"""How many single-GPU trials share one GPU: a scale's measured training memory against the
GPU's memory, turned into the fraction of a GPU each trial asks Ray for. Plain functions over
measured numbers; ``sweeper/resources/placement.py`` and the cost plan use them.

Ray schedules a fractional GPU as a share of the device (``num_gpus=0.25``: four tasks at
once) and leaves its memory to the tasks, whose job it is not to use more than their share
(https://docs.ray.io/en/latest/ray-core/scheduling/accelerators.html, "Fractional
accelerators"): the budget here is what keeps packed trials apart, and a packed trial caps
its own allocator at its share (``sweeper/trial/trainable.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Measured:
    """One scale's training step alone on one GPU: bf16, AdamW, its per-device batch."""

    memory_gib: float  # peak allocated
    mfu: float  # model FLOPs utilisation


# benchmarks/gpu_check.py on one NVIDIA H200 at 256 tokens a sequence (benchmarks/README.md).
MEASURED_AT_TOKENS = 256
MEASURED: dict[str, Measured] = {
    "base": Measured(memory_gib=6.5, mfu=0.118),
    "large": Measured(memory_gib=11.0, mfu=0.112),
}
# The best utilisation that GPU reached training these encoders (large at batch 32): packed
# trials are assumed to reach no more together, until packed throughput is measured.
BEST_MEASURED_MFU = 0.202
# Past four, trials mostly wait on each other's kernels: the issue asks for 2-4.
MOST_PER_GPU = 4
# Share of the GPU's memory the budgets may fill: each process's CUDA context and the
# allocator's fragmentation take the rest.
USABLE_MEMORY = 0.9
# Ray's smallest unit of a resource (MIN_RESOURCE_GRANULARITY in ray/_private/ray_constants.py):
# a share is rounded down to it, so ``trials`` shares never add up to more than one GPU.
RAY_RESOURCE_STEP = 1e-4


@dataclass(frozen=True)
class Packing:
    """How a scale's trials share a GPU, and why."""

    scale: str
    trials_per_gpu: int
    # What each trial asks Ray for.
    gpu_fraction: float
    trial_memory_gib: float
    gpu_memory_gib: float
    # The longest sequence the budget is sized for.
    max_length: int
    # How much more a packed GPU trains than one trial alone (≤ trials_per_gpu): the cost
    # plan divides GPU-hours by it.
    throughput_gain: float
    # Whether that gain was measured (a calibration's entries at this packing and at 1), or assumed.
    gain_measured: bool = False

    def reason(self) -> str:
        usable = self.gpu_memory_gib * USABLE_MEMORY
        alone = MEASURED[self.scale].mfu
        if self.trials_per_gpu == 1:
            return (
                f"{self.scale}: one trial per GPU ({self.trial_memory_gib:.1f} GiB a trial leaves no room for a "
                f"second in {usable:.0f} of {self.gpu_memory_gib:g} GiB)"
            )
        shared = (
            f"{self.scale}: {self.trials_per_gpu} trials share a GPU ({self.gpu_fraction:g} GPU each: "
            f"{self.trial_memory_gib:.1f} GiB a trial at up to {self.max_length} tokens, from "
            f"{MEASURED[self.scale].memory_gib:g} GiB measured at {MEASURED_AT_TOKENS}, within {usable:.0f} "
            f"of {self.gpu_memory_gib:g} GiB); "
        )
        if self.gain_measured:
            return shared + (
                f"GPU-hours ÷ {self.throughput_gain:.2f}, as measured: {self.trials_per_gpu} trials together "
                f"trained {self.throughput_gain:.2f} times the tokens/s of one alone (the calibration file)"
            )
        return shared + (
            f"GPU-hours ÷ {self.throughput_gain:.2f}, assuming packed trials reach together the best "
            f"utilisation one H200 reached ({BEST_MEASURED_MFU:.1%} MFU; {alone:.1%} for one {self.scale} trial "
            "alone) - an assumption until packed throughput is measured"
        )


def trial_memory_gib(scale: str, max_length: int) -> float:
    """A trial's memory budget: the measured peak, scaled up with the sweep's longest sequence
    where it exceeds the measured one (activations grow at most linearly with it; scaling the
    whole peak, weights and optimizer state included, errs on the safe side)."""
    return MEASURED[scale].memory_gib * max(1.0, max_length / MEASURED_AT_TOKENS)


def trials_per_gpu(trial_memory: float, gpu_memory: float) -> int:
    """How many trials of ``trial_memory`` GiB one GPU of ``gpu_memory`` GiB holds: at least
    one (an unpacked trial is what ran before), at most ``MOST_PER_GPU``."""
    if trial_memory <= 0 or gpu_memory <= 0:
        raise ValueError("memory must be positive")
    return max(1, min(MOST_PER_GPU, math.floor(gpu_memory * USABLE_MEMORY / trial_memory)))


def gpu_fraction(trials: int) -> float:
    """The share of a GPU each of ``trials`` asks for, in Ray's resource steps."""
    steps = round(1 / RAY_RESOURCE_STEP)
    return (steps // trials) / steps


def packing_of(scale: str, gpu_memory: float, max_length: int) -> Packing | None:
    """How ``scale``'s trials share GPUs of ``gpu_memory`` GiB; None for a scale that is not
    packed (CPU scales, and multi-GPU scales, whose Train workers hold whole GPUs)."""
    if scale not in MEASURED:
        return None
    memory = trial_memory_gib(scale, max_length)
    trials = trials_per_gpu(memory, gpu_memory)
    gain = min(float(trials), max(1.0, BEST_MEASURED_MFU / MEASURED[scale].mfu))
    return Packing(scale, trials, gpu_fraction(trials), memory, gpu_memory, max_length, gain)


def gpu_fractions(scales: tuple[str, ...], gpu_memory: float | None, max_length: int) -> dict[str, float]:
    """What each packed scale's trials ask for; empty without a GPU memory (no packing)."""
    if gpu_memory is None:
        return {}
    packings = (packing_of(scale, gpu_memory, max_length) for scale in scales)
    return {packing.scale: packing.gpu_fraction for packing in packings if packing is not None}

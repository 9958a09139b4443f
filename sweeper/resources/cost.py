"""The cost plan: what a sweep will train and what that costs, before anything starts.

Compute is estimated from model FLOPs: 6 · parameters · tokens to train, 2 · parameters ·
tokens to evaluate, at a stated fraction of the GPU's peak. Token counts come from the
registry (published split sizes × estimated mean tokens × epochs), or from counting the
examples of a local mirror. Training runs on padded batches: the tokens it processes are the
real ones times the padding that batches grouped by length leave (``sweeper/resources/padding.py``),
from the lengths of a local mirror's examples, else from the registry's mean with XNLI's
spread. A calibration file (``sweeper/resources/calibration.py``) replaces the assumed utilisation by
measured tokens/s for the scales it covers. Where the GPU's memory is given, base and large
trials are packed onto GPUs (``sweeper/resources/packing.py``), and their GPU-hours shrink by the
throughput a packed GPU is assumed to gain. Beside the compute, the bytes the sweep stores:
encoder checkpoints, predictions, registered models and resume checkpoints
(``sweeper/resources/storage.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from sweeper.plan.plan import Cell, Plan
from sweeper.plan.scales import SCALES, batch_layout
from sweeper.plan.spec import NONE, SweepSpec
from sweeper.resources.calibration import Calibration
from sweeper.resources.hardware import Hardware
from sweeper.resources.packing import MEASURED, Packing, packing_of
from sweeper.resources.padding import SAMPLE, lognormal_lengths, padding_factor, scaled_to_mean
from sweeper.resources.storage import StoragePlan, human_bytes, storage_plan
from tasks import HUB, Task, family_of, texts_of, training_sources
from tasks.batching import GROUPED


@dataclass(frozen=True)
class ScaleCost:
    scale: str
    parameters: int
    gpus_per_trial: int
    trials: int
    train_tokens: float
    # The training tokens plus the padding of their batches: what the GPUs process.
    padded_tokens: float
    gpu_hours: float
    # The longest intermediate/search → target chain, in wall-clock hours on its own GPUs.
    longest_chain_hours: float
    # Where its speed comes from: measured tokens/s, or the assumed utilisation.
    throughput: str = ""
    # How its trials share GPUs, where they do.
    packing: Packing | None = None


@dataclass(frozen=True)
class CostPlan:
    hardware: Hardware
    scales: list[ScaleCost]
    # Training tokens of one training run of each task.
    task_tokens: dict[str, float]
    cells: int
    trials_per_study: int
    intermediate_trainings: int
    intermediate_trainings_without_reuse: int
    # Where each task's lengths come from (a local mirror's examples, or the registry's mean).
    length_sources: dict[str, str] | None = None
    # The bytes it stores, its trials running on the hardware's GPUs.
    storage: StoragePlan | None = None

    @property
    def gpu_hours(self) -> float:
        return sum(scale.gpu_hours for scale in self.scales)

    @property
    def wall_hours(self) -> float:
        """A lower bound: the GPUs kept busy, and never shorter than the longest chain."""
        chain = max((scale.longest_chain_hours for scale in self.scales), default=0.0)
        return max(self.gpu_hours / self.hardware.gpus, chain)

    @property
    def cost(self) -> float:
        return self.gpu_hours * self.hardware.gpu_hour_price


def _train_tokens(task: Task, data: str, per_device_batch: int | None = None, order: str = GROUPED) -> float:
    """Tokens a task's training reads: examples × mean tokens × epochs; for a multi-task run,
    its members' (one pass over every member's data is an epoch). With ``per_device_batch``,
    the padding of batches of that size drawn in ``order`` included."""
    parts = family_of(task.family).members(task) or (task,)
    tokens = 0.0
    for part in parts:
        factor = padding_factor(train_lengths(part, data), per_device_batch, order) if per_device_batch else 1.0
        tokens += _train_examples(part, data) * part.size.mean_tokens * factor
    return tokens * task.recipe.epochs


def train_lengths(task: Task, data: str) -> np.ndarray:
    """Lengths in tokens of (up to 20,000 of) a task's training examples: a local mirror's
    examples' own spread (their characters) scaled to the registry's mean tokens, or, on the
    hub, a log-normal of that mean with XNLI's spread."""
    local = data != HUB and task.train is not None
    files = tuple(source.local_path(data) for source in training_sources(task)) if local else ()
    return _lengths(files, task.size.mean_tokens, task.recipe.max_length)


@cache
def _lengths(files: tuple[str, ...], mean: int, longest: int) -> np.ndarray:
    if not files:
        return lognormal_lengths(mean, SAMPLE, longest, np.random.default_rng(0))
    sizes = []
    for path in files:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip() and len(sizes) < SAMPLE:
                    sizes.append(sum(len(text) for text in texts_of([json.loads(line)])))
    return scaled_to_mean(sizes, mean, longest)


def _train_examples(task: Task, data: str) -> int:
    """Examples over all training stages: the published sizes, or a local mirror's lines."""
    if task.train is None:
        return 0
    if data == HUB:
        return task.size.train_examples
    return _examples_in(tuple(source.local_path(data) for source in training_sources(task)))


@cache
def _examples_in(files: tuple[str, ...]) -> int:
    """Non-empty lines of the files: read once however many scales and orders a plan prices."""
    examples = 0
    for path in files:
        with open(path, "rb") as handle:
            examples += sum(1 for line in handle if line.strip())
    return examples


def estimate(
    plan: Plan,
    hardware: Hardware,
    calibration: Calibration | None = None,
    gpu: str = "",
    keep_target_checkpoints: bool = False,
) -> CostPlan:
    """The plan's GPU-hours: from model FLOPs at ``hardware``'s assumed utilisation, or, for the
    scales ``calibration`` measured on ``gpu`` (one trial per GPU), at the measured tokens/s;
    and its bytes (target runs' models too where ``keep_target_checkpoints``)."""
    spec = plan.spec
    tasks = {name: plan.tasks[name] for name in (*spec.intermediates, *spec.targets)}
    train_tokens = {name: _train_tokens(task, spec.data) for name, task in tasks.items()}
    scale_costs = [
        _scale_cost(plan, name, train_tokens, _speed(plan, name, hardware, calibration, gpu)) for name in spec.scales
    ]
    with_intermediate = [cell for cell in plan.cells if cell.intermediate != NONE]
    return CostPlan(
        hardware=hardware,
        scales=scale_costs,
        task_tokens=train_tokens,
        cells=len(plan.cells),
        trials_per_study=spec.trials,
        intermediate_trainings=len(spec.scales) * len(spec.intermediates) * spec.trials,
        # Trained once per (intermediate, target, seed), as a pipeline per pair would.
        intermediate_trainings_without_reuse=len(with_intermediate) * spec.trials,
        length_sources={name: _length_source(task, spec.data) for name, task in tasks.items()},
        storage=storage_plan(plan, hardware.gpus, hardware.gpu_memory_gib, keep_target_checkpoints),
    )


@dataclass(frozen=True)
class _Speed:
    """How fast one trial of a scale trains, and how its trials share GPUs."""

    flops_per_s: float
    # Where the speed comes from (ScaleCost.throughput).
    throughput: str
    packing: Packing | None

    @property
    def gain(self) -> float:
        """A packed GPU trains ``gain`` times what one trial alone would."""
        return self.packing.throughput_gain if self.packing else 1.0

    @property
    def slowdown(self) -> float:
        """Each packed trial, sharing its GPU, takes trials_per_gpu / gain times as long."""
        return self.packing.trials_per_gpu / self.gain if self.packing else 1.0


def _speed(plan: Plan, scale: str, hardware: Hardware, calibration: Calibration | None, gpu: str) -> _Speed:
    measured = calibration.tokens_per_s(scale, gpu) if calibration else None
    # A measured trial trains ``measured`` tokens/s at the plan's 6 · parameters FLOPs each.
    flops_per_s = (
        measured * 6 * SCALES[scale].parameters if measured else hardware.peak_tflops * 1e12 * hardware.utilisation
    )
    packing = None
    if hardware.gpu_memory_gib is not None:
        packing = packing_of(scale, hardware.gpu_memory_gib, plan.longest_sequence)
    if packing and measured and calibration:
        packing = _measured_gain(packing, measured, calibration.tokens_per_s(scale, gpu, packing.trials_per_gpu))
    throughput = f"measured {measured:,.0f} tokens/s on {gpu}" if measured else "assumed"
    return _Speed(flops_per_s, throughput, packing)


def _scale_cost(plan: Plan, scale_name: str, train_tokens: dict[str, float], speed: _Speed) -> ScaleCost:
    """One scale's trials: each study's learning-rate trials and one run per cell, what they
    train and what that takes at ``speed``."""
    spec, scale = plan.spec, SCALES[scale_name]
    padded = _padded_tokens(plan, scale_name)
    # One study per intermediate, and per target that trains (BUCC has no learning rate).
    studied = [key.task for key in plan.studies if key.scale == scale_name]
    cells = [cell for cell in plan.cells if cell.scale == scale_name]
    study_flops = {name: _trial_flops(plan.tasks[name], 1, scale.parameters, padded[name]) for name in studied}
    run_flops = {
        target: _trial_flops(plan.tasks[target], len(plan.languages[target]), scale.parameters, padded[target])
        for target in spec.targets
    }
    flops = sum(study_flops.values()) * spec.trials + sum(run_flops[cell.target] for cell in cells)
    chain = max(
        max(study_flops.get(cell.target, 0.0), study_flops.get(cell.intermediate, 0.0)) + run_flops[cell.target]
        for cell in cells
    )
    return ScaleCost(
        scale=scale_name,
        parameters=scale.parameters,
        gpus_per_trial=scale.gpus,
        trials=len(studied) * spec.trials + len(cells),
        train_tokens=_over_trials(train_tokens, studied, cells, spec.trials),
        padded_tokens=_over_trials(padded, studied, cells, spec.trials),
        gpu_hours=flops / speed.flops_per_s / 3600 / speed.gain,
        longest_chain_hours=chain / speed.flops_per_s / 3600 / max(scale.gpus, 1) * speed.slowdown,
        throughput=speed.throughput,
        packing=speed.packing,
    )


def _padded_tokens(plan: Plan, scale_name: str) -> dict[str, float]:
    """Per task, the tokens one training run processes in the scale's batches, padding included."""
    spec, scale = plan.spec, SCALES[scale_name]
    padded = {}
    for name in (*spec.intermediates, *spec.targets):
        task = plan.tasks[name]
        per_device, _ = batch_layout(task.recipe.batch_size, scale.per_device_batch, max(scale.gpus, 1))
        padded[name] = _train_tokens(task, spec.data, per_device, spec.batch_order)
    return padded


def _trial_flops(task: Task, languages: int, parameters: int, padded_tokens: float) -> float:
    """Training on the padded tokens, then evaluating on ``languages``."""
    eval_tokens = task.size.eval_examples_per_language * task.size.mean_tokens * languages
    return 6 * parameters * padded_tokens + 2 * parameters * eval_tokens


def _over_trials(per_task: dict[str, float], studied: list[str], cells: list[Cell], trials: int) -> float:
    """A per-task amount over a scale's trials: ``trials`` per study, one run per cell."""
    return sum(per_task[name] for name in studied) * trials + sum(per_task[cell.target] for cell in cells)


def _measured_gain(packing: Packing, alone: float, packed: float | None) -> Packing:
    """``packing`` with the gain a calibration measured (trials per GPU × one packed trial's
    tokens/s ÷ one trial's alone), where it measured this packing; else as it was."""
    if packed is None or packing.trials_per_gpu == 1:
        return packing
    return replace(packing, throughput_gain=packing.trials_per_gpu * packed / alone, gain_measured=True)


def _length_source(task: Task, data: str) -> str:
    parts = family_of(task.family).members(task) or (task,)
    local = data != HUB and any(part.train is not None for part in parts)
    return "its examples' spread, scaled to the mean" if local else "the mean, with XNLI's spread"


def describe_data(data: str) -> str:
    return "the hub's split sizes" if data == HUB else f"examples counted in {Path(data)}"


def _tokens(value: float) -> str:
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}"


def _hours(value: float) -> str:
    return f"{value:,.1f}" if value >= 0.1 else f"{value:.3f}"


def print_cost_plan(cost: CostPlan, spec: SweepSpec, console: Console) -> None:
    hw = cost.hardware
    console.print(
        f"sweep {spec.name}: {cost.cells} cells, {cost.trials_per_study} learning-rate trials per study; "
        f"intermediate trainings {cost.intermediate_trainings} "
        f"(a pipeline per (intermediate, target, seed) would train {cost.intermediate_trainings_without_reuse})"
    )
    per_task = Table(
        "task", "training tokens (one run)", "lengths from", title=f"training data ({describe_data(spec.data)})"
    )
    for name, tokens in cost.task_tokens.items():
        per_task.add_row(name, _tokens(tokens), (cost.length_sources or {}).get(name, ""))
    console.print(per_task)
    assumed = f"{hw.utilisation:.0%} of {hw.peak_tflops:g} TFLOP/s per GPU"
    table = Table(title=f"compute: 6·params·tokens to train, padding of {spec.batch_order} batches included")
    headers = ("scale", "parameters", "GPUs/trial", "trials", "training tokens", "with padding", "GPU-hours")
    for header in (*headers, "longest chain h", "speed"):
        table.add_column(header, justify="left" if header in ("scale", "speed") else "right")
    for row in cost.scales:
        table.add_row(
            row.scale,
            _tokens(row.parameters),
            f"{row.packing.gpu_fraction:g}" if row.packing else str(row.gpus_per_trial),
            str(row.trials),
            _tokens(row.train_tokens),
            _tokens(row.padded_tokens),
            _hours(row.gpu_hours),
            _hours(row.longest_chain_hours),
            row.throughput if row.throughput != "assumed" else assumed,
        )
    console.print(table)
    if cost.storage is not None:
        print_storage(cost.storage, console)
    if any(row.throughput == "assumed" for row in cost.scales):
        console.print(
            f"assumed: {assumed} (--gpu-tflops, --utilisation); --calibration FILE from "
            "benchmarks/gpu_check.py prices scales at their measured tokens/s"
        )
    packed = [row.packing for row in cost.scales if row.packing is not None]
    for packing in packed:
        console.print(packing.reason())
    if hw.gpu_memory_gib is None and any(row.scale in MEASURED for row in cost.scales):
        console.print("one trial per GPU: --gpu-memory GIB packs base and large trials onto GPUs their memory allows")
    console.print(
        f"total {_hours(cost.gpu_hours)} GPU-hours; at least {_hours(cost.wall_hours)} h wall time on {hw.gpus} GPUs; "
        f"cost {cost.cost:,.2f} at {hw.gpu_hour_price:g} per GPU-hour"
        + (f"; storage {human_bytes(cost.storage.total)}" if cost.storage else "")
    )


def print_storage(storage: StoragePlan, console: Console) -> None:
    """Per scale, what the sweep stores and where; a total row; one line on what the totals mean."""
    table = Table(title="storage: bytes as the trials write them (docs/cost-plan.md#storage)")
    summed = ["encoder_checkpoints", "registered_models", "predictions"]
    headers = ["scale", "encoders logged", "registered models", "predictions"]
    if any(row.target_checkpoints for row in storage.scales):
        summed.append("target_checkpoints")
        headers.append("target models")
    for header in (*headers, "resume, one trial", "trials at once", "resume at once"):
        table.add_column(header, justify="left" if header == "scale" else "right")
    for row in storage.scales:
        amounts = [human_bytes(value) for value in (*(getattr(row, name) for name in summed), row.resume_per_trial)]
        table.add_row(row.scale, *amounts, str(row.trials_at_once), human_bytes(row.resume_at_once))
    totals = (sum(getattr(row, name) for row in storage.scales) for name in summed)
    table.add_row("total", *(human_bytes(value) for value in totals), "", "", human_bytes(storage.resume_peak))
    console.print(table)
    console.print(
        f"storage: {human_bytes(storage.artifacts)} of artifacts in the tracking store (every intermediate trial's "
        "encoder as logged, before the unselected are dropped; registered models are the selected ones, no copy), "
        f"and at most {human_bytes(storage.resume_peak)} of resume checkpoints at once under --storage-path "
        f"(weights and AdamW state of the trials that {storage.gpus} GPUs run together, whatever their scales); "
        f"total {human_bytes(storage.total)}",
        markup=False,
    )


def print_grouped_saving(cost: CostPlan, grouped: CostPlan, console: Console) -> None:
    """One line: the GPU-hours and token positions the same sweep would take with grouped batches."""
    positions = sum(row.padded_tokens for row in cost.scales)
    grouped_positions = sum(row.padded_tokens for row in grouped.scales)
    console.print(
        f"with --batch-order grouped: {_hours(grouped.gpu_hours)} GPU-hours instead of {_hours(cost.gpu_hours)} "
        f"({_tokens(grouped_positions)} token positions instead of {_tokens(positions)}); "
        "compare scores on a sample first (README, Training batches)"
    )

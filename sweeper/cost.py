"""The cost plan: what a sweep will train and what that costs, before anything starts.

Compute is estimated from model FLOPs: 6 · parameters · tokens to train, 2 · parameters ·
tokens to evaluate, at a stated fraction of the GPU's peak. Token counts come from the
registry (published split sizes × estimated mean tokens × epochs), or from counting the
examples of a local mirror. Where the GPU's memory is given, base and large trials are
packed onto GPUs (``sweeper/packing.py``), and their GPU-hours shrink by the throughput a packed
GPU is assumed to gain.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sweeper.hardware import Hardware
from sweeper.packing import MEASURED, Packing, packing_of
from sweeper.plan import Plan
from sweeper.scales import SCALES
from sweeper.spec import NONE, SweepSpec
from tasks import HUB, Task, family_of, training_sources


@dataclass(frozen=True)
class ScaleCost:
    scale: str
    parameters: int
    gpus_per_trial: int
    trials: int
    train_tokens: float
    gpu_hours: float
    # The longest intermediate/search → target chain, in wall-clock hours on its own GPUs.
    longest_chain_hours: float
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


def _train_tokens(task: Task, data: str) -> float:
    """Tokens a task's training reads: examples × mean tokens × epochs; for a multi-task run,
    its members' (one pass over every member's data is an epoch)."""
    parts = family_of(task.family).members(task) or (task,)
    return sum(_train_examples(part, data) * part.size.mean_tokens for part in parts) * task.recipe.epochs


def _train_examples(task: Task, data: str) -> int:
    """Examples over all training stages: the published sizes, or a local mirror's lines."""
    if task.train is None:
        return 0
    if data == HUB:
        return task.size.train_examples
    examples = 0
    for source in training_sources(task):
        with open(source.local_path(data), "rb") as handle:
            examples += sum(1 for line in handle if line.strip())
    return examples


def estimate(plan: Plan, hardware: Hardware) -> CostPlan:
    spec = plan.spec
    names = (*spec.intermediates, *spec.targets)
    tasks = {name: plan.tasks[name] for name in names}
    train_tokens = {name: _train_tokens(task, spec.data) for name, task in tasks.items()}

    def eval_tokens(name: str, languages: int) -> float:
        return tasks[name].size.eval_examples_per_language * tasks[name].size.mean_tokens * languages

    scale_costs = []
    for scale_name in spec.scales:
        scale = SCALES[scale_name]
        params = scale.parameters
        packing = None
        if hardware.gpu_memory_gib is not None:
            packing = packing_of(scale_name, hardware.gpu_memory_gib, plan.longest_sequence)
        # A packed GPU trains ``gain`` times what one trial alone would; each packed trial,
        # sharing it, takes trials_per_gpu / gain times as long.
        gain = packing.throughput_gain if packing else 1.0
        slowdown = packing.trials_per_gpu / gain if packing else 1.0

        def trial_flops(name: str, languages: int, params: int = params) -> float:
            return 6 * params * train_tokens[name] + 2 * params * eval_tokens(name, languages)

        # One study per intermediate, and per target that trains (BUCC has no learning rate).
        studied = [key.task for key in plan.studies if key.scale == scale_name]
        study_flops = {name: trial_flops(name, 1) for name in studied}
        run_flops = {t: trial_flops(t, len(plan.languages[t])) for t in spec.targets}
        cells = [cell for cell in plan.cells if cell.scale == scale_name]
        flops = sum(study_flops.values()) * spec.trials + sum(run_flops[cell.target] for cell in cells)
        tokens = sum(train_tokens[name] for name in studied) * spec.trials
        tokens += sum(train_tokens[cell.target] for cell in cells)
        chain = max(
            max(study_flops.get(cell.target, 0.0), study_flops.get(cell.intermediate, 0.0)) + run_flops[cell.target]
            for cell in cells
        )
        scale_costs.append(
            ScaleCost(
                scale=scale_name,
                parameters=params,
                gpus_per_trial=scale.gpus,
                trials=len(studied) * spec.trials + len(cells),
                train_tokens=tokens,
                gpu_hours=hardware.gpu_hours(flops) / gain,
                longest_chain_hours=hardware.gpu_hours(chain) / max(scale.gpus, 1) * slowdown,
                packing=packing,
            )
        )
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
    )


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
    per_task = Table("task", "training tokens (one run)", title=f"training data ({describe_data(spec.data)})")
    for name, tokens in cost.task_tokens.items():
        per_task.add_row(name, _tokens(tokens))
    console.print(per_task)
    table = Table(
        title=f"compute at {hw.utilisation:.0%} of {hw.peak_tflops:g} TFLOP/s per GPU (6·params·tokens to train)"
    )
    for header in ("scale", "parameters", "GPUs/trial", "trials", "training tokens", "GPU-hours", "longest chain h"):
        table.add_column(header, justify="left" if header == "scale" else "right")
    for row in cost.scales:
        table.add_row(
            row.scale,
            _tokens(row.parameters),
            f"{row.packing.gpu_fraction:g}" if row.packing else str(row.gpus_per_trial),
            str(row.trials),
            _tokens(row.train_tokens),
            _hours(row.gpu_hours),
            _hours(row.longest_chain_hours),
        )
    console.print(table)
    packed = [row.packing for row in cost.scales if row.packing is not None]
    for packing in packed:
        console.print(packing.reason())
    if hw.gpu_memory_gib is None and any(row.scale in MEASURED for row in cost.scales):
        console.print("one trial per GPU: --gpu-memory GIB packs base and large trials onto GPUs their memory allows")
    console.print(
        f"total {_hours(cost.gpu_hours)} GPU-hours; at least {_hours(cost.wall_hours)} h wall time on {hw.gpus} GPUs; "
        f"cost {cost.cost:,.2f} at {hw.gpu_hour_price:g} per GPU-hour"
    )

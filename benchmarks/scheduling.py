"""Scheduling benchmark: does the one-Tuner DAG keep GPUs busy across scales?

A realistic sweep (base, large, xl; two intermediates, two targets; by default 1 trial per
study and 1 seed) runs through xsweep's real launch path (spec, plan, searcher, Optuna,
Tune's placement on logical GPUs, XL trials on Ray Train workers, MLflow tracking), with
each trial's training replaced by a sleep in proportion to its FLOPs (6 · parameters ·
training tokens, spread over the trial's GPUs), scaled down so the sweep takes minutes. It prints the measured
makespan against the lower bound max(total GPU-time / GPUs, longest chain), and against a
two-stage barrier schedule (every search trial, then every target run) simulated with the
same durations and the same largest-first greedy placement.

    python benchmarks/scheduling.py [--gpus 8] [--longest-trial 12] [--trials 1] [--seeds 1]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

import ray
from mlflow.tracking import MlflowClient

from sweeper.cost import Hardware, estimate
from sweeper.launch import LaunchOptions, launch
from sweeper.plan import TARGET, make_plan
from sweeper.rehearsal import END, START, sleeping_trial
from sweeper.scales import SCALES
from sweeper.spec import NONE, build_spec

SPEC = {"scales": "base,large,xl", "intermediate": "mnli,qqp", "targets_": "xnli,pawsx"}


@dataclass(frozen=True)
class Job:
    name: str
    gpus: int
    seconds: float
    stage: int  # 1: a study trial; 2: a target run
    needs: tuple[str, ...] = ()


def trial_seconds(longest_trial: float, spec: dict) -> dict[tuple[str, str], float]:
    """Seconds of one trial of each (scale, task), in proportion to FLOPs per GPU."""
    plan = make_plan(build_spec(**spec))
    tokens = estimate(plan, Hardware()).task_tokens
    gpu_flops = {
        (scale, task): 6 * SCALES[scale].parameters * tokens[task] / SCALES[scale].gpus
        for scale in plan.spec.scales
        for task in tokens
    }
    top = max(gpu_flops.values())
    return {key: longest_trial * flops / top for key, flops in gpu_flops.items()}


def jobs(seconds: dict[tuple[str, str], float], spec: dict) -> list[Job]:
    plan = make_plan(build_spec(**spec))
    found = []
    for study in plan.studies:
        for index in range(plan.spec.trials):
            name = f"{study.scale}/{study.phase}/{study.task}/t{index}"
            found.append(Job(name, SCALES[study.scale].gpus, seconds[(study.scale, study.task)], 1))
    for cell in plan.cells:
        trials = range(plan.spec.trials)
        needs = [f"{cell.scale}/target_search/{cell.target}/t{i}" for i in trials]
        if cell.intermediate != NONE:
            needs += [f"{cell.scale}/intermediate/{cell.intermediate}/t{i}" for i in trials]
        name = f"{cell.scale}/{cell.intermediate}/{cell.target}/s{cell.seed}"
        found.append(Job(name, SCALES[cell.scale].gpus, seconds[(cell.scale, cell.target)], 2, tuple(needs)))
    return found


def simulate(all_jobs: list[Job], gpus: int, barrier: bool) -> float:
    """Greedy list scheduling, largest GPU need first: with a barrier between the stages,
    or with each target run waiting only for the studies it needs."""
    done_at: dict[str, float] = {}
    running: list[tuple[float, Job]] = []
    waiting = sorted(all_jobs, key=lambda job: (job.stage, -job.gpus))
    now, free = 0.0, gpus
    while waiting or running:
        for job in list(waiting):
            stage_open = not barrier or job.stage == 1 or all(j.stage == 2 for j in waiting + [r for _, r in running])
            ready = all(need in done_at for need in job.needs) if not barrier else stage_open
            if ready and job.gpus <= free:
                waiting.remove(job)
                running.append((now + job.seconds, job))
                free -= job.gpus
        running.sort(key=lambda item: item[0])
        now, finished = running.pop(0)
        done_at[finished.name] = now
        free += finished.gpus
    return now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=8, help="logical GPUs of the local Ray")
    parser.add_argument("--longest-trial", type=float, default=12.0, help="seconds of the longest trial")
    parser.add_argument("--trials", type=int, default=1, help="learning-rate trials per study")
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    sweep = {**SPEC, "trials": args.trials, "seeds": args.seeds}
    seconds = trial_seconds(args.longest_trial, sweep)
    all_jobs = jobs(seconds, sweep)
    gpu_time = sum(job.gpus * job.seconds for job in all_jobs)
    chain = max(
        max(j.seconds for j in all_jobs if j.name in job.needs) + job.seconds for job in all_jobs if job.stage == 2
    )
    lower_bound = max(gpu_time / args.gpus, chain)

    ray.init(address="local", num_cpus=2 * args.gpus, num_gpus=args.gpus, include_dashboard=False, log_to_driver=False)
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        spec = build_spec(**sweep, name="scheduling")
        # The durations travel inside each trial's config, keyed by scale/task.
        bench = {f"{scale}/{task}": value for (scale, task), value in seconds.items()}

        def trainable(config: dict) -> None:
            sleeping_trial({**config, "seconds": bench})

        options = LaunchOptions(
            uri, storage_path=str(Path(tmp) / "tune"), trainable=trainable, collective_backend="gloo"
        )
        result = launch(spec, options)
        client = MlflowClient(uri)
        runs = client.search_runs([result.experiment_id], f"metrics.`{END}` > 0", max_results=1000)
    starts = [run.data.metrics[START] for run in runs]
    ends = [run.data.metrics[END] for run in runs]
    measured = max(ends) - min(starts)
    barrier = simulate(all_jobs, args.gpus, barrier=True)
    ideal_dag = simulate(all_jobs, args.gpus, barrier=False)
    targets = sum(run.data.tags.get("phase") == TARGET for run in runs)

    print(f"\n{len(runs)} trials ({targets} target runs) on {args.gpus} logical GPUs", end="; ")
    print(f"longest trial {args.longest_trial:g} s")
    print(f"{'schedule':<44}{'makespan s':>12}{'÷ lower bound':>15}")
    rows = [
        ("lower bound max(GPU-time / GPUs, chain)", lower_bound),
        ("xsweep: one Tuner, DAG searcher (measured)", measured),
        ("same DAG, greedy, no overheads (simulated)", ideal_dag),
        ("two-stage barrier (simulated)", barrier),
    ]
    for name, value in rows:
        print(f"{name:<44}{value:>12.1f}{value / lower_bound:>15.2f}")
    print(f"barrier ÷ xsweep measured: {barrier / measured:.2f}")
    # Where measured and simulated part: each trial's start-up before its GPU work began.
    print(f"\n{'scale':<8}{'trials':>8}{'start-up s (median)':>22}{'sleep s':>10}")
    for scale in sweep["scales"].split(","):
        mine = [run for run in runs if run.data.tags.get("scale") == scale]
        startup = statistics.median(run.data.metrics[START] - run.info.start_time / 1000 for run in mine)
        sleep = max(value for (s, _), value in seconds.items() if s == scale)
        print(f"{scale:<8}{len(mine):>8}{startup:>22.1f}{sleep:>10.1f}")


if __name__ == "__main__":
    main()

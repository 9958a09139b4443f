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

With ``--autoscaler`` the sweep runs instead on Ray's real autoscaler (the fake multi-node
provider, all on loopback): a 2-CPU head and one-GPU workers from 0 up to ``--max-workers``,
the base scale only (the issue-18 shape: mnli,qqp × xnli,pawsx, 2 trials, 2 seeds by
default), submitted with `ray job submit`. It prints the peak of trials running at once,
the GPU-node-seconds the cluster was up against the GPU-seconds of work (their lower
bound), and the idle node-seconds before scale-down; ``--without-config`` launches without
the autoscaler's config (concurrency from the nodes alive at launch), for comparison.

    python benchmarks/scheduling.py --autoscaler [--max-workers 4] [--idle-timeout 15] [--without-config]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import ray
from mlflow.tracking import MlflowClient
from ray.job_submission import JobStatus, JobSubmissionClient

from sweeper.launch.launch import LaunchOptions, launch
from sweeper.plan.plan import TARGET, make_plan
from sweeper.plan.scales import SCALES
from sweeper.plan.spec import NONE, build_spec
from sweeper.rehearsal.fake_cluster import FakeCluster, fake_cluster_config, free_port, start_fake_cluster
from sweeper.rehearsal.stand_in import END, NODES, START, sleeping_trial
from sweeper.resources.cost import Hardware, estimate
from tasks.demo import write_demo_data

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
    parser.add_argument("--trials", type=int, default=None, help="learning-rate trials per study [1; autoscaler: 2]")
    parser.add_argument("--seeds", type=int, default=None, help="[1; autoscaler: 2]")
    parser.add_argument("--autoscaler", action="store_true", help="on Ray's fake autoscaling cluster (base only)")
    parser.add_argument("--max-workers", type=int, default=4, help="autoscaler: one-GPU workers at most")
    parser.add_argument("--idle-timeout", type=float, default=15.0, help="autoscaler: seconds before an idle node goes")
    parser.add_argument("--without-config", action="store_true", help="autoscaler: launch without its config")
    args = parser.parse_args()
    if args.autoscaler:
        autoscaler_main(args)
        return
    sweep = {**SPEC, "trials": args.trials or 1, "seeds": args.seeds or 1}
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

        storage = str(Path(tmp) / "tune")
        result = launch(spec, LaunchOptions(uri, storage_path=storage, trainable=trainable, collective_backend="gloo"))
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


AUTOSCALED_SPEC = {"scales": "base", "intermediate": "mnli,qqp", "targets_": "xnli,pawsx"}


@dataclass
class NodeSpan:
    """One GPU node as the benchmark saw it: from when it was alive until it was gone."""

    node_id: str
    gpus: int
    up: float
    down: float


def watch_nodes(cluster: FakeCluster, spans: dict[str, NodeSpan], until: float) -> None:
    """Poll the head's state API each second until ``until``, or until no GPU node is left
    once the job is done (the caller's deadline); every GPU node's span is kept in ``spans``."""
    while time.time() < until:
        now = time.time()
        alive = {n["node_id"]: n for n in cluster.alive_nodes() if n["resources"].get("GPU", 0) > 0}
        for node_id, node in alive.items():
            span = spans.setdefault(node_id, NodeSpan(node_id, int(node["resources"]["GPU"]), now, now))
            span.down = now
        if not alive and spans:
            return
        time.sleep(1)


def run_autoscaled(
    args: argparse.Namespace, work: Path, sweep: dict, seconds: dict[str, float]
) -> tuple[list, dict[str, NodeSpan]]:
    """``sweep`` as a Ray job on a fresh fake autoscaling cluster, on the demo data: its runs and
    the GPU nodes' spans."""
    workers = {"gpu_1x": {"resources": {"CPU": 1, "GPU": 1}, "min_workers": 0, "max_workers": args.max_workers}}
    config = fake_cluster_config({"CPU": 2}, workers, args.max_workers, args.idle_timeout / 60, free_port())
    cluster = start_fake_cluster(config, work / "cluster", cwd=Path(__file__).resolve().parents[1])
    spans: dict[str, NodeSpan] = {}
    try:
        uri = f"sqlite:///{work / 'mlflow.db'}"
        request = {
            "spec": {**sweep, "data": str(write_demo_data(work / "data")), "name": "autoscaled"},
            "tracking_uri": uri, "study_storage": f"sqlite:///{work / 'optuna.db'}", "address": "auto",
            "storage_path": str(work / "tune"), "seconds": seconds,
            "cluster": None if args.without_config else str(cluster.config_path),
        }  # fmt: skip
        (work / "request.json").write_text(json.dumps(request))
        job = cluster.submit([sys.executable, "-m", "sweeper.rehearsal.stand_in", str(work / "request.json")])
        client = JobSubmissionClient(cluster.dashboard)
        while not client.get_job_status(job).is_terminal():
            watch_nodes(cluster, spans, time.time() + 5)
        assert client.get_job_status(job) == JobStatus.SUCCEEDED, client.get_job_logs(job)[-3000:]
        watch_nodes(cluster, spans, time.time() + 10 * args.idle_timeout + 60)
        mlflow = MlflowClient(uri)
        experiment = mlflow.get_experiment_by_name("autoscaled")
        runs = mlflow.search_runs([experiment.experiment_id], f"metrics.`{END}` > 0", max_results=1000)
    finally:
        cluster.stop()
    return runs, spans


def autoscaled_table(args: argparse.Namespace, runs: list, spans: dict[str, NodeSpan]) -> None:
    work = [(run.data.metrics[START], run.data.metrics[END]) for run in runs]
    peak = max(sum(1 for start, end in work if start <= instant < end) for instant, _ in work)
    gpu_seconds = sum(end - start for start, end in work)
    node_seconds = sum(span.gpus * (span.down - span.up) for span in spans.values())
    # Idle before scale-down: from a node's last trial's end until the node was gone.
    last_end = {}
    for run in runs:
        for node in run.data.tags[NODES].split(","):
            last_end[node] = max(last_end.get(node, 0.0), run.data.metrics[END])
    idle = sum(span.down - last_end.get(span.node_id, span.up) for span in spans.values())
    mode = "without the autoscaler's config" if args.without_config else "with the autoscaler's config"
    print(f"\n{len(runs)} base trials on a 2-CPU head and one-GPU workers 0..{args.max_workers}, {mode};")
    print(f"idle timeout {args.idle_timeout:g} s, longest trial {args.longest_trial:g} s")
    print(f"{'measure':<48}{'value':>10}")
    rows = [
        ("peak trials running at once", f"{peak}"),
        ("GPU nodes started", f"{len(spans)}"),
        ("GPU-seconds of work (lower bound)", f"{gpu_seconds:.1f}"),
        ("GPU-node-seconds up", f"{node_seconds:.1f}"),
        ("  ÷ lower bound", f"{node_seconds / gpu_seconds:.2f}"),
        ("idle node-seconds before scale-down", f"{idle:.1f}"),
        ("makespan s (first start to last end)", f"{max(e for _, e in work) - min(s for s, _ in work):.1f}"),
    ]
    for name, value in rows:
        print(f"{name:<48}{value:>10}")


def autoscaler_main(args: argparse.Namespace) -> None:
    sweep = {**AUTOSCALED_SPEC, "trials": args.trials or 2, "seeds": args.seeds or 2}
    seconds = {f"{scale}/{task}": value for (scale, task), value in trial_seconds(args.longest_trial, sweep).items()}
    with tempfile.TemporaryDirectory() as tmp:
        runs, spans = run_autoscaled(args, Path(tmp), sweep, seconds)
    autoscaled_table(args, runs, spans)


if __name__ == "__main__":
    main()

"""A stand-in trainable: each trial's real placement with a sleep where training would be.

The trial opens its MLflow run and runs its stage where its scale says (inside the Tune
trial, or on Ray Train workers joined in one process group), exactly as ``run_trial``
does; the stage sleeps for the trial's given seconds and records when it ran and on which
Ray nodes. The scheduling benchmark and the multi-node tests run whole sweeps with it to
measure and check when and where trials run, without the cost of training; on a cluster
the sweep's driver is a Ray job: ``python -m sweeper.rehearsal.stand_in REQUEST.json``.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

import ray

from sweeper.trial.distributed import StageResult, run_placed

# Metric and tag names of what the stand-in records on each run.
START, END, NODES, DRIVER_NODE = "rehearsal/start", "rehearsal/end", "rehearsal/nodes", "rehearsal/driver_node"


def _sleep_stage(config: dict) -> StageResult:
    # A process group exists only where Ray Train's torch backend made one, which imported
    # torch: a trial alone in its process never imports it (seconds of CPU a trial).
    dist = sys.modules.get("torch.distributed")
    node = ray.get_runtime_context().get_node_id()
    nodes = [node]
    if dist is not None and dist.is_initialized():
        # Every worker's node, through the process group Ray Train set up for the trial.
        nodes = [""] * dist.get_world_size()
        dist.all_gather_object(nodes, node)
    start = time.time()
    time.sleep(config["seconds"])
    return {START: start, END: time.time(), NODES: ",".join(nodes)}


def sleeping_trial(config: dict) -> None:
    """``config`` is a trial's config plus ``seconds``: {"scale/task": seconds of one trial}."""
    # Imported here, in the trial's driver: Train workers running the stage need none of it.
    from mlflow.tracking import MlflowClient
    from ray import tune

    from sweeper.record.tracking import TrackedRun
    from sweeper.trial.trial_spec import SweepShared, TrialSpec

    spec, sweep = TrialSpec.from_config(config), SweepShared.from_config(config)
    seconds = config["seconds"][f"{spec.scale}/{spec.task}"]
    client = MlflowClient(sweep.tracking_uri)
    run = TrackedRun.start(client, sweep.experiment_id, spec.run_name, spec.tags)
    result = run_placed(
        _sleep_stage, {"seconds": seconds}, spec.placement, sweep.storage_path, f"rehearse-{run.run_id}"
    )
    run.log_metrics({START: float(result[START]), END: float(result[END])})
    driver_node = ray.get_runtime_context().get_node_id()
    # The stand-in's own record of where it ran, beside the tags every trial carries.
    run.set_tags({NODES: result[NODES], DRIVER_NODE: driver_node, "workers": spec.placement.workers})
    run.finish()
    # A score that depends only on the learning rate, so the studies select deterministically.
    tune.report({"objective": 0.5 + 0.1 * (spec.learning_rate * 1e5 % 1), "run_id": run.run_id})


def _hold(config: dict, hold: dict) -> None:
    """A search trial keeps the resources it was placed with until ``hold["trials"]`` search
    trials have been placed (each leaves a mark in ``hold["dir"]``: its run's name and when it
    was placed), or for ``hold["at_most_s"]``: how many ran at once is then a count, not luck."""
    from sweeper.plan.plan import TARGET

    if config["trial"]["phase"] == TARGET:
        return
    marks = Path(hold["dir"])
    mark = {"run_name": config["trial"]["run_name"], "placed": time.time()}
    (marks / f"{uuid.uuid4().hex}.json").write_text(json.dumps(mark))
    deadline = time.monotonic() + hold["at_most_s"]
    while len(list(marks.glob("*.json"))) < hold["trials"] and time.monotonic() < deadline:
        time.sleep(0.2)


def rehearse(request: dict) -> None:
    """Launch a whole sweep of sleeping trials: ``request`` holds the spec (build_spec's
    arguments), the stores, the Ray address, the cluster config, each (scale/task)'s seconds,
    and optionally a ``hold`` (see ``_hold``) and the GPU memory that packs trials."""
    from sweeper.launch.launch import LaunchOptions, launch
    from sweeper.plan.spec import build_spec

    seconds, hold = request["seconds"], request.get("hold")

    def trainable(config: dict) -> None:
        if hold:
            _hold(config, hold)
        sleeping_trial({**config, "seconds": seconds})

    options = LaunchOptions(
        request["tracking_uri"],
        address=request["address"],
        study_storage=request["study_storage"],
        storage_path=request["storage_path"],
        trainable=trainable,
        collective_backend="gloo",
        cluster=request.get("cluster"),
        gpu_memory_gib=request.get("gpu_memory_gib"),
    )
    result = launch(build_spec(**request["spec"]), options)
    print(result.summary())
    if not result.ok:
        raise SystemExit(1)


if __name__ == "__main__":
    rehearse(json.loads(Path(sys.argv[1]).read_text()))

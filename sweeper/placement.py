"""Where a trial's training runs: inside its Tune trial, or on Ray Train workers it starts.

Single-GPU scales train inside the Tune trial, which holds the GPU. Multi-GPU scales train
data-parallel (sharded where a full copy does not fit) under Ray Train's ``TorchTrainer``,
started from inside the trial as Train V2 intends: the trial is a one-CPU driver and the
Train workers ask for the GPUs, so nothing is reserved twice. The workers of one trial are
packed onto one node (STRICT_PACK): a 4-GPU trial never straddles nodes or lands on a
1-GPU node, and the autoscaler sees exactly what it must start. A single-GPU trial may ask for
a share of a GPU instead (``sweeper/packing.py``), so that several small trials train on one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sweeper.scales import Scale

# What a stage returns, from rank 0: at least the trial's objective.
StageResult = dict[str, float | str]


@dataclass(frozen=True)
class Placement:
    # 1: train inside the Tune trial; more: that many Ray Train workers, one process each.
    workers: int = 1
    # A share of one GPU (below 1) where single-GPU trials are packed; whole GPUs otherwise.
    gpus_per_worker: float = 0
    # The workers' process group: nccl on real GPUs; gloo on CPUs (and logical GPUs).
    backend: str = "nccl"
    # Shard parameters, gradients and optimizer state across the workers (FSDP).
    sharded: bool = False
    # A custom resource that pins a distributed trial's driver to nodes advertising it (the
    # on-demand head in cluster.yaml), so a spot reclaim never kills a trial's driver.
    driver_resource: str = ""

    @property
    def distributed(self) -> bool:
        return self.workers > 1

    def trial_resources(self) -> dict[str, float]:
        """What the Tune trial itself reserves."""
        if self.distributed:  # a driver; its Train workers reserve their own GPUs
            return {"CPU": 1, self.driver_resource: 1} if self.driver_resource else {"CPU": 1}
        return {"CPU": 1, "GPU": self.gpus_per_worker}

    @property
    def packed(self) -> bool:
        """Shares its GPU with other trials."""
        return 0 < self.gpus_per_worker < 1

    def gpus(self) -> float:
        return self.workers * self.gpus_per_worker


# The custom resource cluster.yaml gives the head node for multi-GPU trials' drivers.
DRIVER_RESOURCE = "trial_driver"


def placement_of(
    scale: Scale, backend: str = "nccl", driver_resource: str = "", gpu_fraction: float = 1.0
) -> Placement:
    """Where ``scale``'s trials train; a single-GPU scale's trial asks for ``gpu_fraction`` of
    its GPU (``sweeper/packing.py``)."""
    if scale.gpus > 1:
        return Placement(scale.gpus, 1, backend, sharded=scale.sharded, driver_resource=driver_resource)
    return Placement(workers=1, gpus_per_worker=scale.gpus * gpu_fraction, backend=backend)


def run_placed(
    stage: Callable[[dict], StageResult],
    config: dict,
    placement: Placement,
    storage_path: str,
    name: str,
    reports_to_tune: bool = False,
) -> StageResult:
    """Run ``stage(config)`` where ``placement`` says and return rank 0's result.

    Distributed, every worker runs the stage (the Trainer finds the process group Ray set
    up) and rank 0 puts its result on a queue (Train V2 returns metrics only with a
    checkpoint, and a stage's checkpoint goes to MLflow, not to Train's storage). With
    ``reports_to_tune``, what the workers report (``ray.train.report``, every rank at once)
    reaches the Tune trial running this as its own report, while the workers run: Ray's
    ``TuneReportCallback`` puts rank 0's metrics on the trial's session queue, which Tune's
    function trainable reads between its own results (ray/tune/integration/ray_train.py and
    ray/train/_internal/session.py in Ray 2.60; https://docs.ray.io/en/latest/train/api/doc/
    ray.tune.integration.ray_train.TuneReportCallback.html). So a study's pruner sees a
    multi-GPU trial's epochs too, and a stop ends the trial's actor, which owns the Train
    controller and so its workers."""
    if not placement.distributed:
        return stage(config)
    from ray import train
    from ray.train.torch import TorchConfig, TorchTrainer
    from ray.tune.integration.ray_train import TuneReportCallback
    from ray.util.queue import Queue

    # An actor that holds no CPU, so it never waits behind the trials it serves.
    results = Queue(maxsize=1, actor_options={"num_cpus": 0})

    def per_worker(worker_config: dict) -> None:
        result = stage(worker_config)
        if train.get_context().get_world_rank() == 0:
            results.put(result)

    trainer = TorchTrainer(
        per_worker,
        train_loop_config=config,
        scaling_config=train.ScalingConfig(
            num_workers=placement.workers,
            use_gpu=placement.gpus_per_worker > 0,
            resources_per_worker={"GPU": placement.gpus_per_worker} if placement.gpus_per_worker else None,
            placement_strategy="STRICT_PACK",
        ),
        torch_config=TorchConfig(backend=placement.backend),
        run_config=train.RunConfig(
            name=name, storage_path=storage_path, callbacks=[TuneReportCallback()] if reports_to_tune else None
        ),
    )
    try:
        trainer.fit()  # raises if any worker failed
        return results.get(timeout=60)
    finally:
        results.shutdown()

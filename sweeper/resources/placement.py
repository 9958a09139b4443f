"""Where a trial's training runs: inside its Tune trial, or on Ray Train workers it starts.

Single-GPU scales train inside the Tune trial, which holds the GPU. Multi-GPU scales train
data-parallel (sharded where a full copy does not fit) under Ray Train's ``TorchTrainer``,
started from inside the trial as Train V2 intends: the trial is a one-CPU driver and the
Train workers ask for the GPUs, so nothing is reserved twice. The workers of one trial are
packed onto one node (STRICT_PACK): a 4-GPU trial never straddles nodes or lands on a
1-GPU node, and the autoscaler sees exactly what it must start. A single-GPU trial may ask for
a share of a GPU instead (``sweeper/resources/packing.py``), so that several small trials train on one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sweeper.plan.scales import Scale


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
    its GPU (``sweeper/resources/packing.py``)."""
    if scale.gpus > 1:
        return Placement(scale.gpus, 1, backend, sharded=scale.sharded, driver_resource=driver_resource)
    return Placement(workers=1, gpus_per_worker=scale.gpus * gpu_fraction, backend=backend)

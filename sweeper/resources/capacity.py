"""How many trials a sweep holds in flight: as many as the cluster may hold, not as it is at launch.

Tune keeps every trial it has started and Ray has not placed yet pending, and on an
autoscaling cluster those pending trials are the demand the autoscaler starts nodes for. So
the sweep's concurrency is what fits on the largest cluster the autoscaler may build (each
worker type at its ``max_workers``, all of them within the cluster's ``max_workers``), and on
a fixed cluster what fits on its nodes: there Tune keeps one trial queued per free slot.
Plain functions over plain data; ``sweeper/resources/cluster.py`` reads the live cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sweeper.resources.packing import RAY_RESOURCE_STEP
from sweeper.resources.placement import Placement

Resources = Mapping[str, float]

# Ray's own default for a config's global max_workers (autoscaler/aws/defaults.yaml).
RAY_DEFAULT_MAX_WORKERS = 2
# What every node reports besides what its config declares; never asked for by a trial.
_NOT_SCHEDULED = ("memory", "object_store_memory")


@dataclass(frozen=True)
class NodeKind:
    resources: Resources
    # How many nodes of this kind the cluster has, or may have at most.
    count: int


@dataclass(frozen=True)
class ClusterSize:
    """The nodes a sweep may use: those there whatever the load (the head, or every node of a
    fixed cluster), and the worker types an autoscaler may add, within ``max_workers`` together."""

    nodes: tuple[NodeKind, ...]
    scalable: tuple[NodeKind, ...] = ()
    max_workers: int | None = None
    # Trials allowed whatever fits now: where nodes may come and the limits are unknown.
    floor: int = 0

    @property
    def autoscaling(self) -> bool:
        return any(kind.count for kind in self.scalable)


def fixed_size(alive: Iterable[Resources], limits_known: bool = True) -> ClusterSize:
    """A cluster of the given nodes' resources. Where more may come and nothing says how many
    (a cluster whose config the launch was not given), one trial per CPU at least, as before
    the autoscaler's limits were read: never less than that much demand for it to see."""
    nodes = tuple(NodeKind(dict(resources), 1) for resources in alive)
    floor = 0 if limits_known else int(sum(node.resources.get("CPU", 0) for node in nodes))
    return ClusterSize(nodes, floor=floor)


def autoscaling_size(config: Mapping) -> ClusterSize:
    """The largest cluster a Ray cluster-launcher config lets its autoscaler build: the head,
    and every worker type up to its max_workers (Ray's default: the global max_workers)."""
    cap = int(config.get("max_workers", RAY_DEFAULT_MAX_WORKERS))
    types = config["available_node_types"]
    head = config["head_node_type"]
    workers = tuple(
        NodeKind(dict(node["resources"]), int(node.get("max_workers", cap)))
        for name, node in types.items()
        if name != head
    )
    return ClusterSize((NodeKind(dict(types[head]["resources"]), 1),), workers, cap)


def config_mismatch(config: Mapping, alive: Iterable[Resources]) -> str | None:
    """Why ``config`` is not the config of a cluster with these nodes (one matching no node
    type's declared resources), or None where it is."""
    types = config["available_node_types"]
    for resources in alive:
        if not any(_declares(node["resources"], resources) for node in types.values()):
            scheduled = {key: value for key, value in resources.items() if _scheduled(key)}
            return f"a node with {scheduled} matches none of its node types ({', '.join(types)})"
    return None


def _scheduled(key: str) -> bool:
    return key not in _NOT_SCHEDULED and not key.startswith(("node:", "accelerator_type:"))


def _declares(declared: Resources, resources: Resources) -> bool:
    return all(resources.get(key, 0) == value for key, value in declared.items() if _scheduled(key))


def fits(node: Resources, bundle: Resources) -> int:
    """How many ``bundle``s one node holds at once; fractions (a packed trial's share of a
    GPU) counted in Ray's own steps, so that 1 // 0.1 is 10 here as it is to Ray, not 9."""
    wanted = {key: amount for key, amount in bundle.items() if amount > 0}
    if not wanted:
        raise ValueError("a trial's bundle asks for nothing")
    return min(_steps(node.get(key, 0)) // _steps(amount) for key, amount in wanted.items())


def _steps(amount: float) -> int:
    return round(amount / RAY_RESOURCE_STEP)


def _slots(size: ClusterSize, bundle: Resources) -> int:
    fixed = sum(fits(kind.resources, bundle) * kind.count for kind in size.nodes)
    # The autoscaler may start any mix of worker types within max_workers: count the mix
    # that holds the most, or the sweep would hold back demand the cluster could meet.
    per_node = sorted((fits(kind.resources, bundle) for kind in size.scalable for _ in range(kind.count)), reverse=True)
    return fixed + sum(per_node[: size.max_workers])


def trial_slots(size: ClusterSize, placement: Placement) -> int:
    """Trials of one placement that fit at once: its own bundle, and where it trains on Ray
    Train workers, their GPUs packed on one node (STRICT_PACK, see ``sweeper/resources/placement.py``)."""
    slots = _slots(size, placement.trial_resources())
    if placement.distributed:
        slots = min(slots, _slots(size, {"GPU": placement.gpus()}))
    return slots


def concurrency(size: ClusterSize, placements: Iterable[Placement]) -> int:
    """Trials Tune may hold running or pending at once (its ``max_concurrent_trials``): as many
    as fit for the sweep's most numerous placement. A scale's trial fits wherever a larger
    scale's does, so this bounds any mix of them. At least one, so that a trial no node fits
    yet still asks the autoscaler for one."""
    return max([1, size.floor, *(trial_slots(size, placement) for placement in placements)])


def node_gpus(size: ClusterSize) -> list[int]:
    """GPUs of each node the cluster has or may have: the worker nodes with the most GPUs
    first, as many as max_workers allows."""
    fixed = [int(kind.resources.get("GPU", 0)) for kind in size.nodes for _ in range(kind.count)]
    scalable = sorted(int(kind.resources.get("GPU", 0)) for kind in size.scalable for _ in range(kind.count))
    return fixed + scalable[::-1][: size.max_workers]

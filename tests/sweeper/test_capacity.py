"""How many trials a sweep keeps in flight, from the cluster's nodes or its autoscaler's limits."""

from __future__ import annotations

import pytest
import yaml

from sweeper.plan.scales import SCALES
from sweeper.resources.capacity import (
    ClusterSize,
    NodeKind,
    autoscaling_size,
    concurrency,
    config_mismatch,
    fits,
    fixed_size,
    node_gpus,
    trial_slots,
)
from sweeper.resources.placement import DRIVER_RESOURCE, placement_of
from tests.conftest import ROOT

BASE = placement_of(SCALES["base"])
XL = placement_of(SCALES["xl"], driver_resource=DRIVER_RESOURCE)
TINY = placement_of(SCALES["tiny"])


def _issue_cluster() -> dict:
    """The autoscaling cluster of issue 18: a 2-CPU head, one-GPU workers from 0 up to 4."""
    return {
        "max_workers": 4,
        "head_node_type": "head",
        "available_node_types": {
            "head": {"resources": {"CPU": 2}, "node_config": {}, "max_workers": 0},
            "gpu_1x": {"resources": {"CPU": 1, "GPU": 1}, "node_config": {}, "min_workers": 0, "max_workers": 4},
        },
    }


def test_a_bundle_fits_as_often_as_its_scarcest_resource_allows() -> None:
    assert fits({"CPU": 8, "GPU": 1}, {"CPU": 1, "GPU": 1}) == 1
    assert fits({"CPU": 96, "GPU": 8}, {"GPU": 4}) == 2
    assert fits({"CPU": 2}, {"CPU": 1, "GPU": 1}) == 0
    assert fits({"CPU": 2}, {"CPU": 1, "GPU": 0}) == 2  # asking for zero of a resource needs none
    with pytest.raises(ValueError):
        fits({"CPU": 2}, {})


def test_an_autoscaling_cluster_is_sized_by_its_workers_maximum_not_by_the_head() -> None:
    """The issue's cluster: at launch only the head (2 CPUs, no GPU) is alive, and the old cap
    (the head's CPUs) allowed 2 trials; its workers' maximum allows 4."""
    size = autoscaling_size(_issue_cluster())
    assert size.autoscaling
    assert trial_slots(size, BASE) == 4
    assert concurrency(size, [BASE]) == 4
    at_launch = fixed_size([{"CPU": 2.0, "memory": 1e9, "node:127.0.0.1": 1.0}])
    assert not at_launch.autoscaling
    assert concurrency(at_launch, [BASE]) == 1  # nothing fits yet: one trial asks for a node


def test_cluster_yaml_allows_every_gpu_at_once() -> None:
    """cluster.yaml: an 8-CPU head, 16 one-GPU and 4 eight-GPU workers (20 = its max_workers)."""
    size = autoscaling_size(yaml.safe_load((ROOT / "cluster.yaml").read_text()))
    assert trial_slots(size, BASE) == 16 + 4 * 8  # a one-GPU trial fits on either worker type
    # XL: two 4-GPU worker groups per 8-GPU node, and the drivers on the head's 8 CPUs.
    assert trial_slots(size, XL) == 8
    assert concurrency(size, [XL, BASE]) == 48
    assert sorted(node_gpus(size), reverse=True)[:5] == [8, 8, 8, 8, 1] and len(node_gpus(size)) == 21


def test_the_clusters_max_workers_caps_the_mix_of_worker_types() -> None:
    """Two worker types of 4 nodes each, but 5 workers at most: the mix that holds the most
    trials (the 8-GPU nodes first) bounds what may run."""
    size = ClusterSize(
        nodes=(NodeKind({"CPU": 4}, 1),),
        scalable=(NodeKind({"CPU": 8, "GPU": 1}, 4), NodeKind({"CPU": 96, "GPU": 8}, 4)),
        max_workers=5,
    )
    assert trial_slots(size, BASE) == 4 * 8 + 1
    assert node_gpus(size) == [0, 8, 8, 8, 8, 1]


def test_a_fixed_cluster_is_sized_by_its_nodes() -> None:
    """A fixed cluster: one trial per free slot. CPU-only trials fit on every node's CPUs."""
    size = fixed_size([{"CPU": 3.0}, {"CPU": 2.0, "GPU": 1.0}, {"CPU": 2.0, "GPU": 4.0, DRIVER_RESOURCE: 4.0}])
    assert concurrency(size, [BASE]) == 1 + 2  # GPU-bound
    assert concurrency(size, [TINY]) == 7  # CPU-bound
    assert trial_slots(size, XL) == 1  # one node has 4 GPUs for one XL worker group
    assert not size.autoscaling


def test_a_cluster_without_its_config_keeps_one_trial_per_cpu_at_least() -> None:
    """Nodes may come, and nothing says how many: the demand the autoscaler sees is never less
    than one trial per CPU (the cap before its limits were read)."""
    head = [{"CPU": 8.0}]
    assert concurrency(fixed_size(head, limits_known=False), [BASE]) == 8
    assert concurrency(fixed_size(head), [BASE]) == 1


def test_a_config_describes_a_cluster_only_where_every_node_matches_a_node_type() -> None:
    config = _issue_cluster()
    head = {"CPU": 2.0, "memory": 1e10, "object_store_memory": 8e7, "node:127.0.0.1": 1.0}
    worker = {"CPU": 1.0, "GPU": 1.0, "memory": 1e10, "node:127.0.0.1": 1.0, "accelerator_type:A10G": 1.0}
    assert config_mismatch(config, [head, worker, worker]) is None
    problem = config_mismatch(config, [head, {"CPU": 8.0, "GPU": 8.0, "memory": 1e10}])
    assert problem == "a node with {'CPU': 8.0, 'GPU': 8.0} matches none of its node types (head, gpu_1x)"

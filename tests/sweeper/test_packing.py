"""How many trials share a GPU, what each asks Ray for, and what the plan makes of it."""

from __future__ import annotations

import pytest

from sweeper.launch.trial_specs import SweepContext
from sweeper.plan.dag import multi_gpu_room
from sweeper.plan.plan import make_plan
from sweeper.plan.scales import SCALES
from sweeper.plan.spec import build_spec
from sweeper.resources.capacity import ClusterSize, NodeKind, concurrency, fits, trial_slots
from sweeper.resources.cost import estimate
from sweeper.resources.hardware import Hardware
from sweeper.resources.packing import (
    MEASURED,
    MOST_PER_GPU,
    USABLE_MEMORY,
    gpu_fraction,
    gpu_fractions,
    packing_of,
    trial_memory_gib,
    trials_per_gpu,
)
from sweeper.resources.placement import placement_of


def test_a_gpu_holds_as_many_trials_as_its_usable_memory_allows_between_one_and_four() -> None:
    assert trials_per_gpu(6.5, 141) == MOST_PER_GPU  # 19 would fit: capped
    assert trials_per_gpu(11.0, 40) == 3  # 36 GiB usable: three of 11
    assert trials_per_gpu(11.0, 24) == 1  # 21.6 GiB usable: one, as before packing
    assert trials_per_gpu(30.0, 24) == 1  # too big to share: still one trial per GPU
    # Exactly at the edge of the usable share: two fit, a hair less memory does not.
    assert trials_per_gpu(10.0, 2 * 10.0 / USABLE_MEMORY) == 2
    assert trials_per_gpu(10.0, 2 * 10.0 / USABLE_MEMORY - 0.01) == 1
    with pytest.raises(ValueError):
        trials_per_gpu(0, 80)


def test_shares_are_in_rays_steps_and_never_add_up_past_one_gpu() -> None:
    assert [gpu_fraction(n) for n in (1, 2, 3, 4)] == [1.0, 0.5, 0.3333, 0.25]
    for trials in (1, 2, 3, 4):
        assert fits({"GPU": 1}, {"GPU": gpu_fraction(trials)}) == trials
    assert fits({"GPU": 1}, {"GPU": 0.1}) == 10  # float division would say 9


def test_the_budget_grows_with_the_sweeps_longest_sequence() -> None:
    measured = MEASURED["large"].memory_gib
    assert trial_memory_gib("large", 128) == measured  # shorter than measured: never less
    assert trial_memory_gib("large", 512) == 2 * measured
    # Large at 512 tokens (22 GiB) on an 80 GB GPU: three, not the four 256 tokens allow.
    assert packing_of("large", 80, 512).trials_per_gpu == 3
    assert packing_of("large", 80, 256).trials_per_gpu == 4


def test_only_single_gpu_scales_are_packed() -> None:
    assert packing_of("tiny", 141, 256) is None and packing_of("xl", 141, 256) is None
    assert gpu_fractions(("tiny", "base", "xl"), 141, 256) == {"base": 0.25}
    assert gpu_fractions(("base",), None, 256) == {}


def test_packed_trials_reserve_a_share_and_the_capacity_counts_shares() -> None:
    packed = placement_of(SCALES["base"], gpu_fraction=0.25)
    assert packed.packed and packed.trial_resources() == {"CPU": 1, "GPU": 0.25}
    assert placement_of(SCALES["xl"], gpu_fraction=0.25).gpus() == 4  # Train workers: whole GPUs
    assert placement_of(SCALES["tiny"], gpu_fraction=0.25).trial_resources() == {"CPU": 1, "GPU": 0}
    one_gpu_node = ClusterSize((NodeKind({"CPU": 8, "GPU": 1}, 1),))
    assert trial_slots(one_gpu_node, packed) == 4
    assert trial_slots(one_gpu_node, placement_of(SCALES["base"])) == 1
    # CPUs still bound a packed GPU: two CPUs hold two trials whatever the GPU's room.
    assert trial_slots(ClusterSize((NodeKind({"CPU": 2, "GPU": 1}, 1),)), packed) == 2
    assert concurrency(one_gpu_node, [packed, placement_of(SCALES["xl"])]) == 4


def test_packed_trials_never_hold_back_multi_gpu_trials() -> None:
    assert multi_gpu_room(0.25, [4, 0.25, 0.25], [4])
    assert not multi_gpu_room(4, [4, 0.25, 0.25], [4])  # a share is not counted against XL
    assert multi_gpu_room(4, [0.25] * 8, [4])


def test_the_searcher_hands_out_the_packed_share() -> None:
    context = SweepContext("s", "0", "r", "sqlite:///x.db", "sqlite:///o.db", {}, gpu_fractions={"base": 0.3333})
    assert context.placement("base").trial_resources() == {"CPU": 1, "GPU": 0.3333}
    assert context.placement("large").trial_resources() == {"CPU": 1, "GPU": 1}


def test_the_plan_with_packing_costs_fewer_gpu_hours_and_says_why() -> None:
    plan = make_plan(build_spec(scales="base,large,xl", intermediate="mnli", targets_="xnli", trials=2, seeds=2))
    alone = {row.scale: row for row in estimate(plan, Hardware()).scales}
    packed = {row.scale: row for row in estimate(plan, Hardware(gpu_memory_gib=141)).scales}
    for scale in ("base", "large"):
        packing = packed[scale].packing
        assert packing.trials_per_gpu == 4 and packing.max_length == plan.longest_sequence == 256
        # Recomputed by hand: the best measured MFU over the scale's own, at most four.
        gain = min(4, 0.202 / MEASURED[scale].mfu)
        assert packed[scale].gpu_hours == pytest.approx(alone[scale].gpu_hours / gain)
        assert packed[scale].longest_chain_hours == pytest.approx(alone[scale].longest_chain_hours * 4 / gain)
        assert "4 trials share a GPU" in packing.reason() and "assumption" in packing.reason()
    assert packed["xl"].gpu_hours == alone["xl"].gpu_hours and packed["xl"].packing is None

"""The cost plan: token counts, FLOPs-based GPU-hours and the savings of reuse, by hand."""

from dataclasses import replace
from pathlib import Path

import pytest
from numpy.random import default_rng as rng

from sweeper.plan.plan import make_plan
from sweeper.plan.spec import build_spec
from sweeper.resources.cost import Hardware, estimate
from sweeper.resources.padding import lognormal_lengths, padding_factor
from tasks import get_task


def test_hub_plan_by_hand() -> None:
    spec = build_spec(scales="base", intermediate="mnli", targets_="pawsx", trials=2, seeds=3, batch_order="grouped")
    hardware = Hardware(gpus=4, gpu_hour_price=3.0, peak_tflops=100.0, utilisation=0.5)
    cost = estimate(make_plan(spec), hardware)
    # The plan prices the batches the sweep draws: random ones pad far more.
    shuffled = estimate(make_plan(replace(spec, batch_order="random")), hardware)
    assert shuffled.scales[0].padded_tokens > 1.5 * cost.scales[0].padded_tokens
    mnli, pawsx = get_task("mnli"), get_task("pawsx")
    mnli_tokens = 392_702 * mnli.size.mean_tokens * mnli.recipe.epochs
    pawsx_tokens = 49_401 * pawsx.size.mean_tokens * pawsx.recipe.epochs
    assert cost.task_tokens == {"mnli": mnli_tokens, "pawsx": pawsx_tokens}

    params = 278_000_000
    # Training processes the padding too: batches of base's 32 grouped by length, on lengths of
    # the registry's mean with XNLI's spread (the hub's data are not here to measure).
    padding = {
        t.name: padding_factor(lognormal_lengths(t.size.mean_tokens, 20_000, t.recipe.max_length, rng(0)), 32)
        for t in (mnli, pawsx)
    }
    assert all(1.0 < factor < 1.15 for factor in padding.values())
    mnli_padded, pawsx_padded = mnli_tokens * padding["mnli"], pawsx_tokens * padding["pawsx"]
    english_eval = {t.name: t.size.eval_examples_per_language * t.size.mean_tokens for t in (mnli, pawsx)}
    study_flops = sum(6 * params * tokens for tokens in (mnli_padded, pawsx_padded)) + 2 * params * sum(
        english_eval.values()
    )
    run_flops = 6 * params * pawsx_padded + 2 * params * english_eval["pawsx"] * 7
    flops = 2 * study_flops + 6 * run_flops  # 2 trials per study; (none, mnli) × 3 seeds
    (base,) = cost.scales
    assert base.trials == 2 * 2 + 6
    assert base.padded_tokens == pytest.approx(2 * (mnli_padded + pawsx_padded) + 6 * pawsx_padded)
    assert base.gpu_hours == pytest.approx(flops / (100e12 * 0.5) / 3600)
    assert cost.cost == pytest.approx(base.gpu_hours * 3.0)
    assert cost.wall_hours == pytest.approx(max(base.gpu_hours / 4, base.longest_chain_hours))
    # Trained once per learning rate, versus once per (target, seed) in a per-pair pipeline.
    assert (cost.intermediate_trainings, cost.intermediate_trainings_without_reuse) == (2, 6)


def test_local_data_counts_its_own_examples(demo_data: Path) -> None:
    spec = build_spec(scales="tiny", intermediate="qqp", targets_="xnli", trials=1, seeds=1, data=str(demo_data))
    cost = estimate(make_plan(spec), Hardware())
    assert cost.task_tokens["qqp"] == 2000 * get_task("qqp").size.mean_tokens * get_task("qqp").recipe.epochs


def test_bigger_scales_cost_more_and_multi_gpu_chains_shrink() -> None:
    # Trials of similar size (not `all`, whose one run reads every intermediate's data).
    spec = build_spec(scales="base,large,xl,xxl", intermediate="mnli,qqp", targets_="xnli,pawsx", trials=1, seeds=1)
    cost = estimate(make_plan(spec), Hardware())
    hours = [scale.gpu_hours for scale in cost.scales]
    assert hours == sorted(hours)
    xl, xxl = cost.scales[2], cost.scales[3]
    assert xl.longest_chain_hours < xl.gpu_hours / xl.trials * 2
    assert xxl.gpus_per_trial == 8


def test_all_reads_its_members_data() -> None:
    spec = build_spec(scales="base", intermediate="all,mnli", targets_="xnli", trials=1, seeds=1)
    tokens = estimate(make_plan(spec), Hardware()).task_tokens
    assert tokens["all"] > tokens["mnli"] > 0


def test_the_plan_says_what_grouped_batches_would_save() -> None:
    import re

    from click.testing import CliRunner

    from sweeper.cli import main

    args = ["plan", "--scales", "base", "--intermediate", "mnli", "--targets", "pawsx", "--trials", "1", "--seeds", "1"]
    shown = CliRunner().invoke(main, args, terminal_width=400)
    assert shown.exit_code == 0, shown.output
    saving = re.search(r"with --batch-order grouped: ([\d.,]+) GPU-hours instead of ([\d.,]+)", shown.output)
    assert saving and float(saving[1]) < float(saving[2])
    total = re.search(r"total ([\d.,]+) GPU-hours", shown.output)
    assert total and total[1] == saving[2]
    # A sweep already grouped has nothing to opt into.
    grouped = CliRunner().invoke(main, [*args, "--batch-order", "grouped"], terminal_width=400)
    assert grouped.exit_code == 0 and "with --batch-order grouped" not in grouped.output

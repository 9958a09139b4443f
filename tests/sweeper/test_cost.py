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


BASE = 278_000_000


def test_storage_by_hand_for_one_scale() -> None:
    spec = build_spec(scales="base", intermediate="mnli", targets_="pawsx", trials=2, seeds=3)
    cost = estimate(make_plan(spec), Hardware(gpus=4))
    (base,) = cost.storage.scales
    # Each intermediate trial logs its encoder, saved in bf16: 2 bytes a parameter; the
    # study's selection is the registered model, the same artifact.
    assert base.encoder_checkpoints == 1 * 2 * BASE * 2
    assert base.registered_models == BASE * 2
    # (none, mnli) × 3 seeds target runs, 7 languages of 2,000 dev + 2,000 test examples, a
    # line "0\n" or "1\n" each (PAWS-X's labels by index).
    assert base.predictions == 6 * 7 * 4_000 * 2
    # A study trial starts from the hub's fp32 weights: weights and AdamW's two moments, 12
    # bytes a parameter, twice while the next checkpoint is written before the last is dropped.
    assert base.resume_per_trial == 2 * (4 + 8) * BASE
    # 2 studies × 2 trials + 6 cells, of which 4 GPUs run 4 at once.
    assert base.trials_at_once == 4
    assert cost.storage.resume_peak == base.resume_at_once == 4 * 24 * BASE
    assert cost.storage.total == base.encoder_checkpoints + base.predictions + 4 * 24 * BASE
    assert base.target_checkpoints == 0


def test_a_cell_after_an_intermediate_trains_in_fp32_and_two_stages_keep_three_checkpoints() -> None:
    from sweeper.plan.scales import SCALES
    from sweeper.resources.storage import resume_bytes_per_trial

    base = SCALES["base"]
    # From a bf16 encoder too the run trains fp32 weights (trainable_model): 4 + 2 × 4 bytes a parameter.
    assert resume_bytes_per_trial(get_task("pawsx"), base) == 2 * 12 * BASE
    # XCOPA trains SIQA, then COPA: the first stage's last checkpoint stays while the second's two overlap.
    assert resume_bytes_per_trial(get_task("xcopa"), base) == 3 * 12 * BASE
    # Tatoeba is evaluated straight from the encoder: nothing to resume.
    assert resume_bytes_per_trial(get_task("tatoeba"), base) == 0


def test_kept_target_models_are_fp32_as_every_run_trains() -> None:
    spec = build_spec(scales="base", intermediate="mnli", targets_="pawsx", trials=1, seeds=2)
    (base,) = estimate(make_plan(spec), Hardware(), keep_target_checkpoints=True).storage.scales
    # Two baseline runs and two after MNLI, all trained with fp32 weights.
    assert base.target_checkpoints == 4 * BASE * 4


def test_bigger_scales_store_more_and_share_the_gpus() -> None:
    spec = build_spec(scales="base,large,xl", intermediate="mnli,qqp", targets_="xnli,pawsx", trials=2, seeds=1)
    storage = estimate(make_plan(spec), Hardware(gpus=8)).storage
    for field in ("encoder_checkpoints", "registered_models", "resume_per_trial"):
        sizes = [getattr(scale, field) for scale in storage.scales]
        assert sizes == sorted(sizes) and sizes[0] < sizes[-1], field
    assert [scale.trials_at_once for scale in storage.scales] == [8, 8, 2]
    assert storage.artifacts == sum(scale.artifacts for scale in storage.scales)
    # Eight GPUs hold eight base or large trials or two XL ones at once, not all of them together.
    at_once = [scale.resume_at_once for scale in storage.scales]
    assert max(at_once) <= storage.resume_peak < sum(at_once)
    assert storage.total == storage.artifacts + storage.resume_peak
    # Packed, a GPU holds several base and large trials: more of them at once.
    packed = estimate(make_plan(spec), Hardware(gpus=8, gpu_memory_gib=141)).storage
    assert packed.scales[0].trials_at_once > 8


def test_the_scales_resume_checkpoints_at_once_fill_the_gpus_most_bytes_a_gpu_first() -> None:
    # Four trials a scale (a study of mnli and of xnli, a cell with and without mnli).
    spec = build_spec(scales="base,xl", intermediate="mnli", targets_="xnli", trials=1, seeds=1)
    storage = estimate(make_plan(spec), Hardware(gpus=18)).storage
    base, xl = storage.scales
    assert (base.trials_at_once, xl.trials_at_once) == (4, 4)
    # XL keeps 24 · 3.48B / 4 bytes a GPU, base 24 · 278M: four XL trials take 16 GPUs, two
    # base trials the 2 left.
    assert storage.resume_peak == 4 * 24 * 3_480_000_000 + 2 * 24 * BASE


def test_bytes_read_in_decimal_units() -> None:
    from sweeper.resources.storage import human_bytes

    assert [human_bytes(n) for n in (0, 999, 1_500, 2.5e9, 3.3e12)] == ["0 B", "999 B", "1.5 kB", "2.5 GB", "3.3 TB"]


def test_the_plan_shows_the_storage_beside_the_gpu_hours() -> None:
    import re

    from click.testing import CliRunner

    from sweeper.cli import main
    from sweeper.resources.storage import human_bytes

    args = ["plan", "--scales", "base", "--intermediate", "mnli", "--targets", "pawsx", "--trials", "2", "--seeds", "3"]
    shown = CliRunner().invoke(main, [*args, "--gpus", "4"], terminal_width=400)
    assert shown.exit_code == 0, shown.output
    expected = estimate(
        make_plan(build_spec(scales="base", intermediate="mnli", targets_="pawsx", trials=2, seeds=3)), Hardware(gpus=4)
    ).storage
    total = re.search(r"GPU-hours; .*; storage ([\d.]+ [kMGTP]?B)", shown.output)
    assert total and total[1] == human_bytes(expected.total)
    assert f"at most {human_bytes(expected.resume_peak)} of resume checkpoints" in shown.output

"""Training batches grouped by length: every feature once per epoch, little padding, a new
order each epoch, the same order for the same seed, and a disjoint share for each rank
(through Accelerate's own BatchSamplerShard, which shards them under DDP and FSDP)."""

from __future__ import annotations

import numpy as np
import pytest
from accelerate.data_loader import BatchSamplerShard
from datasets import Dataset
from torch.utils.data import BatchSampler

from tasks import family_of, get_task
from tasks.batching import LENGTH_NOISE, RANDOM, Batching, LengthGroupedBatches, grouped_order
from tasks.families.multitask import HomogeneousBatches, MultiTaskFeatures, sampling_weights

BATCH = 16


def _xnli_like(count: int, seed: int = 0) -> np.ndarray:
    """Log-normal lengths of median 43 (mean about 49), clipped to [5, 256]."""
    rng = np.random.default_rng(seed)
    return np.clip(np.rint(rng.lognormal(np.log(43), 0.55, count)), 5, 256).astype(np.int64)


def _batches(order: list[int], size: int = BATCH) -> list[list[int]]:
    return [order[i : i + size] for i in range(0, len(order), size)]


def _pad_share(lengths: np.ndarray, batches: list[list[int]]) -> float:
    padded = sum(len(batch) * lengths[batch].max() for batch in batches)
    return 1 - sum(lengths[batch].sum() for batch in batches) / padded


def test_batches_are_grouped_by_length_and_cover_every_feature_once() -> None:
    lengths = _xnli_like(2000)
    sampler = LengthGroupedBatches(lengths, Batching(BATCH, seed=0))
    order = list(sampler)
    assert len(order) == len(sampler) == 2000
    assert sorted(order) == list(range(2000))
    grouped = _pad_share(lengths, _batches(order))
    shuffled = _pad_share(lengths, _batches(np.random.default_rng(0).permutation(2000).tolist()))
    assert grouped < 0.15 < 0.4 < shuffled
    # The batch holding the longest feature comes first: a batch too large fails at once.
    assert lengths.argmax() in order[:BATCH]


def test_batches_are_shuffled_between_themselves_and_per_epoch() -> None:
    lengths = _xnli_like(2000)
    sampler = LengthGroupedBatches(lengths, Batching(BATCH, seed=0))
    first = list(sampler)
    batch_means = [lengths[batch].mean() for batch in _batches(first)[1:-1]]
    # Not longest to shortest, as the library leaves each mega-batch: lengths go up and down.
    steps = np.sign(np.diff(batch_means))
    assert (steps > 0).sum() > 30 and (steps < 0).sum() > 30
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first and sorted(second) == sorted(first)
    assert set(map(tuple, _batches(second))) != set(map(tuple, _batches(first)))


def test_the_same_seed_and_epoch_draw_the_same_order_whatever_came_before() -> None:
    lengths = _xnli_like(500)
    a, b = (
        LengthGroupedBatches(lengths, Batching(BATCH, seed=3)),
        LengthGroupedBatches(lengths, Batching(BATCH, seed=3)),
    )
    a.set_epoch(2)
    list(b)  # an epoch drawn before does not change what epoch 2 draws
    b.set_epoch(2)
    assert list(a) == list(b)
    assert list(a) != list(LengthGroupedBatches(lengths, Batching(BATCH, seed=4, order="grouped")))


def test_where_length_follows_the_label_grouped_batches_still_mix_the_labels(monkeypatch) -> None:
    # Every positive one token longer than every negative: sorted by exact length, nearly
    # every batch would hold one label only.
    labels = np.random.default_rng(0).integers(0, 2, 2000)
    lengths = np.where(labels == 1, 21, 20)

    def skew() -> float:
        order = grouped_order(lengths, BATCH, np.random.default_rng(1))
        return float(np.abs(labels[order].reshape(-1, BATCH).mean(axis=1) - 0.5).mean())

    jittered = skew()
    monkeypatch.setattr("tasks.batching.LENGTH_NOISE", 0.0)
    assert jittered < 0.25 < 0.45 < skew()


def test_a_short_last_batch_stays_last_so_batches_stay_aligned() -> None:
    lengths = _xnli_like(100)
    order = grouped_order(lengths, BATCH, np.random.default_rng(0))
    assert sorted(order.tolist()) == list(range(100))
    tail = order[100 // BATCH * BATCH :]
    assert len(tail) == 100 % BATCH


@pytest.mark.parametrize("ranks", [2, 4])
def test_each_rank_draws_a_disjoint_share_of_similar_lengths(ranks: int) -> None:
    lengths = _xnli_like(BATCH * ranks * 30)
    sampler = LengthGroupedBatches(lengths, Batching(BATCH, seed=0, ranks=ranks))
    batch_sampler = BatchSampler(sampler, BATCH, drop_last=False)
    shares = [list(BatchSamplerShard(batch_sampler, ranks, rank)) for rank in range(ranks)]
    seen = [index for share in shares for batch in share for index in batch]
    assert len(seen) == len(set(seen)) == len(lengths)
    assert all(len(share) == 30 for share in shares)
    # One optimizer step: the ranks' batches are consecutive slices of one unit sorted by
    # jittered length (longest first), so no rank waits long on another: a later slice's
    # longest is at most the jitter's ratio above an earlier slice's shortest.
    widest = (1 + LENGTH_NOISE) / (1 - LENGTH_NOISE)
    for step in zip(*shares, strict=True):
        for longer, shorter in zip(step, step[1:], strict=False):
            assert lengths[shorter].max() <= lengths[longer].min() * widest


def test_families_group_by_their_own_lengths_or_leave_order_to_the_trainer() -> None:
    classification = family_of("classification")
    features = Dataset.from_dict({"input_ids": [[0] * n for n in (3, 9, 4, 8)], "labels": [0, 1, 0, 1]})
    sampler = classification.train_sampler(get_task("xnli"), features, Batching(2, seed=0))
    assert sampler.lengths.tolist() == [3, 9, 4, 8]
    assert classification.train_sampler(get_task("xnli"), features, Batching(2, seed=0, order=RANDOM)) is None
    # A dual encoder pads its queries and its candidates: both count.
    pairs = Dataset.from_dict({"input_ids": [[0] * 3, [0] * 5], "candidate_input_ids": [[0] * 7, [0] * 2]})
    assert family_of("retrieval").train_lengths(pairs).tolist() == [10, 7]
    # Multiple choice: a feature's longest choice.
    choices = Dataset.from_dict({"input_ids": [[[0] * 4, [0] * 6], [[0] * 2, [0] * 3]]})
    assert family_of("multiple_choice").train_lengths(choices).tolist() == [6, 3]


def test_multitask_batches_are_one_member_and_grouped_by_length() -> None:
    member_lengths = [_xnli_like(2000, seed=1), _xnli_like(1000, seed=2) + 100]
    features = MultiTaskFeatures([Dataset.from_dict({"x": list(range(len(n)))}) for n in member_lengths])
    weights = sampling_weights([len(n) for n in member_lengths], "temperature", 2.0)
    grouped = HomogeneousBatches(features, weights, BATCH, seed=0, lengths=member_lengths)
    every = np.concatenate(member_lengths)
    order = list(grouped)
    batches = _batches(order)
    members = [{int(np.searchsorted(features.offsets, i, side="right") - 1) for i in b} for b in batches]
    assert all(len(found) == 1 for found in members)
    assert set().union(*members) == {0, 1}
    shuffled = _batches(list(HomogeneousBatches(features, weights, BATCH, seed=0)))
    assert _pad_share(every, batches) < 0.15 < 0.4 < _pad_share(every, shuffled)
    grouped.set_epoch(1)
    assert list(grouped) != order

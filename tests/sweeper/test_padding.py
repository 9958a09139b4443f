"""The padded-token estimate: the token positions batches hold, by hand, and the lengths a
plan reads from a local mirror or assumes from the registry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sweeper.resources.cost import train_lengths
from sweeper.resources.padding import batched_tokens, lognormal_lengths, padding_factor, scaled_to_mean
from tasks import get_task


def test_batched_tokens_pad_each_batch_to_its_longest_by_hand() -> None:
    assert padding_factor([7] * 64, 4, "grouped") == padding_factor([7] * 64, 4, "random") == 1.0
    # Half 10 tokens, half 100, batches of 4: 4 mega-batches of 100, each sorted, so only the
    # one batch per mega-batch where 100s meet 10s pads (at most 3 × 90 tokens).
    lengths = np.random.default_rng(1).permutation([10] * 200 + [100] * 200)
    real = 200 * 10 + 200 * 100
    assert real <= batched_tokens(lengths, 4, "grouped") <= real + 4 * 3 * 90
    # Random: whatever the permutation, each batch pads to its longest.
    order = np.random.default_rng(0).permutation(400)
    by_hand = sum(4 * lengths[order[s : s + 4]].max() for s in range(0, 400, 4))
    assert batched_tokens(lengths, 4, "random", seed=0) == by_hand > 1.5 * real
    assert padding_factor([], 2) == 1.0


def test_grouped_batches_of_xnli_like_lengths_pad_little_random_ones_much() -> None:
    lengths = lognormal_lengths(49, 20_000, 232, np.random.default_rng(0))
    assert lengths.mean() == pytest.approx(49, rel=0.03)
    assert lengths.min() >= 5 and lengths.max() <= 232
    grouped, shuffled = padding_factor(lengths, 32, "grouped"), padding_factor(lengths, 32, "random")
    # Pad share = 1 - 1 / factor: under 15 % grouped, over half at random.
    assert 1 - 1 / grouped < 0.15 and 1 - 1 / shuffled > 0.5


def test_local_lengths_keep_the_data_spread_at_the_registry_mean(tmp_path: Path) -> None:
    task = get_task("pawsx")  # English training source: PAWS
    path = Path(task.train.local_path(str(tmp_path)))
    path.parent.mkdir(parents=True)
    rows = [{"sentence1": "a" * n, "sentence2": "b" * n, "label": 0} for n in (10, 20, 30, 40)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    lengths = train_lengths(task, str(tmp_path))
    mean = task.size.mean_tokens
    assert lengths.tolist() == np.rint(np.array([0.4, 0.8, 1.2, 1.6]) * mean).astype(int).tolist()
    assert scaled_to_mean([1, 1000], 100, 150).tolist() == [5, 150]  # clipped to [5, max_length]
    hub = train_lengths(task, "hub")
    assert len(hub) == 20_000 and hub.mean() == pytest.approx(mean, rel=0.05)

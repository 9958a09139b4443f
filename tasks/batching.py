"""Training batches of similar length: each batch pads to its own longest, so batching
features of similar length spends the model's compute on tokens rather than on padding.

The grouping is transformers' method (``trainer_pt_utils.get_length_grouped_indices``, behind
``train_sampling_strategy="group_by_length"``): a random permutation cut into mega-batches of
up to 50 batches (fewer where that leaves under 4 mega-batches), each sorted by length. It is
redone here in NumPy, because the cost plan prices the same batches and must not import torch
(``xsweep plan`` answers at once), and because its ``LengthGroupedSampler`` leaves out what a
sweep needs: an order seeded by (seed, epoch) rather than drawn from torch's global generator
(so a resumed epoch draws the same batches), the batches shuffled among themselves (the library
keeps each mega-batch's batches longest to shortest), lengths jittered before sorting (where
length follows the label, exact sorting makes single-label batches), and one unit per optimizer
micro-step across ranks. Under Accelerate (DDP or FSDP, a Ray Train trial's workers) the Trainer wraps the
sampler's batches in ``BatchSamplerShard``, which hands rank ``r`` of ``N`` the batches
``r, r + N, ...``; units of ``batch_size × ranks`` give every rank one batch of the same
lengths per step, so no rank waits on a longer one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from datasets import Dataset

GROUPED, RANDOM = "grouped", "random"
BATCH_ORDERS = (GROUPED, RANDOM)
# Random until grouping is shown not to move scores: on the demo's PAWS-X, where token length
# carries the label, grouped batches are label-skewed and its non-English dev accuracy fell
# beyond the seed spread (docs/how-a-sweep-runs.md, "Training batches").
DEFAULT_BATCH_ORDER = RANDOM


@dataclass(frozen=True)
class Batching:
    """How a training stage draws its batches: per-device size, ranks sharing each step,
    the data seed, and the order (``grouped`` by length, or ``random``)."""

    batch_size: int
    seed: int
    ranks: int = 1
    order: str = GROUPED


def feature_lengths(features: Dataset) -> np.ndarray:
    """Each feature's token count: its ``input_ids`` length, or its longest sequence's where a
    feature holds several (a multiple-choice row holds one per choice)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # Read through Arrow: a million Mewsli-X candidates as Python lists would take gigabytes.
    ids = features.with_format("arrow")["input_ids"].combine_chunks()
    if not (pa.types.is_list(ids.type.value_type) or pa.types.is_large_list(ids.type.value_type)):
        return pc.list_value_length(ids).to_numpy(zero_copy_only=False).astype(np.int64)
    sequence_lengths = pc.list_value_length(pc.list_flatten(ids)).to_numpy(zero_copy_only=False)
    longest = np.zeros(len(ids), dtype=np.int64)
    np.maximum.at(longest, pc.list_parent_indices(ids).to_numpy(zero_copy_only=False), sequence_lengths)
    return longest


# Mega-batches: at most this many units, and at least this many mega-batches (transformers').
MEGA_BATCH_UNITS, MIN_MEGA_BATCHES = 50, 4
# Each length is jittered by up to this fraction of itself before sorting (AllenNLP's
# ``padding_noise``): examples within a few per cent of each other's length land in batches at
# random, so where length follows the label a batch still mixes the labels.
LENGTH_NOISE = 0.1


def order_identity(order: str) -> str:
    """The batch order as the cell keys and a sweep's fingerprint hold it: grouped with the
    parameters that decide its batches, so that other parameters make other cells."""
    if order == RANDOM:
        return order
    return f"{order}(noise={LENGTH_NOISE},mega={MEGA_BATCH_UNITS},min={MIN_MEGA_BATCHES})"


def grouped_order(lengths: Sequence[int], unit: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of every feature once, in runs of ``unit`` of similar (jittered) length; the runs are
    shuffled, except that the one holding the longest feature comes first (a batch too large
    for the device fails at once) and a short remainder comes last (so runs stay aligned to
    ``unit``)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    keys = lengths * rng.uniform(1 - LENGTH_NOISE, 1 + LENGTH_NOISE, len(lengths))
    mega = unit * max(1, min(len(lengths) // (unit * MIN_MEGA_BATCHES), MEGA_BATCH_UNITS))
    permuted = rng.permutation(len(lengths))
    chunks = np.split(permuted, range(mega, len(permuted), mega)) if len(permuted) else []
    # Longest first within each mega-batch; a stable sort keeps the permutation among equals.
    order = np.concatenate([c[np.argsort(-keys[c], kind="stable")] for c in chunks] or [np.zeros(0, np.int64)])
    whole = len(order) // unit * unit
    runs = order[:whole].reshape(-1, unit)
    shuffled = list(rng.permutation(len(runs)))
    if len(runs):
        longest = int(np.argmax(lengths[runs].max(axis=1)))
        shuffled.remove(longest)
        shuffled.insert(0, longest)
    return np.concatenate([runs[shuffled].reshape(-1), order[whole:]])


class LengthGroupedBatches:
    """A training sampler: every feature once per epoch, consecutive ``batch_size`` indices of
    similar length (``batch_size × ranks`` where ranks share each step), a new order each epoch
    (``set_epoch``, which the Trainer calls), the same order for the same (seed, epoch)."""

    def __init__(self, lengths: Sequence[int], batching: Batching) -> None:
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batching = batching
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.lengths)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.batching.seed, self.epoch])
        unit = self.batching.batch_size * self.batching.ranks
        return iter(grouped_order(self.lengths, unit, rng).tolist())

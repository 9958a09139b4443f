"""How many token positions training runs the model on once each batch pads to its longest:
the real tokens plus padding, as grouped (``tasks.batching``) or random batches form them.
Plain functions over lengths; the cost plan and ``benchmarks/train_throughput.py`` use them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tasks.batching import GROUPED, grouped_order

# The spread of XNLI's lengths in XLM-R tokens: a log-normal of median 43 and shape 0.55
# (mean about 49, a tail past 200), as benchmarks/eval_throughput.py draws them.
XNLI_SHAPE = 0.55
MIN_LENGTH = 5
# Lengths an estimate draws where a task's own are unknown: enough for a stable mean.
SAMPLE = 20_000


def lognormal_lengths(
    mean: float, count: int, max_length: int, rng: np.random.Generator, shape: float = XNLI_SHAPE
) -> np.ndarray:
    """``count`` lengths from a log-normal of mean ``mean`` (its median is mean / e^(shape²/2)),
    rounded and clipped to [5, max_length]."""
    median = mean / np.exp(shape**2 / 2)
    lengths = np.rint(rng.lognormal(np.log(median), shape, count))
    return np.clip(lengths, MIN_LENGTH, max_length).astype(np.int64)


def batched_tokens(lengths: Sequence[int], batch_size: int, order: str = GROUPED, seed: int = 0) -> int:
    """Token positions one epoch's batches hold, each padded to its longest: batches in the
    order training draws them (grouped by length, or a random permutation)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    rng = np.random.default_rng(seed)
    indices = grouped_order(lengths, batch_size, rng) if order == GROUPED else rng.permutation(len(lengths))
    if len(indices) == 0:
        return 0
    # Every batch's longest at once: `xsweep plan` prices a hundred or more epochs of 20,000 lengths.
    starts = np.arange(0, len(indices), batch_size)
    longest = np.maximum.reduceat(lengths[indices], starts)
    sizes = np.diff(np.append(starts, len(indices)))
    return int((sizes * longest).sum())


def padding_factor(lengths: Sequence[int], batch_size: int, order: str = GROUPED, seed: int = 0) -> float:
    """Token positions processed per real token (1.0: no padding)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) == 0:
        return 1.0
    return batched_tokens(lengths, batch_size, order, seed) / int(lengths.sum())


def scaled_to_mean(sizes: Sequence[float], mean: float, max_length: int) -> np.ndarray:
    """Lengths in tokens from the examples' sizes in another unit (characters): the data's own
    spread, scaled so that their mean is ``mean`` tokens, clipped to [5, max_length]."""
    sizes = np.asarray(sizes, dtype=float)
    scaled = sizes * (mean / sizes.mean()) if len(sizes) and sizes.mean() > 0 else sizes
    return np.clip(np.rint(scaled), MIN_LENGTH, max_length).astype(np.int64)

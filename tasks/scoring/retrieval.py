"""Retrieval metrics as XTREME and XTREME-R define them: Tatoeba accuracy, BUCC mining F1
with its dev-tuned threshold, LAReQA mAP@20 and Mewsli-X MRR@20, plus the nearest-neighbour
search and the margin-based bitext mining their predictions come from.

Definitions follow google-research/xtreme: ``evaluate.py`` (accuracy, ``bucc_f1``),
``third_party/utils_retrieve.py`` (``mine_bitext`` with ratio margin over 4 neighbours in both
directions and "max" retrieval; ``bucc_optimize``), ``third_party/utils_lareqa.py``
(``average_precision_at_k``) and ``third_party/utils_mewslix.py`` (``mean_reciprocal_rank``
over the top 20).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

# Tatoeba's metric, re-exported: the retrieval family reads every metric from this module.
from tasks.scoring.accuracy import accuracy as accuracy

# XTREME-R caps LAReQA and Mewsli-X at the top 20 retrieved candidates.
TOP_K = 20
# Margin-based mining compares each similarity with the mean of 4 nearest neighbours.
NEIGHBOURHOOD = 4

Pair = tuple[str, str]


def unit(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (cosine similarity becomes a dot product)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def knn(queries: np.ndarray, pool: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """For each query, the dot products and indices of its ``k`` best candidates in
    ``pool``, best first (ties: the lower index first). Queries go in chunks, so a pool of
    a million candidates needs no million-square matrix."""
    k = min(k, len(pool))
    chunk = max(1, (1 << 25) // max(len(pool), 1))
    scores, indices = [np.zeros((0, k), np.float32)], [np.zeros((0, k), np.int64)]
    for start in range(0, len(queries), chunk):
        similarity = queries[start : start + chunk] @ pool.T
        best = (
            np.argpartition(-similarity, k - 1, axis=1)[:, :k]
            if k < len(pool)
            else np.tile(np.arange(k), (len(similarity), 1))
        )
        best_scores = np.take_along_axis(similarity, best, axis=1)
        order = np.lexsort((best, -best_scores), axis=1)
        indices.append(np.take_along_axis(best, order, axis=1))
        scores.append(np.take_along_axis(best_scores, order, axis=1))
    return np.concatenate(scores), np.concatenate(indices)


def nearest(queries: np.ndarray, pool: np.ndarray) -> list[int]:
    """Cosine nearest neighbour in ``pool`` of each query (Tatoeba's prediction)."""
    return [int(i) for i in knn(unit(queries), unit(pool), 1)[1][:, 0]]


def mine(x: np.ndarray, y: np.ndarray, neighbourhood: int = NEIGHBOURHOOD) -> list[tuple[int, int, float]]:
    """Margin-based bitext mining between source embeddings ``x`` and target embeddings
    ``y``: (source index, target index, margin) of every mined pair, best first.

    The margin of a pair is its cosine over the mean of the two sides' average cosine to
    their ``neighbourhood`` nearest neighbours (the "ratio" margin). Each sentence proposes
    its best-margin candidate among its nearest neighbours, in both directions; proposals
    are taken best first while neither side is taken yet ("max" retrieval), keeping those
    with a positive margin.
    """
    if not len(x) or not len(y):
        return []
    x, y = unit(x), unit(y)
    x_sims, x_neighbours = knn(x, y, neighbourhood)
    y_sims, y_neighbours = knn(y, x, neighbourhood)
    x_mean, y_mean = x_sims.mean(axis=1), y_sims.mean(axis=1)
    forward = x_sims / ((x_mean[:, None] + y_mean[x_neighbours]) / 2)
    backward = y_sims / ((y_mean[:, None] + x_mean[y_neighbours]) / 2)
    rows_x, rows_y = np.arange(len(x)), np.arange(len(y))
    best_forward, best_backward = forward.argmax(axis=1), backward.argmax(axis=1)
    proposals = [
        *zip(forward[rows_x, best_forward], rows_x, x_neighbours[rows_x, best_forward], strict=True),
        *zip(backward[rows_y, best_backward], y_neighbours[rows_y, best_backward], rows_y, strict=True),
    ]
    taken_x, taken_y, mined = set(), set(), []
    for score, i, j in sorted(proposals, key=lambda proposal: -proposal[0]):
        if i not in taken_x and j not in taken_y:
            taken_x.add(i)
            taken_y.add(j)
            if score > 0:
                mined.append((int(i), int(j), float(score)))
    return mined


def best_threshold(candidates: Mapping[Pair, float], gold: Iterable[Pair]) -> float:
    """The margin threshold that maximises F1 of the candidates at or above it (BUCC's
    threshold, tuned on the dev split), as ``bucc_optimize``: candidates best first (ties in
    their given order), the first strict improvement of F1 wins, and the threshold is midway
    between the last kept and the first dropped candidate. 0 (keep all) where no candidate is
    correct."""
    gold = set(gold)
    ranked = sorted(candidates.items(), key=lambda item: -item[1])
    threshold, best, correct = 0.0, 0.0, 0
    for rank, (pair, score) in enumerate(ranked, start=1):
        correct += pair in gold
        if not correct:
            continue
        # The official arithmetic, not the equal 2·correct/(rank + |gold|): where two ranks
        # tie mathematically, its rounding decides which one is "better", and so the threshold.
        precision, recall = correct / rank, correct / len(gold)
        f1 = 2 * precision * recall / (precision + recall)
        if f1 > best:
            best = f1
            # The official midpoint; at the last candidate (where bucc_optimize fails on an
            # index past the end) its own score, which keeps every candidate.
            following = ranked[rank][1] if rank < len(ranked) else score
            threshold = (score + following) / 2
    return threshold


def pair_f1(predicted: Iterable[Pair], gold: Iterable[Pair]) -> dict[str, float]:
    """F1, precision and recall of predicted pairs against gold pairs, both as sets."""
    predicted, gold = set(predicted), set(gold)
    correct = len(predicted & gold)
    if not correct:
        return {"f1": 0.0, "precision": 0.0, "recall": 0.0}
    precision, recall = correct / len(predicted), correct / len(gold)
    return {"f1": 2 * precision * recall / (precision + recall), "precision": precision, "recall": recall}


def average_precision_at_k(relevant: Iterable[str], ranked: Sequence[str], k: int = TOP_K) -> float:
    """AP@k: precision at each relevant hit within the top ``k``, summed, over
    min(#relevant, k); a candidate repeated in the ranking counts once."""
    relevant = set(relevant)
    if not relevant:
        raise ValueError("average precision needs at least one relevant candidate")
    hits, total, seen = 0, 0.0, set()
    for position, candidate in enumerate(ranked[:k], start=1):
        if candidate in relevant and candidate not in seen:
            hits += 1
            total += hits / position
        seen.add(candidate)
    return total / min(len(relevant), k)


def reciprocal_rank_at_k(gold: str, ranked: Sequence[str], k: int = TOP_K) -> float:
    """1 / rank of the gold candidate within the top ``k``, 0 where it is not there."""
    for position, candidate in enumerate(ranked[:k], start=1):
        if candidate == gold:
            return 1 / position
    return 0.0


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("no scored examples")
    return sum(values) / len(values)

"""SQuAD v2.0's metrics as its official evaluation script defines them: a question without an
answer has the empty string as its only gold answer, so predicting no answer ("") there is
exact and any span scores 0; answerable questions score as in SQuAD v1.1. Scores are on a
0-1 scale; ``has_answer_*`` and ``no_answer_*`` break them down where a split has both kinds.
"""

from __future__ import annotations

from collections.abc import Sequence

from tasks.scoring.qa import Normalise, exact_match, f1


def f1_v2(prediction: str, gold: str, normalise: Normalise) -> float:
    """Token F1, where an empty side (no answer) scores 1 against an empty side, else 0."""
    if not normalise(prediction).split() or not normalise(gold).split():
        return float(normalise(prediction).split() == normalise(gold).split())
    return f1(prediction, gold, normalise)


def _gold_texts(answers: Sequence[str], normalise: Normalise) -> list[str]:
    """The answers that survive normalisation; none left means the question has no answer."""
    return [answer for answer in answers if normalise(answer)] or [""]


def score_answers_v2(
    predictions: Sequence[str], golds: Sequence[Sequence[str]], normalise: Normalise
) -> dict[str, float]:
    """``exact_match`` and ``f1``: per question the best over its gold answers (an empty list
    for an unanswerable question), then the mean; and the same over the questions with and
    without an answer (which the official script decides by the raw answer list)."""
    if len(predictions) != len(golds) or not golds:
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} questions")
    exact, token_f1 = [], []
    for prediction, answers in zip(predictions, golds, strict=True):
        texts = _gold_texts(answers, normalise)
        exact.append(max(exact_match(prediction, text, normalise) for text in texts))
        token_f1.append(max(f1_v2(prediction, text, normalise) for text in texts))
    scores = {"exact_match": sum(exact) / len(exact), "f1": sum(token_f1) / len(token_f1)}
    for part, wanted in (("has_answer", True), ("no_answer", False)):
        indices = [index for index, answers in enumerate(golds) if bool(answers) == wanted]
        if indices and len(indices) < len(golds):
            scores[f"{part}_exact_match"] = sum(exact[index] for index in indices) / len(indices)
            scores[f"{part}_f1"] = sum(token_f1[index] for index in indices) / len(indices)
    return scores

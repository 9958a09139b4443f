"""Extractive QA metrics as XTREME's scorers define them: exact match and token F1 of a
predicted answer, the best over a question's gold answers, averaged over questions.

Two normalisations: SQuAD v1.1's (XQuAD, TyDiQA-GoldP) and MLQA's per-language one
(google-research/xtreme ``third_party/evaluate_mlqa.py``). Scores are on a 0-1 scale.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence

Normalise = Callable[[str], str]

_ASCII_PUNCTUATION = frozenset(string.punctuation)
_SQUAD_ARTICLES = re.compile(r"\b(a|an|the)\b")

# MLQA strips articles per answer language. The official Arabic pattern, "\sال^|ال", has a
# first branch that cannot match (a start anchor after a character), so it replaces every
# "ال", inside words too; this pattern does exactly that.
_MLQA_ARTICLES: dict[str, re.Pattern[str] | None] = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "ar": re.compile("ال"),
    "hi": None,
    "zh": None,
}
# Chinese answers are compared character by character (CJK ideographs), other runs by
# whitespace; every other MLQA language by whitespace alone.
_MLQA_CHARACTER_LANGUAGES = frozenset({"zh"})
_CJK = re.compile(r"[\u4e00-\u9fa5]")


def _is_unicode_punctuation(char: str) -> bool:
    return char in _ASCII_PUNCTUATION or unicodedata.category(char).startswith("P")


def normalise_squad(text: str) -> str:
    """SQuAD v1.1: lower case, drop ASCII punctuation and English articles, collapse spaces."""
    text = "".join(char for char in text.lower() if char not in _ASCII_PUNCTUATION)
    return " ".join(_SQUAD_ARTICLES.sub(" ", text).split())


def _segment_characters(text: str) -> list[str]:
    """Each CJK ideograph or punctuation mark on its own, other runs split on whitespace."""
    tokens: list[str] = []
    run = ""
    for char in text:
        if _CJK.match(char) or _is_unicode_punctuation(char):
            tokens += run.split()
            run = ""
            tokens.append(char)
        else:
            run += char
    return tokens + run.split()


def normalise_mlqa(text: str, language: str) -> str:
    """MLQA: lower case, drop Unicode punctuation, drop the language's articles, then
    tokens joined by single spaces (characters for Chinese)."""
    if language not in _MLQA_ARTICLES:
        raise ValueError(f"MLQA normalisation knows {', '.join(_MLQA_ARTICLES)}, not {language!r}")
    text = "".join(char for char in text.lower() if not _is_unicode_punctuation(char))
    articles = _MLQA_ARTICLES[language]
    if articles is not None:
        text = articles.sub(" ", text)
    tokens = _segment_characters(text) if language in _MLQA_CHARACTER_LANGUAGES else text.split()
    return " ".join(token for token in tokens if token.strip())


def exact_match(prediction: str, gold: str, normalise: Normalise) -> float:
    return float(normalise(prediction) == normalise(gold))


def f1(prediction: str, gold: str, normalise: Normalise) -> float:
    predicted = normalise(prediction).split()
    expected = normalise(gold).split()
    shared = sum((Counter(predicted) & Counter(expected)).values())
    if shared == 0:
        return 0.0
    precision = shared / len(predicted)
    recall = shared / len(expected)
    return 2 * precision * recall / (precision + recall)


def score_answers(
    predictions: Sequence[str | None], golds: Sequence[Sequence[str]], normalise: Normalise
) -> dict[str, float]:
    """``exact_match`` and ``f1``: per question the best over its gold answers, then the mean
    over every question. A None prediction is an unanswered question, which scores 0 on both
    (the official scorers' rule for a question missing from the predictions)."""
    if len(predictions) != len(golds) or not golds:
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} questions")
    if any(not answers for answers in golds):
        raise ValueError("every question needs at least one gold answer")
    answered = [(p, gs) for p, gs in zip(predictions, golds, strict=True) if p is not None]
    return {
        "exact_match": sum(max(exact_match(p, g, normalise) for g in gs) for p, gs in answered) / len(golds),
        "f1": sum(max(f1(p, g, normalise) for g in gs) for p, gs in answered) / len(golds),
    }

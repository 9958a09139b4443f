"""The four retrieval setups, chosen by an entry's ``settings.setup``: what is retrieved, from
which rows, and how it is scored (the row layouts are in ``tasks/families/retrieval.py``)."""

from __future__ import annotations

import abc
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from tasks.data import load_split
from tasks.families._base import Infer
from tasks.families.retrieval_text import entity_text, mention_query, sentence_breaks
from tasks.scoring import retrieval as scoring
from tasks.scoring.retrieval import Pair
from tasks.task import Task

if TYPE_CHECKING:
    from datasets import Dataset

Pairs = tuple[list[str], list[tuple[str, ...]]]


def tokenized(tokenizer: Any, max_length: int, texts: Sequence[str], pairs: Sequence[str] | None = None) -> dict:
    encoded = tokenizer(list(texts), list(pairs) if pairs is not None else None, truncation=True, max_length=max_length)
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}


@dataclass(frozen=True)
class Encoding:
    """How one evaluation turns texts into embeddings: its tokenizer, length and model run."""

    tokenizer: Any
    max_length: int
    infer: Infer

    def __call__(self, texts: Sequence[str], pairs: Sequence[str] | None = None) -> np.ndarray:
        """One embedding per text (or text pair), in order."""
        from datasets import Dataset

        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        texts = [text.strip() for text in texts]
        features = Dataset.from_dict(tokenized(self.tokenizer, self.max_length, texts, pairs))
        return np.asarray(self.infer(features), dtype=np.float32)


class Setup(abc.ABC):
    """One kind of retrieval: its training pairs, predictions, gold values and score."""

    submission_format: ClassVar[str]

    def training_pairs(self, rows: Dataset, task: Task) -> Pairs:
        """Dual-encoder training pairs: queries, and each query's candidate (text, or text pair)."""
        setup = task.settings.setup
        raise ValueError(f"{task.name}: a {setup} task is evaluated straight from the encoder, not trained")

    @abc.abstractmethod
    def predict(self, rows: Dataset, task: Task, embed: Encoding, language: str, data: str) -> list: ...

    @abc.abstractmethod
    def gold(self, rows: Dataset, task: Task) -> list | None: ...

    @abc.abstractmethod
    def score(self, predictions: Sequence, scored: list[tuple[Any, Any]]) -> dict[str, float]:
        """The metric over ``scored``, the (prediction, gold) pairs of rows with a gold value."""


def column(rows: Dataset, task: Task, role: str) -> list:
    name = task.columns[role]
    if name not in rows.column_names:
        name = task.settings.alternate_columns.get(role, name)
    return list(rows[name])


class Translation(Setup):
    """Tatoeba: each sentence's translation among all the split's other-side sentences."""

    submission_format = "label"

    def predict(self, rows: Dataset, task: Task, embed: Encoding, language: str, data: str) -> list:
        sources, targets = column(rows, task, "source"), column(rows, task, "target")
        queries, pool = (sources, targets) if task.settings.query_side == "source" else (targets, sources)
        return scoring.nearest(embed(queries), embed(pool))

    def gold(self, rows: Dataset, task: Task) -> list:
        return list(range(len(rows)))

    def score(self, predictions: Sequence, scored: list[tuple[Any, Any]]) -> dict[str, float]:
        return {"accuracy": scoring.accuracy([p for p, _ in scored], [g for _, g in scored])}


def mined_pairs(rows: Dataset, task: Task, embed: Encoding) -> dict[Pair, float]:
    """BUCC's candidates: every mined (source id, target id) pair and its margin.

    As XTREME's ``utils_retrieve``: identical sentences are embedded once, and a
    sentence found under two ids is left out (its id would be ambiguous)."""
    sides = []
    for text_role, id_role in (("source", "source_id"), ("target", "target_id")):
        ids_of: dict[str, set[str]] = {}
        for text, sentence_id in zip(column(rows, task, text_role), column(rows, task, id_role), strict=True):
            if text is not None:
                ids_of.setdefault(text.strip(), set()).add(sentence_id)
        sides.append((list(ids_of), [min(found) if len(found) == 1 else None for found in ids_of.values()]))
    (source_texts, source_ids), (target_texts, target_ids) = sides
    candidates: dict[Pair, float] = {}
    for i, j, margin in scoring.mine(embed(source_texts), embed(target_texts), task.settings.neighbourhood):
        if source_ids[i] is not None and target_ids[j] is not None:
            pair = (source_ids[i], target_ids[j])
            candidates[pair] = max(margin, candidates.get(pair, margin))
    return candidates


class Mining(Setup):
    """BUCC: parallel pairs mined from two sets of sentences, above a threshold tuned on the
    language's dev split, as XTREME does (on ``rows`` where the language has none)."""

    submission_format = "pairs"

    def predict(self, rows: Dataset, task: Task, embed: Encoding, language: str, data: str) -> list:
        candidates = mined_pairs(rows, task, embed)
        tuned_on, tuned_candidates = rows, candidates
        if language in task.dev:
            tuned_on = load_split(task.dev[language], data)
            tuned_candidates = mined_pairs(tuned_on, task, embed)
        gold = [tuple(g) for g in self.gold_pairs(tuned_on, task) if g]
        threshold = scoring.best_threshold(tuned_candidates, gold)
        kept = {source: (target, margin) for (source, target), margin in candidates.items() if margin >= threshold}
        predictions = []
        for source_id in column(rows, task, "source_id"):
            found = kept.pop(source_id, None)  # a pair is predicted once
            predictions.append([source_id, found[0], found[1]] if found else None)
        return predictions

    @staticmethod
    def gold_pairs(rows: Dataset, task: Task) -> list[list[str] | None]:
        columns = [column(rows, task, role) for role in ("source", "source_id", "target", "target_id")]
        return [
            [source_id, target_id] if source is not None and target is not None else None
            for source, source_id, target, target_id in zip(*columns, strict=True)
        ]

    def gold(self, rows: Dataset, task: Task) -> list | None:
        pairs = self.gold_pairs(rows, task)
        return pairs if any(pairs) else None

    def score(self, predictions: Sequence, scored: list[tuple[Any, Any]]) -> dict[str, float]:
        mined = [tuple(p[:2]) for p in predictions if p is not None]
        return scoring.pair_f1(mined, [tuple(g) for _, g in scored])


class Answer(Setup):
    """LAReQA: a question's answer sentences in a multilingual pool; trained on SQuAD."""

    submission_format = "answers"

    def training_pairs(self, rows: Dataset, task: Task) -> Pairs:
        """SQuAD v1.1 questions and their answer sentences (with the paragraph): the sentence
        holding the first answer's start, as XTREME-R's ``processors/lareqa.py``."""
        columns = task.columns
        queries, candidates = [], []
        for question, context, answers in zip(
            rows[columns["question"]], rows[columns["context"]], rows[columns["answers"]], strict=True
        ):
            start = answers["answer_start"][0]
            for first, last in sentence_breaks(context):
                if first <= start < last:
                    queries.append(question)
                    candidates.append((context[first:last], context))
                    break
        return queries, candidates

    def predict(self, rows: Dataset, task: Task, embed: Encoding, language: str, data: str) -> list:
        texts, sentences, contexts, uids = (list(rows[n]) for n in ("question", "sentence", "context", "candidate"))
        questions = [i for i, question in enumerate(texts) if question is not None]
        pool = [i for i, candidate in enumerate(uids) if candidate is not None]
        # An answer is encoded with its paragraph, as a segment pair: XTREME-R's dual encoder.
        pool_embeddings = embed([sentences[i] for i in pool], pairs=[contexts[i] for i in pool])
        _, ranked = scoring.knn(embed([texts[i] for i in questions]), pool_embeddings, scoring.TOP_K)
        predictions: list[list[str] | None] = [None] * len(rows)
        for i, best in zip(questions, ranked, strict=True):
            predictions[i] = [uids[pool[j]] for j in best]
        return predictions

    def gold(self, rows: Dataset, task: Task) -> list:
        answered_by: dict[str, list[str]] = {}
        for uid, answers in zip(rows["candidate"], rows["answers"], strict=True):
            for question_id in answers or ():
                answered_by.setdefault(question_id, []).append(uid)
        return [
            answered_by.get(question_id, []) if question is not None else None
            for question_id, question in zip(rows["id"], rows["question"], strict=True)
        ]

    def score(self, predictions: Sequence, scored: list[tuple[Any, Any]]) -> dict[str, float]:
        precisions = [scoring.average_precision_at_k(g, p, scoring.TOP_K) for p, g in scored]
        return {f"map_at_{scoring.TOP_K}": scoring.mean(precisions)}


# Mewsli-X's candidate embeddings, per evaluation: keyed by the evaluation's model run, so
# they go when it does; every language of one evaluation ranks against the same entities.
_CANDIDATES: weakref.WeakKeyDictionary[Callable, tuple[tuple, list[str], np.ndarray]] = weakref.WeakKeyDictionary()


class Entity(Setup):
    """Mewsli-X: a mention's entity among the candidate entities; trained on Wikipedia pairs."""

    submission_format = "entities"

    def training_pairs(self, rows: Dataset, task: Task) -> Pairs:
        language = task.settings.train_language
        queries, candidates = [], []
        for pair, entity in zip(rows["contextual_mention"], rows["entity"], strict=True):
            if language is None or pair["context"]["language"] == language:
                queries.append(mention_query(pair["context"], pair["mention"]))
                candidates.append((entity_text(entity),))
        return queries, candidates

    def predict(self, rows: Dataset, task: Task, embed: Encoding, language: str, data: str) -> list:
        ids, pool = self._candidates(task, embed, data)
        queries = [
            mention_query(context, mention) for context, mention in zip(rows["context"], rows["mention"], strict=True)
        ]
        _, ranked = scoring.knn(embed(queries), pool, scoring.TOP_K)
        return [[ids[i] for i in row] for row in ranked]

    @staticmethod
    def _candidates(task: Task, embed: Encoding, data: str) -> tuple[list[str], np.ndarray]:
        source = task.settings.candidates
        key = (source, data, embed.max_length)
        cached = _CANDIDATES.get(embed.infer)
        if cached is None or cached[0] != key:
            entities = load_split(source, data)
            cached = (key, list(entities["entity_id"]), embed([entity_text(entity) for entity in entities]))
            _CANDIDATES[embed.infer] = cached
        return cached[1], cached[2]

    def gold(self, rows: Dataset, task: Task) -> list | None:
        entities = [mention.get("entity_id") for mention in rows["mention"]]
        return entities if all(entities) else None

    def score(self, predictions: Sequence, scored: list[tuple[Any, Any]]) -> dict[str, float]:
        ranks = [scoring.reciprocal_rank_at_k(g, p, scoring.TOP_K) for p, g in scored]
        return {f"mrr_at_{scoring.TOP_K}": scoring.mean(ranks)}


SETUPS: dict[str, Setup] = {"translation": Translation(), "mining": Mining(), "answer": Answer(), "entity": Entity()}

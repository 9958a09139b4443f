"""Retrieval (Tatoeba, BUCC, LAReQA, Mewsli-X): texts embedded by mean pooling one encoder
layer, candidates ranked by similarity; LAReQA and Mewsli-X first train a dual encoder.

``task.settings`` (defaults in brackets):

- ``setup``: what is retrieved. ``translation`` (Tatoeba: each sentence's translation among
  all the split's other-side sentences), ``mining`` (BUCC: parallel pairs mined from two
  sets of sentences), ``answer`` (LAReQA: a question's answer sentences in a multilingual
  pool), ``entity`` (Mewsli-X: a mention's entity among the candidate entities).
- ``layer`` [14/24]: the hidden layer pooled. A float is a fraction of the encoder's depth
  (XTREME pools layer 14 of XLM-R large's 24; the fraction keeps a middle layer at every
  scale: 7 of base's 12, 1 of the tiny model's 2); an int is an index into the hidden
  states (0: the embeddings, -1: the last layer). The trained dual encoders pool the last.
- ``normalize`` [True]: embeddings scaled to unit length, so training's in-batch scores and
  the ranking are cosines. Tatoeba and BUCC compare cosines either way (XTREME's).
- ``logit_scale`` [100]: what cosines are multiplied by in the in-batch softmax (XTREME-R's).
- ``query_side`` [source]: Tatoeba's direction. ``source``: each xx sentence retrieves its
  English translation (the issue's xx→en); ``target``: each English sentence retrieves its
  xx translation, as XTREME's ``evaluate_retrieval.py`` searches.
- ``alternate_columns``: column names for rows that lack ``task.columns``' own (the
  XTREME-R Tatoeba pairs come from a dataset naming its columns ``sentence1``/``sentence2``).
- ``candidates``: the Source of Mewsli-X's candidate entities (one set for all languages).
- ``train_language``: the language of the training pairs kept (Mewsli-X trains on English).

Row layouts (the local mirror's, in the hub's columns where a hub dataset exists):

- translation: ``task.columns`` ``source`` and ``target``, a translation pair per row.
- mining: ``source``/``source_id`` and ``target``/``target_id``; a row holding both is a gold
  pair, a row holding one side is a sentence without translation (the hub's BUCC holds the
  gold pairs only; ``retrieval_rows.bucc_rows`` builds the full set from the official files).
- answer: one file per language (``retrieval_rows.lareqa_rows``): that language's questions (``id``,
  ``question``) and the pool, every language's sentences (``candidate``, ``sentence``,
  ``context``, ``answers``: the ids of the questions the sentence answers).
- entity: Mewsli-X's own JSON records: mentions (``context``, ``mention``) per language,
  candidate entities, training ``contextual_mention``/``entity`` pairs.

A prediction is the retrieved row index (Tatoeba), the mined pair ``[source id, target id,
margin]`` or None (BUCC), or the top 20 candidate ids (LAReQA, Mewsli-X; None for a pool row).
A gold value is the row's own index (Tatoeba: its translation is the pool's row of the same
index), the gold pair ``[source id, target id]`` or None (BUCC), the ids of the question's
answer sentences or None for a pool row (LAReQA), or the entity id (Mewsli-X); ``score``
reads them by the task's setup.
"""

from __future__ import annotations

import functools
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tasks.data import load_split
from tasks.families._base import Infer, TaskFamily
from tasks.scoring import retrieval as scoring
from tasks.scoring.retrieval import Pair
from tasks.task import Source, Task

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

DEFAULT_LAYER = 14 / 24
SETUPS = ("translation", "mining", "answer", "entity")


def layer_index(layer: float | int, num_layers: int) -> int:
    """The hidden-state index ``layer`` names in an encoder of ``num_layers`` layers."""
    if isinstance(layer, float):
        return max(1, round(layer * num_layers))
    return layer if layer >= 0 else num_layers + 1 + layer


@functools.cache
def _pooled_encoder() -> type:
    # Built on first use: torch and transformers take seconds to import, and listing tasks
    # should not wait for them.
    import torch
    import torch.nn.functional as F
    from transformers import PreTrainedModel

    class PooledEncoder(PreTrainedModel):
        """An encoder whose output is one embedding per input: the attention-masked mean of
        one layer's hidden states. Given candidates too (a dual encoder in training, one
        encoder for both sides), it returns the in-batch contrastive loss: each query's own
        candidate against the batch's others."""

        base_model_prefix = "encoder"
        supports_gradient_checkpointing = True
        # The encoder's own attention implementation runs; the wrapper adds none.
        _supports_sdpa = _supports_flash_attn = _supports_flex_attn = True

        def __init__(self, encoder: PreTrainedModel, layer: int, normalize: bool, logit_scale: float):
            super().__init__(encoder.config)
            self.encoder = encoder
            self.layer, self.normalize, self.logit_scale = layer, normalize, logit_scale

        def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            outputs = self.encoder(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
            hidden = outputs.hidden_states[self.layer]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
            return F.normalize(pooled, dim=-1) if self.normalize else pooled

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            candidate_input_ids: torch.Tensor | None = None,
            candidate_attention_mask: torch.Tensor | None = None,
        ) -> dict[str, torch.Tensor]:
            queries = self.embed(input_ids, attention_mask)
            if candidate_input_ids is None:
                return {"embeddings": queries}
            candidates = self.embed(candidate_input_ids, candidate_attention_mask)
            logits = self.logit_scale * queries @ candidates.T
            return {"loss": F.cross_entropy(logits, torch.arange(len(queries), device=logits.device))}

    return PooledEncoder


class _PairCollator:
    """Pads each side of a batch to its own longest; prediction batches have one side."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        from transformers import DataCollatorWithPadding

        self.pad = DataCollatorWithPadding(tokenizer)

    def __call__(self, features: list[dict]) -> dict:
        queries = self.pad([{key: f[key] for key in ("input_ids", "attention_mask")} for f in features])
        if "candidate_input_ids" not in features[0]:
            return dict(queries)
        candidates = self.pad(
            [{"input_ids": f["candidate_input_ids"], "attention_mask": f["candidate_attention_mask"]} for f in features]
        )
        return {
            **queries,
            "candidate_input_ids": candidates["input_ids"],
            "candidate_attention_mask": candidates["attention_mask"],
        }


class Retrieval(TaskFamily):
    def __init__(self) -> None:
        # Mewsli-X's candidate embeddings, kept for the evaluation that made them (every
        # language ranks against the same million entities).
        self._pool: tuple[weakref.ref, tuple, list[str], np.ndarray] | None = None

    def encode(self, rows: Dataset, task: Task, tokenizer, max_length: int) -> Dataset:
        """Dual-encoder training pairs: ``input_ids`` (the query) and ``candidate_input_ids``."""
        setup = _setup(task)
        if setup == "answer":
            queries, candidates = _squad_pairs(rows, task)
        elif setup == "entity":
            queries, candidates = _mention_entity_pairs(rows, task.settings.get("train_language"))
        else:
            raise ValueError(f"{task.name}: a {setup} task is evaluated straight from the encoder, not trained")
        if not queries:
            raise ValueError(f"{task.name}: no training pairs in {len(rows)} rows")
        from datasets import Dataset

        features = _tokenized(tokenizer, max_length, queries)
        paired = _tokenized(tokenizer, max_length, *zip(*candidates, strict=True))
        features.update({f"candidate_{key}": value for key, value in paired.items()})
        return Dataset.from_dict(features)

    def collator(self, tokenizer: PreTrainedTokenizerBase) -> Callable:
        return _PairCollator(tokenizer)

    def build_model(self, encoder_path: str, task: Task) -> PreTrainedModel:
        from transformers import AutoModel

        # No pooler: the embedding is a mean over one layer, and an unused head would stall
        # distributed training's gradient reduction.
        encoder = AutoModel.from_pretrained(encoder_path, add_pooling_layer=False)
        settings = task.settings
        layer = layer_index(settings.get("layer", DEFAULT_LAYER), encoder.config.num_hidden_layers)
        return _pooled_encoder()(
            encoder, layer, bool(settings.get("normalize", True)), float(settings.get("logit_scale", 100.0))
        )

    def predict(
        self,
        rows: Dataset,
        task: Task,
        tokenizer,
        max_length: int,
        infer: Infer,
        language: str,
        data: str,
    ) -> list:
        """One prediction per row. ``language`` and ``data`` (the split's language and where
        the data lives) let BUCC tune its threshold on the language's dev split, as XTREME
        does, and let Mewsli-X load its candidates; a language without a dev split has BUCC
        tune on ``rows``."""
        embed = functools.partial(_embed, tokenizer=tokenizer, max_length=max_length, infer=infer)
        setup = _setup(task)
        if setup == "translation":
            sources, targets = _column(rows, task, "source"), _column(rows, task, "target")
            queries, pool = (
                (sources, targets) if task.settings.get("query_side", "source") == "source" else (targets, sources)
            )
            return scoring.nearest(embed(queries), embed(pool))
        if setup == "mining":
            return self._mine(rows, task, tokenizer, max_length, infer, language, data)
        if setup == "answer":
            return _rank_answers(rows, embed)
        return self._rank_entities(rows, task, embed, infer, max_length, data)

    def gold(self, rows: Dataset, task: Task) -> list | None:
        setup = _setup(task)
        if setup == "translation":
            return list(range(len(rows)))
        if setup == "mining":
            pairs = _gold_pairs(rows, task)
            return pairs if any(pairs) else None
        if setup == "answer":
            return _relevant_answers(rows)
        entities = [mention.get("entity_id") for mention in rows["mention"]]
        return entities if all(entities) else None

    def score(self, predictions: Sequence, gold: Sequence, task: Task, language: str) -> dict[str, float]:
        setup = _setup(task)
        if len(predictions) != len(gold):
            raise ValueError(f"{len(predictions)} predictions for {len(gold)} gold values")
        scored = [(p, g) for p, g in zip(predictions, gold, strict=True) if g is not None]
        if not scored:
            raise ValueError("no gold values to score against")
        if setup == "translation":
            return {"accuracy": scoring.accuracy([p for p, _ in scored], [g for _, g in scored])}
        if setup == "mining":
            mined = [tuple(p[:2]) for p in predictions if p is not None]
            return scoring.pair_f1(mined, [tuple(g) for _, g in scored])
        k = scoring.TOP_K
        if setup == "answer":
            precisions = [scoring.average_precision_at_k(g, p, k) for p, g in scored]
            return {f"map_at_{k}": scoring.mean(precisions)}
        ranks = [scoring.reciprocal_rank_at_k(g, p, k) for p, g in scored]
        return {f"mrr_at_{k}": scoring.mean(ranks)}

    def mined_pairs(self, rows: Dataset, task: Task, tokenizer, max_length: int, infer: Infer) -> dict[Pair, float]:
        """BUCC's candidates: every mined (source id, target id) pair and its margin.

        As XTREME's ``utils_retrieve``: identical sentences are embedded once, and a
        sentence found under two ids is left out (its id would be ambiguous)."""
        sides = []
        for text_role, id_role in (("source", "source_id"), ("target", "target_id")):
            ids_of: dict[str, set[str]] = {}
            for text, sentence_id in zip(_column(rows, task, text_role), _column(rows, task, id_role), strict=True):
                if text is not None:
                    ids_of.setdefault(text.strip(), set()).add(sentence_id)
            sides.append((list(ids_of), [min(found) if len(found) == 1 else None for found in ids_of.values()]))
        (source_texts, source_ids), (target_texts, target_ids) = sides
        embed = functools.partial(_embed, tokenizer=tokenizer, max_length=max_length, infer=infer)
        neighbourhood = int(task.settings.get("neighbourhood", scoring.NEIGHBOURHOOD))
        candidates: dict[Pair, float] = {}
        for i, j, margin in scoring.mine(embed(source_texts), embed(target_texts), neighbourhood):
            if source_ids[i] is not None and target_ids[j] is not None:
                pair = (source_ids[i], target_ids[j])
                candidates[pair] = max(margin, candidates.get(pair, margin))
        return candidates

    def _mine(
        self, rows: Dataset, task: Task, tokenizer, max_length: int, infer: Infer, language: str, data: str
    ) -> list:
        candidates = self.mined_pairs(rows, task, tokenizer, max_length, infer)
        tuned_on, tuned_candidates = rows, candidates
        if language in task.dev:
            tuned_on = load_split(task.dev[language], data)
            tuned_candidates = self.mined_pairs(tuned_on, task, tokenizer, max_length, infer)
        gold = [tuple(g) for g in _gold_pairs(tuned_on, task) if g]
        threshold = scoring.best_threshold(tuned_candidates, gold)
        kept = {source: (target, margin) for (source, target), margin in candidates.items() if margin >= threshold}
        predictions = []
        for source_id in _column(rows, task, "source_id"):
            found = kept.pop(source_id, None)  # a pair is predicted once
            predictions.append([source_id, found[0], found[1]] if found else None)
        return predictions

    def _rank_entities(
        self, rows: Dataset, task: Task, embed: Callable, infer: Infer, max_length: int, data: str
    ) -> list[list[str]]:
        source: Source = task.settings["candidates"]
        key = (source, data, max_length)
        if self._pool is None or self._pool[0]() is not infer or self._pool[1] != key:
            entities = load_split(source, data)
            embeddings = embed([entity_text(entity) for entity in entities])
            self._pool = (weakref.ref(infer), key, list(entities["entity_id"]), embeddings)
        _, _, ids, pool = self._pool
        queries = [
            mention_query(context, mention) for context, mention in zip(rows["context"], rows["mention"], strict=True)
        ]
        _, ranked = scoring.knn(embed(queries), pool, scoring.TOP_K)
        return [[ids[i] for i in row] for row in ranked]


def _setup(task: Task) -> str:
    setup = task.settings.get("setup")
    if setup not in SETUPS:
        raise ValueError(f"{task.name}: settings['setup'] is {setup!r}, not one of {SETUPS}")
    return setup


def _column(rows: Dataset, task: Task, role: str) -> list:
    name = task.columns[role]
    if name not in rows.column_names:
        name = task.settings.get("alternate_columns", {}).get(role, name)
    return list(rows[name])


def _tokenized(tokenizer, max_length: int, texts: Sequence[str], pairs: Sequence[str] | None = None) -> dict:
    encoded = tokenizer(list(texts), list(pairs) if pairs is not None else None, truncation=True, max_length=max_length)
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}


def _embed(
    texts: Sequence[str], tokenizer, max_length: int, infer: Infer, pairs: Sequence[str] | None = None
) -> np.ndarray:
    """One embedding per text (or text pair), in order, from the model ``infer`` runs."""
    from datasets import Dataset

    if not texts:
        return np.zeros((0, 1), dtype=np.float32)
    texts = [text.strip() for text in texts]
    features = Dataset.from_dict(_tokenized(tokenizer, max_length, texts, pairs))
    return np.asarray(infer(features), dtype=np.float32)


def _gold_pairs(rows: Dataset, task: Task) -> list[list[str] | None]:
    columns = [_column(rows, task, role) for role in ("source", "source_id", "target", "target_id")]
    return [
        [source_id, target_id] if source is not None and target is not None else None
        for source, source_id, target, target_id in zip(*columns, strict=True)
    ]


def _rank_answers(rows: Dataset, embed: Callable) -> list[list[str] | None]:
    texts, sentences, contexts, uids = (list(rows[name]) for name in ("question", "sentence", "context", "candidate"))
    questions = [i for i, question in enumerate(texts) if question is not None]
    pool = [i for i, candidate in enumerate(uids) if candidate is not None]
    # An answer is encoded with its paragraph, as a segment pair: XTREME-R's dual encoder.
    pool_embeddings = embed([sentences[i] for i in pool], pairs=[contexts[i] for i in pool])
    _, ranked = scoring.knn(embed([texts[i] for i in questions]), pool_embeddings, scoring.TOP_K)
    predictions: list[list[str] | None] = [None] * len(rows)
    for i, best in zip(questions, ranked, strict=True):
        predictions[i] = [uids[pool[j]] for j in best]
    return predictions


def _relevant_answers(rows: Dataset) -> list[list[str] | None]:
    answered_by: dict[str, list[str]] = {}
    for uid, answers in zip(rows["candidate"], rows["answers"], strict=True):
        for question_id in answers or ():
            answered_by.setdefault(question_id, []).append(uid)
    return [
        answered_by.get(question_id, []) if question is not None else None
        for question_id, question in zip(rows["id"], rows["question"], strict=True)
    ]


# Sentence ends: punctuation, closing quotes or brackets, space, then what opens a
# sentence. A simpler cousin of XTREME-R's SQuAD sentence breaker (``sb_sed.py``), for
# English training paragraphs only: evaluation uses XQuAD-R's own sentence breaks.
_SENTENCE_END = re.compile(r"""[.?!][)'"\u201d]*\s+(?=[\['"(\u201c]?[A-Z0-9])""")
_ABBREVIATION = re.compile(r"\b(?:Mrs?|Ms|Dr|Prof|St|Jr|Sr|Gen|Col|Capt|Gov|Sen|Rep|Rev|vs|e\.g|i\.e|U\.S|[A-Z])\.$")


def sentence_breaks(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences of an English paragraph."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        end = match.start() + len(match.group().rstrip())
        if not _ABBREVIATION.search(text[start:end]):
            spans.append((start, end))
            start = match.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return spans


def _squad_pairs(rows: Dataset, task: Task) -> tuple[list[str], list[tuple[str, str]]]:
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


def _normalized(text: str) -> str:
    # Mewsli-X's light normalisation: newlines and double spaces to single spaces.
    return " ".join(text.splitlines()).replace("  ", " ").strip()


def mention_query(context: Mapping[str, Any], mention: Mapping[str, Any]) -> str:
    """Mewsli-X's baseline query: the mention, a colon, then the sentence that holds it with
    the mention in braces (braces already in the text become parentheses)."""
    span = mention["mention_span"]
    text, start, end = context["text"], span["start"], span["end"]
    sentence = next(
        (s for s in context.get("sentence_spans") or () if s["start"] <= start and end <= s["end"]),
        {"start": 0, "end": len(text)},
    )

    def escaped(part: str) -> str:
        return re.sub(r"\{(.*?)\}", r"(\1)", part)

    left, right = escaped(text[sentence["start"] : start]), escaped(text[end : sentence["end"]])
    return _normalized(f"{span['text']}: {left} {{ {span['text']} }} {right}")


def entity_text(entity: Mapping[str, Any]) -> str:
    """An entity's description, its sentences joined by spaces."""
    description = entity["description"]
    return _normalized(" ".join(description[s["start"] : s["end"]] for s in entity["sentence_spans"]))


def _mention_entity_pairs(rows: Dataset, language: str | None) -> tuple[list[str], list[tuple[str]]]:
    queries, candidates = [], []
    for pair, entity in zip(rows["contextual_mention"], rows["entity"], strict=True):
        if language is None or pair["context"]["language"] == language:
            queries.append(mention_query(pair["context"], pair["mention"]))
            candidates.append((entity_text(entity),))
    return queries, candidates

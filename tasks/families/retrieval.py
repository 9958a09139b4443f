"""Retrieval (Tatoeba, BUCC, LAReQA, Mewsli-X): texts embedded by mean pooling one encoder
layer, candidates ranked by similarity; LAReQA and Mewsli-X first train a dual encoder.

``task.settings``, a ``RetrievalSettings`` (defaults in brackets):

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
- ``neighbourhood`` [4]: BUCC's k nearest neighbours in the margin score.

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
answer sentences or None for a pool row (LAReQA), or the entity id (Mewsli-X). Each setup is
its own class (``retrieval_setups``); this family delegates to the entry's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from tasks.batching import feature_lengths
from tasks.families._base import Infer, TaskFamily, missing_column
from tasks.families.retrieval_setups import SETUPS, Encoding, Setup, mined_pairs, tokenized
from tasks.scoring.retrieval import Pair
from tasks.task import Task

if TYPE_CHECKING:
    import numpy as np
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


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
    def encode(self, rows: Dataset, task: Task, tokenizer, max_length: int) -> Dataset:
        """Dual-encoder training pairs: ``input_ids`` (the query) and ``candidate_input_ids``."""
        queries, candidates = _setup(task).training_pairs(rows, task)
        if not queries:
            raise ValueError(f"{task.name}: no training pairs in {len(rows)} rows")
        from datasets import Dataset

        features = tokenized(tokenizer, max_length, queries)
        paired = tokenized(tokenizer, max_length, *zip(*candidates, strict=True))
        features.update({f"candidate_{key}": value for key, value in paired.items()})
        return Dataset.from_dict(features)

    def check_rows(self, rows: Dataset, task: Task) -> str | None:
        # The entry's columns, or the other spelling one of its sources has (MTEB's Tatoeba);
        # Mewsli-X names none (its setup reads the official records' own fields).
        names = set(rows.column_names)
        spellings = [list(task.columns.values()), list(task.settings.alternate_columns.values())]
        if not spellings[0] or any(spelling and set(spelling) <= names for spelling in spellings):
            return None
        return missing_column(rows, spellings[0])

    def collator(self, tokenizer: PreTrainedTokenizerBase) -> Callable:
        return _PairCollator(tokenizer)

    def train_lengths(self, features: Dataset) -> np.ndarray:
        """A pair's query and candidate tokens: each side of a batch pads to its own longest."""
        candidates = features.select_columns("candidate_input_ids").rename_column("candidate_input_ids", "input_ids")
        return feature_lengths(features) + feature_lengths(candidates)

    def build_model(self, encoder_path: str, task: Task) -> PreTrainedModel:
        from transformers import AutoModel

        # No pooler: the embedding is a mean over one layer, and an unused head would stall
        # distributed training's gradient reduction.
        encoder = AutoModel.from_pretrained(encoder_path, add_pooling_layer=False)
        settings = task.settings
        layer = layer_index(settings.layer, encoder.config.num_hidden_layers)
        return _pooled_encoder()(encoder, layer, settings.normalize, float(settings.logit_scale))

    def predict(
        self, rows: Dataset, task: Task, tokenizer, max_length: int, infer: Infer, language: str, data: str
    ) -> list:
        """One prediction per row. ``language`` and ``data`` (the split's language and where
        the data lives) let BUCC tune its threshold on the language's dev split, and let
        Mewsli-X load its candidates."""
        return _setup(task).predict(rows, task, Encoding(tokenizer, max_length, infer), language, data)

    def gold(self, rows: Dataset, task: Task) -> list | None:
        return _setup(task).gold(rows, task)

    def score(self, predictions: Sequence, gold: Sequence, task: Task, language: str) -> dict[str, float]:
        if len(predictions) != len(gold):
            raise ValueError(f"{len(predictions)} predictions for {len(gold)} gold values")
        scored = [(p, g) for p, g in zip(predictions, gold, strict=True) if g is not None]
        if not scored:
            raise ValueError("no gold values to score against")
        return _setup(task).score(predictions, scored)

    def submission_format(self, task: Task) -> str:
        return _setup(task).submission_format

    def mined_pairs(self, rows: Dataset, task: Task, tokenizer, max_length: int, infer: Infer) -> dict[Pair, float]:
        """BUCC's candidates: every mined (source id, target id) pair and its margin."""
        return mined_pairs(rows, task, Encoding(tokenizer, max_length, infer))


def _setup(task: Task) -> Setup:
    return SETUPS[task.settings.setup]

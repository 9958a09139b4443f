"""Retrieval's setups as classes: each entry's setup picks its class, and Mewsli-X's candidate
embeddings live as long as the evaluation that made them, outside the family singleton."""

from __future__ import annotations

import gc

import numpy as np
from datasets import Dataset

from tasks import FAMILIES, get_task
from tasks.families import retrieval_setups
from tasks.families.retrieval_setups import SETUPS, Encoding, Entity

SETUPS_OF = ("tatoeba", "bucc2018", "lareqa", "mewslix")


def test_each_entry_names_its_setup_and_submission_format() -> None:
    formats = {name: FAMILIES["retrieval"].submission_format(get_task(name)) for name in SETUPS_OF}
    assert formats == {"tatoeba": "label", "bucc2018": "pairs", "lareqa": "answers", "mewslix": "entities"}
    assert {type(SETUPS[get_task(name).settings.setup]).__name__ for name in SETUPS_OF} == {
        "Translation", "Mining", "Answer", "Entity",
    }  # fmt: skip


def _entities() -> Dataset:
    description = "A cat. It purrs."
    spans = [{"start": 0, "end": 6}, {"start": 7, "end": 16}]
    rows = [{"entity_id": f"Q{i}", "description": description, "sentence_spans": spans} for i in (1, 2)]
    return Dataset.from_list(rows)


def test_candidates_are_embedded_once_per_evaluation_and_go_with_it(monkeypatch) -> None:
    loads = []
    monkeypatch.setattr(retrieval_setups, "load_split", lambda source, data: loads.append(source) or _entities())

    def tokenizer(texts, pairs=None, truncation=True, max_length=8):
        return {"input_ids": [[0, 1]] * len(texts), "attention_mask": [[1, 1]] * len(texts)}

    def infer(features):
        return np.ones((len(features), 4), dtype=np.float32)

    mewslix = get_task("mewslix")
    encoding = Encoding(tokenizer, 8, infer)
    for _ in ("de", "en"):  # two languages of one evaluation
        ids, pool = Entity._candidates(mewslix, encoding, "DIR")
    assert ids == ["Q1", "Q2"] and pool.shape == (2, 4) and len(loads) == 1
    other = Encoding(tokenizer, 8, lambda features: np.zeros((len(features), 4), dtype=np.float32))
    Entity._candidates(mewslix, other, "DIR")
    assert len(loads) == 2  # another evaluation embeds its own
    del encoding, infer, other
    gc.collect()
    assert len(retrieval_setups._CANDIDATES) == 0  # gone with the evaluations' model runs

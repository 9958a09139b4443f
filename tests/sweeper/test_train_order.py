"""The training stage's Trainer draws the family's batches: the Trainer's own shuffle with
``random`` (the default), grouped by length with ``grouped``, through the real DataLoader
Accelerate prepares."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from datasets import Dataset
from transformers import TrainingArguments, XLMRobertaConfig, XLMRobertaForSequenceClassification

from sweeper.train.finetune import _Trainer
from tasks import get_task
from tasks.batching import GROUPED, RANDOM, LengthGroupedBatches


def _pad(features: list[dict]) -> dict:
    width = max(len(f["input_ids"]) for f in features)
    ids = [f["input_ids"] + [1] * (width - len(f["input_ids"])) for f in features]
    mask = [[1] * len(f["input_ids"]) + [0] * (width - len(f["input_ids"])) for f in features]
    labels = [f["labels"] for f in features]
    return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask), "labels": torch.tensor(labels)}


@pytest.mark.parametrize("order", [GROUPED, RANDOM])
def test_the_trainer_draws_batches_in_the_order_asked(order: str, tmp_path) -> None:
    rng = np.random.default_rng(0)
    lengths = np.clip(np.rint(rng.lognormal(np.log(43), 0.55, 640)), 5, 232).astype(int)
    features = Dataset.from_dict({"input_ids": [[5] * n for n in lengths], "labels": [0] * len(lengths)})
    config = XLMRobertaConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                              intermediate_size=8, max_position_embeddings=300, num_labels=3)  # fmt: skip
    args = TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=16, seed=0, data_seed=0, use_cpu=True, report_to="none"
    )
    trainer = _Trainer(
        model=XLMRobertaForSequenceClassification(config), args=args, data_collator=_pad, train_dataset=features
    )
    trainer.task, trainer.batch_order = get_task("xnli"), order
    loader = trainer.get_train_dataloader()
    widths = [batch["attention_mask"] for batch in loader]
    pad_share = sum(int((m == 0).sum()) for m in widths) / sum(m.numel() for m in widths)
    assert sum(int(m.sum()) for m in widths) == int(lengths.sum())  # every example once
    sampler = trainer._get_train_sampler()
    if order == GROUPED:
        assert isinstance(sampler, LengthGroupedBatches) and pad_share < 0.2
    else:
        assert not isinstance(sampler, LengthGroupedBatches) and pad_share > 0.5


def test_grouped_order_is_another_sweep_and_other_cells_random_keeps_the_keys(monkeypatch) -> None:
    from sweeper.plan.plan import make_plan
    from sweeper.plan.spec import SpecError, build_spec

    def spec(**order: str):
        return build_spec(scales="base", intermediate="mnli", targets_="pawsx", trials=1, seeds=1, **order)

    default, grouped, shuffled = spec(), spec(batch_order=GROUPED), spec(batch_order=RANDOM)
    # Random, the order sweeps trained in before grouping existed, keeps their keys.
    assert default.fingerprint() == shuffled.fingerprint() != grouped.fingerprint()
    keys = [{cell.key for cell in make_plan(s).cells} for s in (default, grouped)]
    assert keys[0].isdisjoint(keys[1])
    # Grouping's parameters decide its batches: other parameters are another sweep, other cells.
    before = grouped.fingerprint()
    monkeypatch.setattr("tasks.batching.LENGTH_NOISE", 0.0)
    assert grouped.fingerprint() != before
    assert keys[1].isdisjoint(cell.key for cell in make_plan(grouped).cells)
    with pytest.raises(SpecError, match="--batch-order: 'sorted'; valid: grouped, random"):
        spec(batch_order="sorted")

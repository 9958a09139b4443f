"""Multi-task training (the `all` intermediate) on real samples: homogeneous batches drawn by
temperature, one shared encoder, each member scored as its own family scores it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from sweeper.train.finetune import Hyperparameters, evaluate, fine_tune
from sweeper.train.pretrained import build_tiny_model
from tasks import get_task, load_split, resolve_task, texts_of
from tasks.families.multitask import HomogeneousBatches, MultiTaskFeatures, sampling_weights
from tests.tasks.realdata import convert_every_task

MEMBERS = ("mnli", "qqp", "xquad")  # two classification tasks and span QA (SQuAD)
HPARAMS = Hyperparameters(
    learning_rate=1e-3, seed=0, epochs=1, batch_size=4, max_length=128, warmup_ratio=0.1, per_device_batch=4
)


@pytest.fixture(scope="module")
def mirror(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = convert_every_task(realdata, tmp_path_factory.mktemp("mirror"))
    for name in MEMBERS:  # a few rows each: the machinery, not the numbers, is under test
        path = Path(get_task(name).train.local_path(str(root)))
        path.write_text("".join(path.read_text(encoding="utf-8").splitlines(True)[:12]), encoding="utf-8")
    return root


def _all_of(members: tuple[str, ...]):
    return dataclasses.replace(get_task("all"), settings=dataclasses.replace(get_task("all").settings, members=members))


def test_temperature_flattens_the_mix_by_hand() -> None:
    sizes = [400, 100]
    assert sampling_weights(sizes, "proportional", 2.0) == pytest.approx([0.8, 0.2])
    # n ** (1/2): 20 and 10.
    assert sampling_weights(sizes, "temperature", 2.0) == pytest.approx([2 / 3, 1 / 3])


def test_every_batch_comes_from_one_member_and_small_members_are_seen() -> None:
    from datasets import Dataset

    features = MultiTaskFeatures(
        [Dataset.from_dict({"x": list(range(400))}), Dataset.from_dict({"x": list(range(1000, 1010))})]
    )
    sampler = HomogeneousBatches(features, sampling_weights([400, 10], "temperature", 2.0), batch_size=4, seed=0)
    order = list(sampler)
    assert len(order) == len(sampler) == 412  # whole batches of 4 covering 410 examples
    batches = [order[i : i + 4] for i in range(0, len(order), 4)]
    members = [{features[i]["task_index"] for i in batch} for batch in batches]
    assert all(len(found) == 1 for found in members)
    small = sum(found == {1} for found in members)
    # Expected share of member 1 at T=2: sqrt(10) / (sqrt(400) + sqrt(10)) = 0.137 of 103 batches.
    assert 5 <= small <= 25
    assert list(sampler) == order  # the same epoch draws the same order
    sampler.set_epoch(1)
    assert list(sampler) != order


def test_all_trains_one_encoder_and_scores_each_member(mirror: Path, tmp_path: Path) -> None:
    task = resolve_task(_all_of(MEMBERS), str(mirror))
    assert _names(task) == MEMBERS
    texts = [t for name in MEMBERS for t in texts_of(load_split(get_task(name).train, str(mirror)))]
    encoder = build_tiny_model(texts, tmp_path / "tiny")
    tuned = fine_tune(str(encoder), task, str(mirror), HPARAMS, tmp_path / "trainer")
    assert tuned.trainer.state.global_step > 0
    shared = tuned.model.base_model
    assert all(model.roberta is shared for model in tuned.model.members.values())

    evaluation = evaluate(tuned, task, str(mirror), ("en",), ("dev",), HPARAMS.max_length)
    member_keys = {"dev/mnli_accuracy/en", "dev/qqp_accuracy/en", "dev/xquad_f1/en"}
    assert member_keys < set(evaluation.metrics)
    assert evaluation.metrics["dev/score/en"] == pytest.approx(
        np.mean([evaluation.metrics[key] for key in member_keys])
    )
    # What passes to the target stage: the shared encoder, trained.
    checkpoint = tuned.save_encoder(tmp_path / "checkpoint")
    from transformers import AutoModel

    trained, pretrained = AutoModel.from_pretrained(checkpoint), AutoModel.from_pretrained(encoder)
    changed = [
        name for name, weight in trained.state_dict().items() if not torch.equal(weight, pretrained.state_dict()[name])
    ]
    assert len(changed) > len(trained.state_dict()) // 2


def _names(task) -> tuple[str, ...]:
    return tuple(member.name for member in task.settings.members)


def test_members_without_data_are_left_out(mirror: Path, tmp_path: Path) -> None:
    task = _all_of(("mnli", "qqp", "mewslix"))  # no Mewsli-X sample in this mirror
    assert _names(resolve_task(task, str(mirror))) == ("mnli", "qqp")
    # CCG is licensed: the hub does not serve it.
    assert _names(resolve_task(_all_of(("mnli", "ccg")), "hub")) == ("mnli",)

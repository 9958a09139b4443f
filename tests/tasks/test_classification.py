"""The classification family on real XNLI, MNLI, QQP and PAWS-X samples, through the normal loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweeper.train.finetune import Hyperparameters, evaluate, fine_tune
from sweeper.train.pretrained import build_tiny_model
from tasks import family_of, get_task, languages_present, load_split
from tests.tasks.realdata import convert_all


@pytest.fixture(scope="module")
def real_mirror(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return convert_all(realdata, tmp_path_factory.mktemp("real-mirror"))


@pytest.fixture(scope="module")
def tiny_encoder(real_mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = []
    for name in ("xnli", "pawsx", "mnli", "qqp"):
        task = get_task(name)
        for lang in languages_present(task, str(real_mirror)):
            rows = load_split(task.dev[lang], str(real_mirror))
            texts += list(rows[task.columns["text_a"]]) + list(rows[task.columns["text_b"]])
    return build_tiny_model(texts, tmp_path_factory.mktemp("tiny"))


def test_real_xnli_has_every_language_and_original_labels(real_mirror: Path) -> None:
    xnli = get_task("xnli")
    assert languages_present(xnli, str(real_mirror)) == list(xnli.languages)
    rows = load_split(xnli.dev["de"], str(real_mirror))
    # XNLI pair 1/1, "And he said, Mama, I'm home.", is neutral in every language.
    assert rows[0]["premise"].startswith("und er hat gesagt")
    assert family_of("classification").gold(rows, xnli) == ["neutral"]


def test_encoding_keeps_non_latin_text(real_mirror: Path, tiny_encoder: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_encoder)
    xnli = get_task("xnli")
    for lang in ("ar", "zh", "th", "hi"):
        encoded = family_of("classification").encode(load_split(xnli.dev[lang], str(real_mirror)), xnli, tokenizer, 256)
        ids = encoded[0]["input_ids"]
        assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
        # Two segments, XLM-R style: <s> A </s></s> B </s>.
        assert ids.count(tokenizer.eos_token_id) == 3
        assert ids.count(tokenizer.unk_token_id) < len(ids) / 2, lang


def test_accuracy_is_the_share_of_matching_labels() -> None:
    score, xnli = family_of("classification").score, get_task("xnli")
    assert score(["a", "b", "a", "a"], ["a", "a", "a", "b"], xnli, "en") == {"accuracy": 0.5}
    with pytest.raises(ValueError):
        score(["a"], ["a", "b"], xnli, "en")


@pytest.mark.parametrize("target", ["xnli", "pawsx"])
def test_fine_tune_and_evaluate_on_real_samples(
    target: str, real_mirror: Path, tiny_encoder: Path, tmp_path: Path
) -> None:
    task = get_task(target)
    hparams = Hyperparameters(
        learning_rate=1e-3, seed=0, epochs=1, batch_size=4, max_length=128, warmup_ratio=0.1, per_device_batch=4
    )
    tuned = fine_tune(str(tiny_encoder), task, str(real_mirror), hparams, tmp_path)
    langs = languages_present(task, str(real_mirror))
    evaluation = evaluate(tuned, task, str(real_mirror), langs, ("dev", "test"), 128)
    family = family_of(task.family)
    for lang in langs:
        for split, sources in (("dev", task.dev), ("test", task.test)):
            gold = family.gold(load_split(sources[lang], str(real_mirror)), task)
            predicted = evaluation.predictions[(split, lang)]
            assert set(predicted) <= set(task.labels)
            # The logged metric is the one recomputed from the saved predictions.
            assert (
                evaluation.metrics[f"{split}/accuracy/{lang}"] == family.score(predicted, gold, task, lang)["accuracy"]
            )


def test_saved_encoder_loads_as_the_next_stage(real_mirror: Path, tiny_encoder: Path, tmp_path: Path) -> None:
    hparams = Hyperparameters(
        learning_rate=1e-3, seed=0, epochs=1, batch_size=4, max_length=128, warmup_ratio=0.1, per_device_batch=4
    )
    tuned = fine_tune(str(tiny_encoder), get_task("mnli"), str(real_mirror), hparams, tmp_path / "mnli")
    checkpoint = tuned.save_encoder(tmp_path / "checkpoint")
    pawsx = get_task("pawsx")
    next_stage = family_of("classification").build_model(str(checkpoint), pawsx)
    assert next_stage.config.num_labels == 2
    encoder_before = tuned.model.base_model.embeddings.word_embeddings.weight
    encoder_after = next_stage.base_model.embeddings.word_embeddings.weight
    assert encoder_before.detach().equal(encoder_after.detach())

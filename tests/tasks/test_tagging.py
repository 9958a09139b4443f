"""The tagging family on real UD (CoNLL-U) and PAN-X samples, through the normal loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from datasets import Dataset

from sweeper.train.finetune import Hyperparameters, evaluate, fine_tune
from sweeper.train.pretrained import build_tiny_model
from tasks import family_of, get_task, languages_present, load_split
from tests.tasks.realdata_tagging import (
    conllu_sentences,
    convert_all,
    universal_dependencies_row,
    xtreme_udpos_row,
)

tagging = family_of("tagging")
# Evaluated in the end-to-end test: every script of the samples (Latin, Arabic, Devanagari,
# Cyrillic, Thai, Han, Japanese kana), not all 40 PAN-X languages, as each split costs a load.
EVALUATED = {"ar", "de", "en", "hi", "ja", "ru", "th", "zh"}


@pytest.fixture(scope="module")
def real_mirror(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return convert_all(realdata, tmp_path_factory.mktemp("real-mirror"))


@pytest.fixture(scope="module")
def tiny_encoder(real_mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = []
    for name in ("udpos", "panx"):
        task = get_task(name)
        for lang in languages_present(task, str(real_mirror)):
            texts += [" ".join(words) for words in load_split(task.dev[lang], str(real_mirror))["tokens"]]
    return build_tiny_model(texts, tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def tokenizer(tiny_encoder: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_encoder)


def test_samples_convert_with_multiword_tokens_split(realdata: Path, real_mirror: Path) -> None:
    assert languages_present(get_task("udpos"), str(real_mirror)) == ["de", "en", "zh"]
    panx = get_task("panx")
    # The PAN-X samples hold XTREME's 40 languages; XTREME-R's eight extra ones have none.
    assert len(languages_present(panx, str(real_mirror))) == 40
    rows = load_split(get_task("udpos").dev["de"], str(real_mirror))
    # "im" (line 4-5) is the contraction of "in" + "dem": the words are tagged, not the range.
    sentence = next(words for words in rows["tokens"] if "Ferienhaus" in words)
    assert sentence[2:6] == ["Erholung", "in", "dem", "Ferienhaus"]
    assert tagging.gold(load_split(panx.dev["de"], str(real_mirror)), panx) is not None


def _expected_labels(words: list[str], tags: list[str], tokenizer, labels: tuple[str, ...]) -> list[int]:
    """XTREME's alignment, built word by word: the tag on a word's first piece, -100 elsewhere."""
    expected = [-100]  # <s>
    for word, tag in zip(words, tags, strict=True):
        pieces = tokenizer([word], is_split_into_words=True, add_special_tokens=False)["input_ids"]
        expected += [labels.index(tag)] + [-100] * (len(pieces) - 1)
    return expected + [-100]  # </s>


@pytest.mark.parametrize(
    ("target", "lang"),
    [("udpos", "de"), ("udpos", "zh"), ("panx", "ar"), ("panx", "hi"), ("panx", "ru"), ("panx", "th"), ("panx", "zh")],
)
def test_each_words_first_subtoken_carries_its_tag(target: str, lang: str, real_mirror: Path, tokenizer) -> None:
    task = get_task(target)
    rows = load_split(task.dev[lang], str(real_mirror))
    encoded = tagging.encode(rows, task, tokenizer, 512)
    gold = tagging.gold(rows, task)
    split_words = 0
    for words, tags, features in zip(rows["tokens"], gold, encoded, strict=True):
        expected = _expected_labels(words, tags, tokenizer, task.labels)
        assert features["labels"] == expected
        assert len(features["input_ids"]) == len(expected)
        # Word count preserved: exactly one tagged position per word.
        assert sum(label != -100 for label in features["labels"]) == len(words)
        split_words += len(expected) - 2 - len(words)
    # Some words span several pieces, so the -100 inside words is exercised.
    assert split_words > 0


def test_universal_dependencies_rows_read_as_google_xtreme_rows(realdata: Path, tokenizer) -> None:
    udpos = get_task("udpos")
    for name in ("de_gsd-ud-dev.conllu", "en_ewt-ud-dev.conllu"):
        sentences = conllu_sentences(realdata / "udpos" / name)
        xtreme = Dataset.from_list([xtreme_udpos_row(sentence) for sentence in sentences])
        ud = Dataset.from_list([universal_dependencies_row(sentence) for sentence in sentences])
        assert len(ud[0]["tokens"]) >= len(xtreme[0]["tokens"])
        assert tagging.gold(ud, udpos) == tagging.gold(xtreme, udpos)
        assert tagging.encode(ud, udpos, tokenizer, 128)[:] == tagging.encode(xtreme, udpos, tokenizer, 128)[:]


def test_words_past_max_length_get_the_fallback_tag(real_mirror: Path, tokenizer) -> None:
    udpos = get_task("udpos")
    rows = load_split(udpos.dev["de"], str(real_mirror))
    max_length = 12
    noun = udpos.labels.index("NOUN")

    def infer(features: Dataset) -> np.ndarray:
        longest = max(len(ids) for ids in features["input_ids"])
        logits = np.zeros((len(features), longest, len(udpos.labels)), dtype=np.float32)
        logits[:, :, noun] = 1.0
        return logits

    predicted = tagging.predict(rows, udpos, tokenizer, max_length, infer, "de", str(real_mirror))
    assert [len(tags) for tags in predicted] == [len(words) for words in rows["tokens"]]
    for words, tags in zip(rows["tokens"], predicted, strict=True):
        position, in_window = 1, 0  # after <s>; </s> takes the last position
        for word in words:
            in_window += position < max_length - 1
            position += len(tokenizer([word], is_split_into_words=True, add_special_tokens=False)["input_ids"])
        assert tags == ["NOUN"] * in_window + ["X"] * (len(words) - in_window)
    assert any("X" in tags for tags in predicted)


def test_f1_is_seqevals_chunk_f1_on_hand_made_sequences() -> None:
    panx, udpos = get_task("panx"), get_task("udpos")
    # NER, entity level: gold PER, LOC | ORG; predicted PER, ORG | a shorter ORG. One of
    # three entities right on each side: P = R = F1 = 1/3.
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG"]]
    predicted = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "B-ORG", "O"]]
    assert tagging.score(predicted, gold, panx, "en") == {"f1": pytest.approx(1 / 3)}
    # POS as evaluate.py scores it: a run of equal tags is one chunk. Gold DET|NOUN|VERB|PUNCT
    # (4 chunks), predicted DET|NOUN NOUN|PUNCT (3 chunks), DET and PUNCT right:
    # P = 2/3, R = 2/4, F1 = 4/7 (token accuracy would be 3/4).
    gold = [["DET", "NOUN", "VERB", "PUNCT"]]
    predicted = [["DET", "NOUN", "NOUN", "PUNCT"]]
    assert tagging.score(predicted, gold, udpos, "en") == {"f1": pytest.approx(4 / 7)}
    with pytest.raises(ValueError):
        tagging.score([["O"]], [["O", "O"]], panx, "en")


@pytest.mark.parametrize("target", ["udpos", "panx"])
def test_fine_tune_and_evaluate_on_real_samples(
    target: str, real_mirror: Path, tiny_encoder: Path, tmp_path: Path
) -> None:
    task = get_task(target)
    hparams = Hyperparameters(
        learning_rate=1e-3, seed=0, epochs=1, batch_size=4, max_length=128, warmup_ratio=0.1, per_device_batch=4
    )
    tuned = fine_tune(str(tiny_encoder), task, str(real_mirror), hparams, tmp_path)
    langs = [lang for lang in languages_present(task, str(real_mirror)) if lang in EVALUATED]
    evaluation = evaluate(tuned, task, str(real_mirror), langs, ("dev", "test"), 128)
    scored = 0
    for (split, lang), predicted in evaluation.predictions.items():
        source = {"dev": task.dev, "test": task.test}[split][lang]
        gold = tagging.gold(load_split(source, str(real_mirror)), task)
        assert [len(tags) for tags in predicted] == [len(tags) for tags in gold]
        assert {tag for tags in predicted for tag in tags} <= set(task.labels)
        # The logged metric is the one recomputed from the saved predictions.
        assert evaluation.metrics[f"{split}/f1/{lang}"] == tagging.score(predicted, gold, task, lang)["f1"]
        scored += 1
    # The UD samples are dev files only; PAN-X has dev and test.
    assert scored == len(evaluation.metrics) == len(langs) * {"udpos": 1, "panx": 2}[target]

"""The multiple-choice family on real XCOPA samples (and English stand-ins), through the normal loader."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sweeper.train.finetune import Hyperparameters, evaluate, fine_tune
from sweeper.train.pretrained import build_tiny_model
from tasks import Task, family_of, get_task, languages_present, load_split
from tasks.scoring.accuracy import accuracy
from tests.tasks.realdata_choice import convert_all, convert_commonsense_qa, convert_cosmos_qa, convert_hellaswag

FAMILY = family_of("multiple_choice")
HPARAMS = Hyperparameters(
    learning_rate=1e-3, seed=0, epochs=1, batch_size=4, max_length=64, warmup_ratio=0.1, per_device_batch=4
)


@pytest.fixture(scope="module")
def real_mirror(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return convert_all(realdata, tmp_path_factory.mktemp("real-mirror"))


@pytest.fixture(scope="module")
def tiny_encoder(real_mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    xcopa = get_task("xcopa")
    texts = []
    for source in (*xcopa.dev.values(), xcopa.then_train):
        rows = load_split(source, str(real_mirror))
        texts += list(rows["premise"]) + list(rows["choice1"]) + list(rows["choice2"])
    siqa = load_split(xcopa.train, str(real_mirror))
    for column in ("context", "question", "answerA", "answerB", "answerC"):
        texts += list(siqa[column])
    texts += list(xcopa.settings.question_text.values())
    return build_tiny_model(texts, tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def tokenizer(tiny_encoder: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_encoder)


def _segments(ids: list[int], tokenizer) -> tuple[str, str]:
    """The two texts of ``<s> A </s></s> B </s>``."""
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
    assert ids.count(tokenizer.eos_token_id) == 3
    cut = ids.index(tokenizer.eos_token_id)
    return tokenizer.decode(ids[1:cut]).strip(), tokenizer.decode(ids[cut + 2 : -1]).strip()


def test_real_xcopa_has_every_language_and_its_labels(real_mirror: Path) -> None:
    xcopa = get_task("xcopa")
    assert languages_present(xcopa, str(real_mirror)) == list(xcopa.languages)
    rows = load_split(xcopa.dev["zh"], str(real_mirror))
    # XCOPA item 0 everywhere: the man turned on the faucet; the water flowed (choice 2).
    assert rows[0]["premise"] == "那人打开水龙头。"
    assert FAMILY.gold(rows, xcopa)[:3] == [1, 1, 0]


@pytest.mark.parametrize("lang", ["zh", "th", "ta"])
def test_each_choice_pairs_the_premise_and_its_connective_with_the_choice(
    lang: str, real_mirror: Path, tokenizer
) -> None:
    xcopa = get_task("xcopa")
    rows = load_split(xcopa.dev[lang], str(real_mirror))
    # Long enough that no pair is truncated (the tiny tokenizer spends up to 89 tokens on a
    # Tamil one), so each decoded segment is whole.
    encoded = FAMILY.encode(rows, xcopa, tokenizer, 128)
    assert encoded.column_names == ["input_ids", "attention_mask", "labels"]
    assert len(encoded) == len(rows)
    for row, feature in zip(rows, encoded, strict=True):
        assert len(feature["input_ids"]) == 2 and feature["labels"] == row["label"]
        connective = xcopa.settings.question_text[row["question"]]
        for ids, choice in zip(feature["input_ids"], (row["choice1"], row["choice2"]), strict=True):
            first, second = _segments(ids, tokenizer)
            # Thai and Chinese have no spaces between words; the tokenizer may add some back.
            assert first.replace(" ", "") == (row["premise"] + connective).replace(" ", "")
            assert second.replace(" ", "") == choice.replace(" ", "")
            assert ids.count(tokenizer.unk_token_id) < len(ids) / 2, lang


def test_siqa_rows_are_read_with_the_training_columns(real_mirror: Path, tokenizer) -> None:
    xcopa = get_task("xcopa")
    rows = load_split(xcopa.train, str(real_mirror))
    encoded = FAMILY.encode(rows, xcopa, tokenizer, 64)
    # SIQA labels are "1".."3"; the family trains on 0-based indices.
    assert encoded["labels"] == [int(label) - 1 for label in rows["label"]]
    assert {len(choices) for choices in encoded["input_ids"]} == {3}
    first, _ = _segments(encoded[0]["input_ids"][0], tokenizer)
    # Free-text questions are shown as they are, after the (possibly truncated) context.
    assert first.split()[:3] == rows[0]["context"].split()[:3]


def test_rows_matching_no_columns_are_refused(real_mirror: Path, tokenizer) -> None:
    xcopa = dataclasses.replace(get_task("xcopa"), settings={})
    with pytest.raises(ValueError, match="train_columns"):
        FAMILY.encode(load_split(xcopa.train, str(real_mirror)), xcopa, tokenizer, 64)


def test_collator_pads_to_batch_choices_and_longest_pair(real_mirror: Path, tokenizer) -> None:
    xcopa = get_task("xcopa")
    features = list(FAMILY.encode(load_split(xcopa.dev["th"], str(real_mirror)), xcopa, tokenizer, 64))[:3]
    batch = FAMILY.collator(tokenizer)(features)
    longest = max(len(ids) for feature in features for ids in feature["input_ids"])
    assert batch["input_ids"].shape == batch["attention_mask"].shape == (3, 2, longest)
    assert batch["labels"].tolist() == [feature["labels"] for feature in features]
    for i, feature in enumerate(features):
        for j, ids in enumerate(feature["input_ids"]):
            assert batch["input_ids"][i, j, : len(ids)].tolist() == ids
            assert (batch["input_ids"][i, j, len(ids) :] == tokenizer.pad_token_id).all()
            assert batch["attention_mask"][i, j].sum().item() == len(ids)
    unlabelled = [{key: value for key, value in feature.items() if key != "labels"} for feature in features]
    assert "labels" not in FAMILY.collator(tokenizer)(unlabelled)


def test_accuracy_is_the_share_of_matching_predictions() -> None:
    assert accuracy([0, 1, 1, 0], [0, 1, 0, 0]) == 0.75
    assert accuracy([("a", 1), ("b", 2)], [("a", 1), ("b", 3)]) == 0.5
    assert FAMILY.score([1, 0], [1, 1], get_task("xcopa"), "zh") == {"accuracy": 0.5}
    with pytest.raises(ValueError):
        accuracy([0], [0, 1])
    with pytest.raises(ValueError):
        accuracy([], [])


@pytest.mark.parametrize(
    ("convert", "columns", "n_choices", "gold"),
    [
        (convert_hellaswag, {"context": "ctx", "choices": "endings", "label": "label"}, 4, [3, 3]),
        (
            convert_commonsense_qa,
            {"context": "question", "choices": "choices.text", "label": "answerKey", "label_keys": "A,B,C,D,E"},
            5,
            [0, 0],
        ),
        (
            convert_cosmos_qa,
            {
                "context": "context",
                "question": "question",
                "choices": "answer0,answer1,answer2,answer3",
                "label": "label",
            },
            4,
            [1, 0, 0],
        ),
    ],
)
def test_other_multiple_choice_layouts_need_only_columns(
    convert, columns: dict, n_choices: int, gold: list[int], realdata: Path, tmp_path: Path, tokenizer
) -> None:
    source = convert(realdata, tmp_path)
    task = Task(
        name=source.folder, kind="intermediate", family="multiple_choice", metric="accuracy",
        languages=("en",), train=source, dev={"en": source}, columns=columns,
    )  # fmt: skip
    rows = load_split(source, str(tmp_path))
    encoded = FAMILY.encode(rows, task, tokenizer, 64)
    assert {len(choices) for choices in encoded["input_ids"]} == {n_choices}
    assert FAMILY.gold(rows, task)[: len(gold)] == gold == encoded["labels"][: len(gold)]


def test_fine_tune_and_evaluate_on_real_samples(real_mirror: Path, tiny_encoder: Path, tmp_path: Path) -> None:
    xcopa = get_task("xcopa")
    # Trains on SIQA's columns, then (where fine_tune runs then_train) on COPA's.
    tuned = fine_tune(str(tiny_encoder), xcopa, str(real_mirror), HPARAMS, tmp_path)
    langs = ["en", *languages_present(xcopa, str(real_mirror))]
    evaluation = evaluate(tuned, xcopa, str(real_mirror), langs, ("dev", "test"), HPARAMS.max_length)
    # English has a dev set (COPA) only; every XCOPA language has both.
    assert len(evaluation.metrics) == 1 + 2 * len(xcopa.languages)
    for (split, lang), predicted in evaluation.predictions.items():
        source = (xcopa.dev if split == "dev" else xcopa.test)[lang]
        gold = FAMILY.gold(load_split(source, str(real_mirror)), xcopa)
        assert all(type(p) is int and p in (0, 1) for p in predicted)
        # The logged metric is the one recomputed from the saved predictions.
        assert evaluation.metrics[f"{split}/accuracy/{lang}"] == FAMILY.score(predicted, gold, xcopa, lang)["accuracy"]

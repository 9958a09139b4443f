"""The span-extraction QA family on real XQuAD, MLQA and TyDiQA-GoldP samples, through the
normal loader; and the official scorers' normalisations on hand-computed cases."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest
from datasets import Dataset

from sweeper.train.finetune import Hyperparameters, evaluate, fine_tune
from sweeper.train.pretrained import build_tiny_model
from tasks import Task, family_of, get_task, languages_present, load_split
from tasks.families.span_qa import windows
from tasks.scoring.qa import f1, normalise_mlqa, normalise_squad, score_answers
from tests.tasks.realdata_qa import convert_all

span_qa = family_of("span_qa")
MAX_LENGTH = 128
# Small enough next to MAX_LENGTH that most contexts take several windows.
STRIDE = 32


def with_stride(task: Task, stride: int = STRIDE) -> Task:
    return dataclasses.replace(task, settings=dataclasses.replace(task.settings, doc_stride=stride))


@pytest.fixture(scope="module")
def real_mirror(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return convert_all(realdata, tmp_path_factory.mktemp("real-mirror"))


@pytest.fixture(scope="module")
def tiny_encoder(real_mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = []
    for name in ("xquad", "mlqa", "tydiqa"):
        task = get_task(name)
        sources = [task.dev[lang] for lang in languages_present(task, str(real_mirror))]
        for source in {*sources, task.train}:
            rows = load_split(source, str(real_mirror))
            texts += list(rows["context"]) + list(rows["question"])
    return build_tiny_model(texts, tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def tokenizer(tiny_encoder: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_encoder)


def test_samples_convert_to_the_hub_layout(real_mirror: Path) -> None:
    xquad, mlqa = get_task("xquad"), get_task("mlqa")
    assert languages_present(xquad, str(real_mirror)) == ["de", "en", "zh"]
    assert languages_present(mlqa, str(real_mirror)) == list(mlqa.languages)
    rows = load_split(xquad.dev["de"], str(real_mirror))
    # XQuAD's first question, in German: how many points the Panthers' defence gave up.
    assert rows[0]["answers"] == {"text": ["308"], "answer_start": [38]}
    assert rows[0]["context"][38:41] == "308"
    gold = span_qa.gold(load_split(mlqa.test["zh"], str(real_mirror)), mlqa)
    assert gold == [["电化电池"]]


def _training_windows(rows, task: Task, tokenizer) -> list[tuple[dict, dict, dict]]:
    """Each training window with its evaluation twin (offsets) and its row."""
    features = span_qa.encode(rows, task, tokenizer, MAX_LENGTH)
    spans = windows(rows, task, tokenizer, MAX_LENGTH)
    assert len(features) == len(spans)
    return [(feature, span, rows[span["example"]]) for feature, span in zip(features, spans, strict=True)]


@pytest.mark.parametrize(
    ("target", "lang"), [("xquad", "de"), ("xquad", "zh"), ("mlqa", "ar"), ("mlqa", "de"), ("mlqa", "zh")]
)
def test_answer_spans_round_trip_through_the_windows(target: str, lang: str, real_mirror: Path, tokenizer) -> None:
    task = with_stride(get_task(target))
    rows = load_split(task.dev[lang], str(real_mirror))
    exact = labelled = 0
    for feature, span, row in _training_windows(rows, task, tokenizer):
        offsets = span["offset_mapping"]
        context_tokens = [pair for pair in offsets if pair is not None]
        text, start_char = row["answers"]["text"][0], row["answers"]["answer_start"][0]
        end_char = start_char + len(text)
        holds_answer = context_tokens[0][0] <= start_char and end_char <= context_tokens[-1][1]
        start, end = feature["start_positions"], feature["end_positions"]
        if not holds_answer:
            assert start == end == 0  # <s>, XLM-R's CLS
            continue
        labelled += 1
        first, last = offsets[start], offsets[end]
        recovered = row["context"][first[0] : last[1]]
        # The labelled tokens are the fewest that cover the answer: its exact text wherever
        # the answer's edges are token edges ("(118)" is one token of the tiny vocabulary).
        assert first[0] <= start_char < first[1] and last[0] < end_char <= last[1]
        assert text in recovered
        if (first[0], last[1]) == (start_char, end_char):
            assert recovered == text
            exact += 1
    assert labelled >= 1 and exact / labelled > 0.8


def test_windows_with_stride_cover_long_contexts(real_mirror: Path, tokenizer) -> None:
    task = with_stride(get_task("xquad"), 16)
    rows = load_split(task.dev["de"], str(real_mirror))
    longest = max(range(len(rows)), key=lambda index: len(rows[index]["context"]))
    context = rows[longest]["context"]
    spans = windows(rows.select([longest]), task, tokenizer, 96)["offset_mapping"]
    assert len(spans) > 5
    context_tokens = [[tuple(pair) for pair in offsets if pair is not None] for offsets in spans]
    covered = {char for tokens in context_tokens for start, end in tokens for char in range(start, end)}
    assert {index for index, char in enumerate(context) if not char.isspace()} <= covered
    # Consecutive windows share exactly the stride's tokens.
    for before, after in itertools.pairwise(context_tokens):
        assert before[-16:] == after[:16]


def test_questions_give_way_to_the_context(real_mirror: Path, tokenizer) -> None:
    """A question keeps its first max_question_length tokens, and a stride that would leave
    a window no new context is refused before the tokenizer fails on it."""
    task = with_stride(get_task("xquad"))
    rows = load_split(task.dev["de"], str(real_mirror)).select([0])
    long_question = rows.map(lambda row: {"question": " ".join([row["question"]] * 20)})
    offsets = windows(long_question, task, tokenizer, MAX_LENGTH)[0]["offset_mapping"]
    # <s> question </s></s> context: the context starts after at most 64 question tokens.
    question_tokens = next(index for index, span in enumerate(offsets) if span is not None) - 3
    assert 48 < question_tokens <= 64
    with pytest.raises(ValueError, match="doc_stride 64"):
        windows(rows, with_stride(task, 64), tokenizer, MAX_LENGTH)


def test_decoding_picks_the_best_valid_span_over_all_windows(real_mirror: Path, tokenizer) -> None:
    """Logits that point at the labelled answer tokens decode to the labelled text, in row
    order, whatever the invalid positions (CLS, question, batch padding) score."""
    task = with_stride(get_task("xquad"))
    rows = load_split(task.dev["zh"], str(real_mirror)).select(range(12))
    features = span_qa.encode(rows, task, tokenizer, MAX_LENGTH)
    spans = windows(rows, task, tokenizer, MAX_LENGTH)
    width = max(len(ids) for ids in features["input_ids"]) + 3  # Trainer pads with -100

    def infer(inputs):
        assert inputs.column_names == ["input_ids", "attention_mask"]
        start_logits = np.full((len(inputs), width), -100.0)
        end_logits = np.full((len(inputs), width), -100.0)
        for index, feature in enumerate(features):
            length = len(feature["input_ids"])
            start_logits[index, :length] = end_logits[index, :length] = 0.0
            start_logits[index, :3] = end_logits[index, :3] = 50.0  # CLS and question tokens
            if feature["start_positions"] != 0:
                start_logits[index, feature["start_positions"]] = 10.0
                end_logits[index, feature["end_positions"]] = 10.0
        return start_logits, end_logits

    expected = [""] * len(rows)
    for feature, span in zip(features, spans, strict=True):
        if feature["start_positions"] != 0:
            offsets = span["offset_mapping"]
            context = rows[span["example"]]["context"]
            expected[span["example"]] = context[
                offsets[feature["start_positions"]][0] : offsets[feature["end_positions"]][1]
            ]
    assert span_qa.predict(rows, task, tokenizer, MAX_LENGTH, infer, "zh", str(real_mirror)) == expected
    assert sum(bool(text) for text in expected) >= 10


def test_squad_normalisation_by_hand() -> None:
    assert normalise_squad("The  Denver Broncos!") == "denver broncos"
    # ASCII punctuation only: German quotes stay, and "die" is no English article.
    assert normalise_squad("„Die Panther“") == "„die panther“"
    assert normalise_squad("电化电池，") == "电化电池，"
    # Token F1: 2 shared of 2 predicted and 3 gold tokens.
    assert f1("the cat sat", "a cat sat down", normalise_squad) == pytest.approx(0.8)
    assert score_answers(["Denver Broncos", "x"], [["Broncos", "the Denver Broncos"], ["y", "z"]], normalise_squad) == {
        "exact_match": 0.5,
        "f1": 0.5,
    }
    with pytest.raises(ValueError):
        score_answers(["a"], [[]], normalise_squad)


def test_mlqa_normalisation_by_hand() -> None:
    # German articles and Unicode punctuation go.
    assert normalise_mlqa("„Die Panther“ und der Bär", "de") == "panther und bär"
    assert normalise_mlqa("Los Ángeles, el río", "es") == "ángeles río"
    # Chinese: every ideograph a token, Latin runs whole.
    assert normalise_mlqa("电化电池，GPT-3模型", "zh") == "电 化 电 池 gpt3 模 型"
    assert f1("电化电池", "电池", lambda text: normalise_mlqa(text, "zh")) == pytest.approx(2 / 3)
    # Arabic: every "ال" goes, word-initial or not (the official pattern's effect).
    assert normalise_mlqa("الكتاب الأحمر", "ar") == "كتاب أحمر"
    assert normalise_mlqa("سلال", "ar") == "سل"
    assert normalise_mlqa("Những cái bàn", "vi") == "bàn"
    assert normalise_mlqa("The Broncos.", "en") == normalise_squad("The Broncos.")
    with pytest.raises(ValueError):
        normalise_mlqa("text", "fi")


def test_the_task_decides_the_normalisation(real_mirror: Path) -> None:
    mlqa, xquad = get_task("mlqa"), get_task("xquad")
    assert span_qa.gold(load_split(xquad.dev["de"], str(real_mirror)), xquad)[0] == ["308"]
    # An article and a German quote: noise to MLQA's scorer, a miss to SQuAD's.
    predictions, gold = ["„Die Hauptstadt“"], [["Hauptstadt"]]
    assert span_qa.score(predictions, gold, mlqa, "de") == {"exact_match": 1.0, "f1": 1.0}
    assert span_qa.score(predictions, gold, xquad, "de")["exact_match"] == 0.0
    # An unknown normalisation is refused where the task is made, before anything is scored.
    with pytest.raises(ValueError, match="normalisation 'bleu'"):
        dataclasses.replace(xquad, settings={"normalisation": "bleu"})
    assert mlqa.settings.normalisation == "mlqa" and xquad.settings == type(xquad.settings)()
    unlabelled = Dataset.from_list(
        [{"id": "q", "context": "c", "question": "q", "answers": {"text": [], "answer_start": []}}]
    )
    assert span_qa.gold(unlabelled, mlqa) is None


@pytest.mark.parametrize("target", ["xquad", "mlqa", "tydiqa"])
def test_fine_tune_and_evaluate_on_real_samples(
    target: str, real_mirror: Path, tiny_encoder: Path, tmp_path: Path
) -> None:
    task = with_stride(get_task(target))
    hparams = Hyperparameters(
        learning_rate=1e-3,
        seed=0,
        epochs=1,
        batch_size=16,
        max_length=MAX_LENGTH,
        warmup_ratio=0.1,
        per_device_batch=16,
    )
    tuned = fine_tune(str(tiny_encoder), task, str(real_mirror), hparams, tmp_path)
    langs = languages_present(task, str(real_mirror))
    evaluation = evaluate(tuned, task, str(real_mirror), langs, ("dev", "test"), MAX_LENGTH)
    for (split, lang), predicted in evaluation.predictions.items():
        rows = load_split({"dev": task.dev, "test": task.test}[split][lang], str(real_mirror))
        assert all(answer in context for answer, context in zip(predicted, rows["context"], strict=True))
        recomputed = span_qa.score(predicted, span_qa.gold(rows, task), task, lang)
        # The logged metrics are the ones recomputed from the saved predictions.
        assert {metric: evaluation.metrics[f"{split}/{metric}/{lang}"] for metric in recomputed} == recomputed
    expected_splits = {"dev", "test"} if task.test else {"dev"}
    assert {split for split, _ in evaluation.predictions} == expected_splits
    assert len(evaluation.predictions) == len(langs) * len(expected_splits)

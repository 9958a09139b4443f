"""The English intermediate tasks: their registry entries, and each one fine-tuned on its real
sample (or documented stand-in), scored on its English dev, and handed to the next stage as
an encoder; SQuAD v2's unanswerable questions and CCG's open tag set by hand."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from datasets import Dataset

from sweeper.cli import main
from sweeper.train.finetune import Hyperparameters, evaluate, fine_tune
from sweeper.train.pretrained import build_tiny_model
from tasks import (
    Task,
    family_of,
    get_task,
    intermediates,
    languages_present,
    load_split,
    load_training_stages,
    resolve_task,
    task_sources,
    texts_of,
    training_sources,
)
from tasks.families.span_qa import windows
from tasks.families.tagging import with_tag_set
from tasks.scoring.qa import normalise_squad, score_answers
from tasks.scoring.qa_v2 import f1_v2, score_answers_v2
from tests.tasks.realdata_intermediates import CCG_STANDIN, ccg_sentences, convert_all

# name: (family, metric, train_source): the paper's nine, SQuAD v2, and XCOPA's two stages.
EXPECTED = {
    "anli": ("classification", "accuracy", "anli"),
    "mnli": ("classification", "accuracy", "mnli"),
    "qqp": ("classification", "accuracy", "qqp"),
    "sst2": ("classification", "accuracy", "sst2"),
    "squad": ("span_qa", "f1", "squad"),
    "squad_v2": ("span_qa", "f1", "squad_v2"),
    "hellaswag": ("multiple_choice", "accuracy", "hellaswag"),
    "cosmosqa": ("multiple_choice", "accuracy", "cosmosqa"),
    "commonsenseqa": ("multiple_choice", "accuracy", "commonsenseqa"),
    "siqa": ("multiple_choice", "accuracy", "siqa"),
    "copa": ("multiple_choice", "accuracy", "copa"),
    "ccg": ("tagging", "accuracy", "ccg"),
}
# No warmup: a sample of three rows is one step, which a warmup would spend at learning rate 0.
HPARAMS = Hyperparameters(
    learning_rate=1e-3, seed=0, epochs=1, batch_size=4, max_length=64, warmup_ratio=0.0, per_device_batch=4
)
QA_HPARAMS = dataclasses.replace(HPARAMS, batch_size=8, per_device_batch=8, max_length=128)
# Small enough next to QA_HPARAMS.max_length that the Normans paragraph takes several windows.
QA_STRIDE = 32

span_qa = family_of("span_qa")


def runnable(task: Task, data: Path) -> Task:
    """The task as a trial runs it on the tiny scale: its tag set read from the data (CCG), QA
    windows that fit the tiny length."""
    task = resolve_task(task, str(data))
    if task.family == "span_qa":
        task = dataclasses.replace(task, settings=dataclasses.replace(task.settings, doc_stride=QA_STRIDE))
    return task


@pytest.fixture(scope="module")
def real_mirror(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return convert_all(realdata, tmp_path_factory.mktemp("real-mirror"))


@pytest.fixture(scope="module")
def tiny_encoder(real_mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = []
    for name in EXPECTED:
        for source in task_sources(get_task(name)):
            texts += list(texts_of(load_split(source, str(real_mirror))))
    texts += list(get_task("copa").settings.question_text.values())
    return build_tiny_model(texts, tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def tokenizer(tiny_encoder: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_encoder)


def test_every_intermediate_is_listed_with_family_metric_and_source() -> None:
    registered = {task.name: task for task in intermediates()}
    assert set(EXPECTED) <= set(registered)
    for name, (family, metric, source) in EXPECTED.items():
        task = registered[name]
        assert (task.family, task.metric, task.train_source) == (family, metric, source), name
        assert task.languages == ("en",) and set(task.dev) == {"en"} and task.train is not None, name
    listed = {entry["name"]: entry for entry in json.loads(CliRunner().invoke(main, ["tasks", "--json"]).output)}
    for name, (family, metric, source) in EXPECTED.items():
        entry = listed[name]
        assert (entry["kind"], entry["family"], entry["metric"], entry["train_source"]) == (
            "intermediate",
            family,
            metric,
            source,
        )
        assert len(entry["train"]) == len(training_sources(registered[name]))


def test_shared_sources_are_the_targets_own() -> None:
    """SIQA and COPA are XCOPA's stages, SQuAD is what XQuAD trains on, MNLI is part of ANLI+:
    the same hub splits, so a local mirror holds them once."""
    xcopa, anli = get_task("xcopa"), get_task("anli")
    assert get_task("siqa").train == xcopa.train
    assert (get_task("copa").train, get_task("copa").dev["en"]) == (xcopa.then_train, xcopa.dev["en"])
    assert get_task("squad").train == get_task("xquad").train
    assert get_task("mnli").train in anli.train_with
    # ANLI+: SNLI, ANLI's three rounds and MNLI, in one stage; model selection on round 3.
    assert [source.dataset for source in training_sources(anli)] == [
        "stanfordnlp/snli",
        *["facebook/anli"] * 3,
        "nyu-mll/glue",
    ]
    assert anli.dev["en"].split == "dev_r3"
    # Every intermediate source is a hub split, except CCGbank's (licensed) and Cosmos QA's
    # (no parquet copy of the authors'), which are local only.
    for name in EXPECTED:
        for source in task_sources(get_task(name)):
            assert ("/" in source.dataset) != (name in ("ccg", "cosmosqa")), (name, source)


def test_every_sample_converts_to_a_present_english_dev(real_mirror: Path) -> None:
    for name in EXPECTED:
        task = get_task(name)
        assert languages_present(task, str(real_mirror)) == ["en"], name
        assert all(Path(source.local_path(str(real_mirror))).is_file() for source in training_sources(task)), name


def test_anli_plus_reads_five_sources_as_one_stage(real_mirror: Path) -> None:
    anli = get_task("anli")
    (stage,) = load_training_stages(anli, str(real_mirror))
    sizes = [len(load_split(source, str(real_mirror))) for source in training_sources(anli)]
    assert len(stage) == sum(sizes) and stage.column_names == ["premise", "hypothesis", "label"]
    # ANLI's "e"/"n"/"c" and MultiNLI's names become the hub's label order.
    assert set(stage["label"]) <= {0, 1, 2}
    assert load_split(anli.train_with[0], str(real_mirror))["label"] == [0, 1, 1]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_fine_tune_evaluate_and_hand_on_the_encoder(
    name: str, real_mirror: Path, tiny_encoder: Path, tmp_path: Path
) -> None:
    from transformers import AutoModel

    task = runnable(get_task(name), real_mirror)
    hparams = QA_HPARAMS if task.family == "span_qa" else HPARAMS
    family = family_of(task.family)
    tuned = fine_tune(str(tiny_encoder), task, str(real_mirror), hparams, tmp_path / "run")
    evaluation = evaluate(tuned, task, str(real_mirror), ("en",), ("dev",), hparams.max_length)
    rows = load_split(task.dev["en"], str(real_mirror))
    predicted = evaluation.predictions[("dev", "en")]
    assert len(predicted) == len(rows)
    recomputed = family.score(predicted, family.gold(rows, task), task, "en")
    # The metric the intermediate study selects on is logged, and is the one recomputed.
    assert f"dev/{task.metric}/en" in evaluation.metrics
    assert {metric: evaluation.metrics[f"dev/{metric}/en"] for metric in recomputed} == recomputed

    encoder = tuned.save_encoder(tmp_path / "encoder")
    xnli = get_task("xnli")
    following = family_of("classification").build_model(str(encoder), xnli)
    trained, loaded = tuned.model.base_model.state_dict(), following.base_model.state_dict()
    assert loaded.keys() <= trained.keys()
    assert all(torch.equal(loaded[key], trained[key]) for key in loaded)
    assert following.config.id2label == dict(enumerate(xnli.labels))
    # What passes on is the trained encoder, not the pretrained one.
    pretrained = AutoModel.from_pretrained(tiny_encoder).state_dict()
    assert any(not torch.equal(loaded[key], pretrained[key]) for key in loaded if key in pretrained)


def test_ccg_tag_set_comes_from_its_data(real_mirror: Path) -> None:
    ccg = get_task("ccg")
    assert ccg.labels == () and with_tag_set(get_task("udpos"), str(real_mirror)) is get_task("udpos")
    labels = with_tag_set(ccg, str(real_mirror)).labels
    rows = ccg_sentences(CCG_STANDIN)
    assert labels == tuple(sorted({tag for row in rows for tag in row["tags"]}))
    # Categories only the dev sentences use (coordination, the to-infinitive) have a label too.
    assert {"conj", "(S[to]\\NP)/(S[b]\\NP)", "N", "."} <= set(labels)


def test_ccg_scores_word_accuracy_and_pos_keeps_f1() -> None:
    tagging = family_of("tagging")
    ccg = dataclasses.replace(get_task("ccg"), labels=("N", "NP", "S"))
    assert tagging.score([["N", "S"], ["NP"]], [["N", "NP"], ["NP"]], ccg, "en") == {"accuracy": pytest.approx(2 / 3)}
    with pytest.raises(ValueError):
        tagging.score([["N"]], [["N", "NP"]], ccg, "en")
    assert set(tagging.score([["NOUN"]], [["NOUN"]], get_task("udpos"), "en")) == {"f1"}


def test_unanswerable_questions_train_on_cls(real_mirror: Path, tokenizer) -> None:
    squad_v2 = runnable(get_task("squad_v2"), real_mirror)
    rows = load_split(squad_v2.dev["en"], str(real_mirror))
    features = span_qa.encode(rows, squad_v2, tokenizer, QA_HPARAMS.max_length)
    spans = windows(rows, squad_v2, tokenizer, QA_HPARAMS.max_length)
    unanswerable = {index for index, answers in enumerate(rows["answers"]) if not answers["text"]}
    assert 0 < len(unanswerable) < len(rows)
    labelled = 0
    for feature, span in zip(features, spans, strict=True):
        cls = feature["input_ids"].index(tokenizer.cls_token_id)
        if span["example"] in unanswerable:
            assert feature["start_positions"] == feature["end_positions"] == cls
        elif feature["start_positions"] != cls:
            labelled += 1
    assert labelled >= 2
    # SQuAD v1.1 has no unanswerable questions: such a row is an error there.
    with pytest.raises(ValueError, match="unanswerable"):
        span_qa.encode(rows, runnable(get_task("squad"), real_mirror), tokenizer, QA_HPARAMS.max_length)
    gold = span_qa.gold(rows, squad_v2)
    assert [index for index, answers in enumerate(gold) if not answers] == sorted(unanswerable)


def test_no_answer_where_the_null_score_beats_the_best_span(real_mirror: Path, tokenizer) -> None:
    squad_v2 = runnable(get_task("squad_v2"), real_mirror)
    rows = load_split(squad_v2.dev["en"], str(real_mirror)).select([0, 2])  # answerable, unanswerable
    features = span_qa.encode(rows, squad_v2, tokenizer, QA_HPARAMS.max_length)
    answer = rows[0]["answers"]
    # The window of the answerable row that holds its answer (XLM-R's CLS is position 0).
    window = next(index for index, feature in enumerate(features) if feature["start_positions"] != 0)

    def infer_with(null: float, span: float):
        def infer(inputs):
            width = max(len(ids) for ids in inputs["input_ids"])
            starts, ends = np.zeros((len(inputs), width)), np.zeros((len(inputs), width))
            starts[:, 0] = ends[:, 0] = null / 2  # CLS
            starts[window, features[window]["start_positions"]] = span / 2
            ends[window, features[window]["end_positions"]] = span / 2
            return starts, ends

        return infer

    def predict(task: Task, null: float, span: float) -> list[str]:
        return span_qa.predict(rows, task, tokenizer, QA_HPARAMS.max_length, infer_with(null, span), "en", "")

    found = predict(squad_v2, null=4.0, span=6.0)
    assert answer["text"][0] in found[0] and found[1] == ""  # the unanswerable row has no span above 0
    assert predict(squad_v2, null=8.0, span=6.0)[0] == ""
    # A threshold asks the null score to win by more than it.
    patient = dataclasses.replace(squad_v2, settings=dataclasses.replace(squad_v2.settings, null_score_threshold=3.0))
    assert predict(patient, null=8.0, span=6.0)[0] == found[0]
    # Without unanswerable questions the null score is never read.
    squad = dataclasses.replace(squad_v2, settings={"doc_stride": QA_STRIDE})
    assert predict(squad, null=8.0, span=6.0)[0] == found[0]


def test_squad_v2_scorer_by_hand() -> None:
    normalise = normalise_squad
    # No answer predicted on an unanswerable question is exact; any span there scores 0.
    assert f1_v2("", "", normalise) == 1.0 and f1_v2("Normans", "", normalise) == 0.0
    assert f1_v2("", "France", normalise) == 0.0
    # Otherwise SQuAD v1.1's F1: 1 shared token of 3 predicted and 1 gold.
    assert f1_v2("in France today", "France", normalise) == pytest.approx(0.5)
    predictions = ["", "Normans", "the France", "in France today", ""]
    golds = [[], [], ["France", "France"], ["France"], ["."]]  # "." normalises away: no answer
    assert score_answers_v2(predictions, golds, normalise) == pytest.approx(
        {
            "exact_match": 3 / 5,
            "f1": (1 + 0 + 1 + 0.5 + 1) / 5,
            # By the raw answer lists, as the official script splits them.
            "has_answer_exact_match": 2 / 3,
            "has_answer_f1": 2.5 / 3,
            "no_answer_exact_match": 1 / 2,
            "no_answer_f1": 1 / 2,
        }
    )
    # On answered questions with an answer predicted it agrees with SQuAD v1.1.
    answered = (["Denver Broncos", "x"], [["Broncos", "the Denver Broncos"], ["y", "z"]])
    assert score_answers_v2(*answered, normalise) == score_answers(*answered, normalise)
    squad_v2 = get_task("squad_v2")
    assert span_qa.score([""], [[]], squad_v2, "en") == {"exact_match": 1.0, "f1": 1.0}
    unlabelled = Dataset.from_list(
        [{"id": "q", "context": "c", "question": "q", "answers": {"text": [], "answer_start": []}}]
    )
    assert span_qa.gold(unlabelled, squad_v2) == [[]] and span_qa.gold(unlabelled, get_task("squad")) is None
    with pytest.raises(ValueError):
        score_answers_v2(["a"], [], normalise)

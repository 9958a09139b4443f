"""The retrieval family: pooling, the metrics on hand-made rankings, and Tatoeba, BUCC,
LAReQA and Mewsli-X end to end on the real samples (or their documented stand-ins)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sweeper.train.finetune import Hyperparameters, evaluate, fine_tune
from sweeper.train.pretrained import build_tiny_model
from tasks import family_of, get_task, languages_present, load_split
from tasks.families.retrieval import layer_index
from tasks.families.retrieval_text import sentence_breaks
from tasks.scoring import retrieval as scoring
from tests.tasks import realdata_retrieval as realdata_convert

FAMILY = family_of("retrieval")
TATOEBA = (
    "af ar az bg bn de el es et eu fa fi fr he hi hu id it ja jv ka kk ko lt ml mr nl pl pt ro ru sw ta te th tl "
    "tr uk ur vi zh"
).split()
HPARAMS = Hyperparameters(
    learning_rate=1e-3, seed=0, epochs=1, batch_size=8, max_length=64, warmup_ratio=0.1, per_device_batch=8
)


@pytest.fixture(scope="module")
def mirror(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("retrieval-mirror")
    realdata_convert.convert_tatoeba(realdata, root)
    bucc_files = realdata_convert.write_bucc_standin(realdata, tmp_path_factory.mktemp("bucc-files"))
    realdata_convert.convert_bucc(bucc_files, root)
    realdata_convert.convert_lareqa(realdata, root)
    realdata_convert.convert_mewslix_standin(realdata, root)
    return root


@pytest.fixture(scope="module")
def tiny_encoder(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = []
    tatoeba = get_task("tatoeba")
    for lang in languages_present(tatoeba, str(mirror)):
        rows = load_split(tatoeba.dev[lang], str(mirror))
        texts += list(rows["source_sentence"]) + list(rows["target_sentence"])
    lareqa = get_task("lareqa")
    texts += [t for t in load_split(lareqa.dev["en"], str(mirror))["sentence"] if t]
    texts += [q for lang in ("de", "ar", "zh") for q in load_split(lareqa.dev[lang], str(mirror))["question"] if q]
    return build_tiny_model(texts, tmp_path_factory.mktemp("tiny"))


def test_entries_carry_the_official_languages() -> None:
    assert list(get_task("tatoeba").languages) == TATOEBA
    assert list(get_task("bucc2018").languages) == "de fr ru zh".split()
    assert list(get_task("lareqa").languages) == "ar de el en es hi ru th tr vi zh".split()
    assert list(get_task("mewslix").languages) == "ar de en es fa ja pl ro ta tr uk".split()
    # XTREME's pairs from google/xtreme's three-letter configs; XTREME-R's five from MTEB's copy.
    assert get_task("tatoeba").dev["zh"].config == "tatoeba.cmn"
    assert get_task("tatoeba").dev["az"].config == "aze-eng"


def test_layer_scales_with_depth() -> None:
    middle = 14 / 24
    assert [layer_index(middle, n) for n in (2, 12, 24, 36, 48)] == [1, 7, 14, 21, 28]
    assert layer_index(1.0, 24) == 24 and layer_index(-1, 24) == 24 and layer_index(3, 24) == 3


def test_pooling_takes_the_configured_layer_and_ignores_padding(tiny_encoder: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_encoder)
    model = FAMILY.build_model(str(tiny_encoder), get_task("tatoeba")).eval()
    reference = AutoModel.from_pretrained(tiny_encoder).eval()
    texts = ["Tom und Maria wollen nicht mehr mit uns singen.", "Wie lange?"]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    assert batch["attention_mask"][1].sum() < batch["attention_mask"].shape[1]  # the second is padded
    with torch.no_grad():
        pooled = model(**batch)["embeddings"]
        hidden = reference(**batch, output_hidden_states=True).hidden_states
        alone = model(**tokenizer(texts[1:], return_tensors="pt"))["embeddings"]
    # The tiny model has 2 layers: the middle-layer setting (14 of 24) pools hidden state 1.
    for i in range(2):
        length = int(batch["attention_mask"][i].sum())
        by_hand = hidden[1][i, :length].mean(dim=0)
        assert torch.allclose(pooled[i], by_hand / by_hand.norm(), atol=1e-5)
        assert not torch.allclose(pooled[i], hidden[2][i, :length].mean(dim=0), atol=1e-3)
    assert torch.allclose(pooled[1], alone[0], atol=1e-5)


def test_tatoeba_accuracy_counts_retrieved_translations() -> None:
    queries = np.array([[1.0, 0.1], [0.1, 1.0], [1.0, 0.0]])
    pool = np.array([[2.0, 0.0], [0.0, 3.0], [0.0, 1.0]])
    predicted = scoring.nearest(queries, pool)
    assert predicted == [0, 1, 0]  # cosine ignores length; ties go to the lower index
    assert FAMILY.score(predicted, [0, 1, 2], get_task("tatoeba"), "de") == {"accuracy": pytest.approx(2 / 3)}


def test_margin_mining_by_hand() -> None:
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # y2 sits between both sources
    # Mean cosine of each side's nearest neighbours (4 or all): x0, x1: (1 + 0 + .7071) / 3;
    # y0, y1: (1 + 0) / 2; y2: .7071. Margin = cosine / mean of the two sides' means.
    mean_x, mean_y, mean_y2 = (1 + 2**-0.5) / 3, 0.5, 2**-0.5
    mined = scoring.mine(x, y)
    assert [(i, j) for i, j, _ in mined] == [(0, 0), (1, 1)]  # y2 loses to the exact matches
    assert mined[0][2] == pytest.approx(1 / ((mean_x + mean_y) / 2))
    # y2's own best proposal (to x0) has this margin, below the others, and x0 is taken.
    assert 2**-0.5 / ((mean_x + mean_y2) / 2) < mined[1][2]


def test_bucc_threshold_and_f1_by_hand() -> None:
    candidates = {("s1", "t1"): 0.9, ("s2", "t2"): 0.8, ("s3", "t9"): 0.7, ("s4", "t4"): 0.6, ("s6", "t6"): 0.5}
    gold = [("s1", "t1"), ("s2", "t2"), ("s4", "t4"), ("s5", "t5")]
    # F1 of the top k: 2·correct / (k + 4): .4, .667, .571, .75, .667. Best at k = 4, so the
    # threshold is midway between the 4th and the 5th margin.
    assert scoring.best_threshold(candidates, gold) == pytest.approx(0.55)
    assert scoring.best_threshold({("s1", "t1"): 0.9, ("s3", "t9"): 0.7}, gold) == pytest.approx(0.8)
    assert scoring.best_threshold({("s1", "t1"): 0.9}, gold) == pytest.approx(0.9)  # nothing dropped
    assert scoring.best_threshold({("s3", "t9"): 0.9}, gold) == 0.0  # nothing right: keep all
    predictions = [["s1", "t1", 0.9], ["s2", "t2", 0.8], ["s3", "t9", 0.7], None, ["s4", "t4", 0.6]]
    gold_rows = [list(pair) for pair in gold] + [None]
    bucc = get_task("bucc2018")
    assert FAMILY.score(predictions, gold_rows, bucc, "de") == pytest.approx(
        {"f1": 0.75, "precision": 0.75, "recall": 0.75}
    )
    assert FAMILY.score([None] * 5, gold_rows, bucc, "de")["f1"] == 0.0


def test_map_and_mrr_at_20_by_hand() -> None:
    ranked = ["a", "b", "c", "a", "d"]
    # Hits at ranks 1 and 3: (1/1 + 2/3) / 2; the repeated "a" counts once.
    assert scoring.average_precision_at_k({"a", "c"}, ranked) == pytest.approx((1 + 2 / 3) / 2)
    # Within the top 2 only "a": 1 / min(2 relevant, k=2).
    assert scoring.average_precision_at_k({"a", "c"}, ranked, k=2) == pytest.approx(0.5)
    # Eleven relevant answers (one per language), two retrieved at ranks 2 and 5: (1/2 + 2/5) / 11.
    relevant = ["b", "d", *(f"x{i}" for i in range(9))]
    assert scoring.average_precision_at_k(relevant, ranked) == pytest.approx(0.9 / 11)
    assert scoring.reciprocal_rank_at_k("c", ranked) == pytest.approx(1 / 3)
    assert scoring.reciprocal_rank_at_k("z", ranked) == 0.0
    assert scoring.reciprocal_rank_at_k("z", ["x"] * 20 + ["z"]) == 0.0  # rank 21 is beyond the cap
    answers = [["a", "c"], None, ["z"]]
    assert FAMILY.score([ranked, None, ranked], answers, get_task("lareqa"), "de") == {
        "map_at_20": pytest.approx((1 + 2 / 3) / 4)
    }
    entities = ["c", "a"]
    assert FAMILY.score([ranked, ranked], entities, get_task("mewslix"), "de") == {
        "mrr_at_20": pytest.approx((1 / 3 + 1) / 2)
    }


def test_sentence_breaks_on_squad_english() -> None:
    text = 'Mr. Smith went to Washington. He arrived at 5 p.m. (local time). "Why?" she asked. 3 left.'
    sentences = [text[start:end] for start, end in sentence_breaks(text)]
    assert sentences == [
        "Mr. Smith went to Washington.",
        "He arrived at 5 p.m. (local time).",
        '"Why?" she asked.',
        "3 left.",
    ]


def _check_logged_metrics(evaluation, task, mirror: Path, metric: str) -> None:
    """Every logged metric is the one recomputed from the saved predictions and the gold."""
    assert evaluation.predictions
    for (split, lang), predicted in evaluation.predictions.items():
        source = (task.dev if split == "dev" else task.test)[lang]
        gold = FAMILY.gold(load_split(source, str(mirror)), task)
        recomputed = FAMILY.score(predicted, gold, task, lang)
        assert evaluation.metrics[f"{split}/{metric}/{lang}"] == recomputed[metric]
        assert {f"{split}/{m}/{lang}" for m in recomputed} <= set(evaluation.metrics)


def test_tatoeba_from_the_encoder(mirror: Path, tiny_encoder: Path, tmp_path: Path) -> None:
    task = get_task("tatoeba")
    langs = languages_present(task, str(mirror))
    assert langs == ["ar", "de", "fr", "jv", "sw", "zh"]
    tuned = fine_tune(str(tiny_encoder), task, str(mirror), HPARAMS, tmp_path)
    evaluation = evaluate(tuned, task, str(mirror), langs, ("dev", "test"), 128)
    assert set(evaluation.predictions) == {("dev", lang) for lang in langs}  # no test split
    jv = evaluation.predictions[("dev", "jv")]
    assert len(jv) == 205 and all(0 <= i < 205 for i in jv)
    _check_logged_metrics(evaluation, task, mirror, "accuracy")


def test_bucc_mines_with_the_dev_threshold(mirror: Path, tiny_encoder: Path, tmp_path: Path) -> None:
    task = get_task("bucc2018")
    langs = languages_present(task, str(mirror))
    assert langs == ["de", "fr", "zh"]
    tuned = fine_tune(str(tiny_encoder), task, str(mirror), HPARAMS, tmp_path)
    evaluation = evaluate(tuned, task, str(mirror), langs, ("dev", "test"), 128)
    _check_logged_metrics(evaluation, task, mirror, "f1")

    # Given the language and the data, test pairs are kept by the threshold tuned on dev.
    def infer(features):
        return tuned.trainer.predict(features).predictions

    dev, test = (load_split(sources["de"], str(mirror)) for sources in (task.dev, task.test))
    dev_gold = [tuple(g) for g in FAMILY.gold(dev, task) if g]
    threshold = scoring.best_threshold(FAMILY.mined_pairs(dev, task, tuned.tokenizer, 128, infer), dev_gold)
    mined = FAMILY.mined_pairs(test, task, tuned.tokenizer, 128, infer)
    kept = {pair for pair, margin in mined.items() if margin >= threshold}
    predicted = FAMILY.predict(test, task, tuned.tokenizer, 128, infer, "de", str(mirror))
    assert {tuple(p[:2]) for p in predicted if p} == kept
    assert kept and all(p is None or p[0].startswith("de-") and p[1].startswith("en-") for p in predicted)


def test_lareqa_dual_encoder_fine_tune_and_evaluate(mirror: Path, tiny_encoder: Path, tmp_path: Path) -> None:
    task = get_task("lareqa")
    langs = languages_present(task, str(mirror))
    assert langs == ["ar", "de", "en", "zh"]
    features = FAMILY.encode(load_split(task.train, str(mirror)), task, _tokenizer(tiny_encoder), 64)
    assert {"input_ids", "candidate_input_ids"} <= set(features.column_names) and len(features) > 80
    tuned = fine_tune(str(tiny_encoder), task, str(mirror), HPARAMS, tmp_path)
    assert tuned.trainer.state.global_step > 0
    evaluation = evaluate(tuned, task, str(mirror), langs, ("dev",), 64)
    _check_logged_metrics(evaluation, task, mirror, "map_at_20")
    rows = load_split(task.dev["de"], str(mirror))
    gold = FAMILY.gold(rows, task)
    question = next(i for i, g in enumerate(gold) if g)
    # The pool is multilingual: a German question's answers are its sentence in all four.
    assert {uid.split("_")[0] for uid in gold[question]} == {"en", "de", "ar", "zh"}
    ranked = evaluation.predictions[("dev", "de")][question]
    assert len(ranked) == 20 and set(ranked) <= set(list(rows["candidate"])) - {None}


def test_mewslix_dual_encoder_fine_tune_and_evaluate(mirror: Path, tiny_encoder: Path, tmp_path: Path) -> None:
    task = get_task("mewslix")
    tuned = fine_tune(str(tiny_encoder), task, str(mirror), HPARAMS, tmp_path)
    assert tuned.trainer.state.global_step > 0
    langs = languages_present(task, str(mirror))
    evaluation = evaluate(tuned, task, str(mirror), langs, ("dev", "test"), 64)
    _check_logged_metrics(evaluation, task, mirror, "mrr_at_20")
    # Every mention ranks the one candidate set, whatever its language.
    entities = set(load_split(task.settings.candidates, str(mirror))["entity_id"])
    for predicted in evaluation.predictions.values():
        assert all(len(ranked) == min(20, len(entities)) and set(ranked) <= entities for ranked in predicted)


def _tokenizer(path: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)

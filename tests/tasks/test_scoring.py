"""The official scorer's metric definitions on hand-computed cases: MLQA's normalisation in
each of its languages, SQuAD's, seqeval's chunk scores, BUCC's threshold search, MRR@20 and
mAP@20, accuracy."""

from __future__ import annotations

import pytest

from tasks.scoring import retrieval
from tasks.scoring.accuracy import accuracy
from tasks.scoring.qa import exact_match, f1, normalise_mlqa, normalise_squad, score_answers
from tasks.scoring.tagging import tagging_scores


@pytest.mark.parametrize(
    ("lang", "text", "normalised"),
    [
        # Lower case, punctuation out, English articles out.
        ("en", "The Eiffel Tower, in Paris!", "eiffel tower in paris"),
        # Spanish articles (los, la) go; the preposition "de" stays.
        ("es", "Los Juegos de la Ciudad, 1992.", "juegos de ciudad 1992"),
        ("de", "Der Vertrag von Versailles (1919)", "vertrag von versailles 1919"),
        # MLQA's Vietnamese "articles" include the possessive "của".
        ("vi", "Những cái bàn của tôi", "bàn tôi"),
        # Every "ال" goes, leaving the word without its article.
        ("ar", "في المدينة المنورة.", "في مدينة منورة"),
        # No articles; the danda (U+0964) is Unicode punctuation.
        ("hi", "भारत की राजधानी नई दिल्ली है।", "भारत की राजधानी नई दिल्ली है"),
        # Each ideograph a token; a run of digits stays one; the ideographic full stop goes.
        ("zh", "北京是中国的首都。", "北 京 是 中 国 的 首 都"),
        ("zh", "2008年北京奥运会", "2008 年 北 京 奥 运 会"),
    ],
)
def test_mlqa_normalisation_per_language(lang: str, text: str, normalised: str) -> None:
    assert normalise_mlqa(text, lang) == normalised


def test_mlqa_scores_chinese_by_character_and_knows_only_its_languages() -> None:
    # Prediction 北京大学 (4 characters) against 北京 (2): P = 2/4, R = 1, F1 = 2/3.
    assert f1("北京大学", "北京", lambda text: normalise_mlqa(text, "zh")) == pytest.approx(2 / 3)
    # Whitespace tokens would make it one token each: no overlap at all.
    assert f1("北京大学", "北京", normalise_squad) == 0.0
    assert exact_match("Die Mauer", "die Mauer.", lambda text: normalise_mlqa(text, "de")) == 1.0
    with pytest.raises(ValueError, match="MLQA normalisation knows"):
        normalise_mlqa("text", "fr")


def test_squad_normalisation_and_scores() -> None:
    # ASCII punctuation only: the apostrophe and the thousands comma go, guillemets stay;
    # "an" goes as a word, "the" inside "theater" does not.
    assert normalise_squad("The Denver Broncos' 1,000 yards.") == "denver broncos 1000 yards"
    assert normalise_squad("«Paris» theater, an apple") == "«paris» theater apple"
    # Tokens [big, red, dog] against [red, dog, barked]: 2 shared, P = R = F1 = 2/3.
    assert f1("the big red dog", "a red dog barked", normalise_squad) == pytest.approx(2 / 3)
    # Best over the gold answers, then the mean over questions; None is unanswered (0).
    scores = score_answers(
        ["Broncos", "The cat sat!", None], [["Denver Broncos", "Broncos"], ["the cat sat"], ["1,000"]], normalise_squad
    )
    assert scores == {"exact_match": pytest.approx(2 / 3), "f1": pytest.approx(2 / 3)}


def test_seqeval_chunk_scores_on_hand_made_tags() -> None:
    # Gold PER, LOC | ORG (3 entities); predicted PER, a shorter LOC | ORG, MISC (4). PER and
    # ORG match: P = 2/4, R = 2/3, F1 = 4/7.
    gold = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC"], ["B-ORG", "O"]]
    predicted = [["B-PER", "I-PER", "O", "B-LOC", "O"], ["B-ORG", "B-MISC"]]
    assert tagging_scores(predicted, gold) == {
        "f1": pytest.approx(4 / 7),
        "precision": pytest.approx(1 / 2),
        "recall": pytest.approx(2 / 3),
    }
    # conlleval's reading: an I- tag after O opens an entity.
    assert tagging_scores([["O", "I-PER"]], [["O", "B-PER"]])["f1"] == 1.0
    # POS, seqeval 1.x: a tag's type is its name without the first letter, so SCONJ after
    # CCONJ (both "CONJ") restarts the chunk and the CCONJ chunk is dropped. Gold chunks
    # SCONJ, PRON, VERB; predicted SCONJ, PRON, NOUN: 2 of 3 on each side.
    scores = tagging_scores([["CCONJ", "SCONJ", "PRON", "NOUN"]], [["CCONJ", "SCONJ", "PRON", "VERB"]])
    assert scores == {"f1": pytest.approx(2 / 3), "precision": pytest.approx(2 / 3), "recall": pytest.approx(2 / 3)}
    assert tagging_scores([["O", "O"]], [["B-PER", "O"]]) == {"f1": 0.0, "precision": 0.0, "recall": 0.0}
    with pytest.raises(ValueError, match="sentence 0"):
        tagging_scores([["O"]], [["O", "O"]])


def test_bucc_threshold_search_by_hand() -> None:
    gold = [("de-1", "en-1"), ("de-2", "en-2")]
    candidates = {("de-1", "en-1"): 0.9, ("de-9", "en-9"): 0.8, ("de-2", "en-2"): 0.7, ("de-8", "en-8"): 0.6}
    # F1 of the top k: 2/3 (k=1), 1/2, 4/5 (k=3), 2/3. Best at k = 3: midway to the 4th.
    assert retrieval.best_threshold(candidates, gold) == pytest.approx(0.65)
    # Correct at ranks 4 and 10 of 11: F1 1/3 at both (2·1/(4+2) = 2·2/(10+2)). bucc_optimize
    # computes 2PR/(P+R), which rounds the second a hair above the first
    # (0.33333333333333337 > 0.3333333333333333), so the threshold moves to ranks 10-11.
    ranked = {(f"de-{rank}", f"en-{rank}"): (12 - rank) / 10 for rank in range(1, 12)}
    assert retrieval.best_threshold(ranked, [("de-4", "en-4"), ("de-10", "en-10")]) == pytest.approx(0.15)
    # Best at the last candidate: its own margin, keeping all.
    assert retrieval.best_threshold({("de-9", "en-9"): 0.9, ("de-1", "en-1"): 0.4}, gold) == pytest.approx(0.4)
    assert retrieval.best_threshold({("de-9", "en-9"): 0.9}, gold) == 0.0  # nothing right
    # 3 predicted, 2 gold, 1 shared: P = 1/3, R = 1/2, F1 = 2/5.
    assert retrieval.pair_f1([("de-1", "en-1"), ("de-2", "en-9"), ("de-3", "en-3")], gold) == {
        "f1": pytest.approx(2 / 5),
        "precision": pytest.approx(1 / 3),
        "recall": pytest.approx(1 / 2),
    }


def test_mrr_and_map_at_20_by_hand() -> None:
    # Mewsli-X: the gold entity's first rank within the top 20.
    assert retrieval.reciprocal_rank_at_k("Q1", ["Q5", "Q1", "Q1"]) == pytest.approx(1 / 2)
    assert retrieval.reciprocal_rank_at_k("Q1", [f"Q{i}" for i in range(100, 119)] + ["Q1"]) == pytest.approx(1 / 20)
    assert retrieval.reciprocal_rank_at_k("Q1", [f"Q{i}" for i in range(100, 120)] + ["Q1"]) == 0.0
    # LAReQA: relevant {a, b, c} found at ranks 2 and 4 (a repeated "a" at 3 counts once):
    # (1/2 + 2/4) / 3.
    assert retrieval.average_precision_at_k(["a", "b", "c"], ["x", "a", "a", "b", "y"]) == pytest.approx(1 / 3)
    # 25 relevant, the top 20 all relevant: 20 hits over min(25, 20).
    relevant = [f"s{i}" for i in range(25)]
    assert retrieval.average_precision_at_k(relevant, relevant) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="relevant"):
        retrieval.average_precision_at_k([], ["a"])


def test_accuracy_by_hand() -> None:
    assert accuracy(["entailment", "neutral", "neutral"], ["entailment", "neutral", "contradiction"]) == 2 / 3
    assert retrieval.accuracy is accuracy  # Tatoeba's accuracy is the same definition
    with pytest.raises(ValueError, match="2 predictions for 1"):
        accuracy([0, 1], [0])

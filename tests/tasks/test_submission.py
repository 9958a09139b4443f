"""The XTREME submission layout and ``xsweep score``: predictions and labels of every target
written from the real samples and scored as the official scorer scores them, the official
MLQA label files read as written ones, the overall scores on a hand-made table, and the
command's output and its one-line errors."""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from seqeval.metrics import precision_score, recall_score

from tasks import family_of, get_task, is_present, load_split, targets
from tasks.scoring.submission import (
    AVERAGE,
    OVERALL,
    TASK_SCORE,
    example_ids,
    overall_scores,
    score_folders,
    submission_format,
    submission_path,
    write_labels,
    write_predictions,
)
from tests.tasks.realdata import convert_every_task
from tests.tasks.realdata_retrieval import convert_mewslix_standin

# Every third example (counted over a task's languages in order) is predicted wrong.
WRONG_EVERY = 3
TOLERANCE = 1e-6


def wrong(counter: int) -> bool:
    return counter % WRONG_EVERY == 0


@dataclass
class Folders:
    predictions: Path
    labels: Path
    # The split each task's files were written for, and the expected metrics (0-100) per
    # task and language: computed here independently (by hand, or seqeval on the lists),
    # and for the tasks in FAMILY_SCORED completed by the family's own score.
    split: dict[str, str] = field(default_factory=dict)
    expected: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)


def _label_task(task, gold, rows, start):
    """XNLI, PAWS-X: every third label replaced by the next label."""
    labels = task.labels
    predictions = [labels[(labels.index(g) + 1) % len(labels)] if wrong(start + i) else g for i, g in enumerate(gold)]
    right = sum(not wrong(start + i) for i in range(len(gold)))
    return predictions, {"accuracy": 100 * right / len(gold)}


def _xcopa(task, gold, rows, start):
    predictions = [1 - g if wrong(start + i) else g for i, g in enumerate(gold)]
    right = sum(not wrong(start + i) for i in range(len(gold)))
    return predictions, {"accuracy": 100 * right / len(gold)}


def _tatoeba(task, gold, rows, start):
    # Gold is each row's own index; a wrong prediction retrieves the next row.
    predictions = [(g + 1) % len(gold) if wrong(start + i) else g for i, g in enumerate(gold)]
    right = sum(not wrong(start + i) for i in range(len(gold)))
    return predictions, {"accuracy": 100 * right / len(gold)}


def _bucc(task, gold, rows, start):
    """Every third gold pair missed; every other sentence without a translation paired
    with a wrong one."""
    source_ids = list(rows[task.columns["source_id"]])
    predictions, kept, added, unpaired = [], 0, 0, 0
    for i, (pair, source_id) in enumerate(zip(gold, source_ids, strict=True)):
        if pair is not None:
            kept += not wrong(start + i)
            predictions.append(None if wrong(start + i) else [pair[0], pair[1], 1.0])
            continue
        if source_id is not None:
            unpaired += 1
            if unpaired % 2:
                added += 1
                predictions.append([source_id, "en-000000000", 0.5])
                continue
        predictions.append(None)
    precision, recall = kept / (kept + added), kept / sum(pair is not None for pair in gold)
    f1 = 2 * precision * recall / (precision + recall)
    return predictions, {"f1": 100 * f1, "precision": 100 * precision, "recall": 100 * recall}


def _mewslix(task, gold, rows, start):
    # A wrong ranking puts another entity first: reciprocal rank 1/2 instead of 1.
    predictions = [["Q0", g] if wrong(start + i) else [g] for i, g in enumerate(gold)]
    ranks = [0.5 if wrong(start + i) else 1.0 for i in range(len(gold))]
    return predictions, {"mrr_at_20": 100 * sum(ranks) / len(ranks)}


def _lareqa(task, gold, rows, start):
    """Questions rank their answer sentences first, a wrong one after another candidate:
    with m relevant, AP = 1, or (1/2 + 2/3 + ... + m/(m+1)) / m."""
    predictions, precisions = [], []
    for i, relevant in enumerate(gold):
        if relevant is None:
            predictions.append(None)
            continue
        m = len(relevant)
        assert 0 < m < 20
        if wrong(start + i):
            predictions.append(["not-an-answer", *relevant])
            precisions.append(sum(j / (j + 1) for j in range(1, m + 1)) / m)
        else:
            predictions.append(list(relevant))
            precisions.append(1.0)
    return predictions, {"map_at_20": 100 * sum(precisions) / len(precisions)}


def _tags(task, gold, rows, start):
    """Every third sentence's first tag swapped for another one: precision and recall by
    seqeval on the lists (not the files), F1 by the family."""
    labels = task.labels
    predictions = [
        [labels[(labels.index(tags[0]) + 1) % len(labels)], *tags[1:]] if wrong(start + i) and tags else list(tags)
        for i, tags in enumerate(gold)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # POS tags are "not NE tags"
        precision, recall = precision_score(gold, predictions), recall_score(gold, predictions)
    return predictions, {"precision": 100 * precision, "recall": 100 * recall}


def _qa(task, gold, rows, start):
    """Every third answer wrong, every third (the next) one the gold answer padded with two
    words (a partial F1), the rest the gold answer: EM and F1 by the family."""
    predictions = []
    for i, answers in enumerate(gold):
        case = (start + i) % WRONG_EVERY
        predictions.append("zzz qqq" if case == 0 else f"{answers[0]} weit weg" if case == 1 else answers[0])
    return predictions, {}


PERTURB: dict[str, Callable] = {
    "xnli": _label_task,
    "pawsx": _label_task,
    "xcopa": _xcopa,
    "tatoeba": _tatoeba,
    "bucc2018": _bucc,
    "mewslix": _mewslix,
    "lareqa": _lareqa,
    "udpos": _tags,
    "panx": _tags,
    "xquad": _qa,
    "mlqa": _qa,
    "tydiqa": _qa,
}
# Tasks whose expected metrics the family's score completes (the hand computation would
# restate it); the others' are all computed here, and the family must agree with them.
FAMILY_SCORED = frozenset({"udpos", "panx", "xquad", "mlqa", "tydiqa"})
# PAN-X has a one-sentence sample in 40 languages: a few are enough here.
LANGUAGE_CAP = {"panx": 6}


@pytest.fixture(scope="module")
def mirror(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = convert_every_task(realdata, tmp_path_factory.mktemp("mirror"))
    convert_mewslix_standin(realdata, root)
    return root


@pytest.fixture(scope="module")
def folders(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Folders:
    """Each target's split with labels (test where the samples have it) in every language
    of the samples: gold from ``family.gold``, predictions perturbed from it, both written
    in the submission layout."""
    out = tmp_path_factory.mktemp("submission")
    written = Folders(out / "predictions", out / "labels")
    for name, perturb in PERTURB.items():
        task = get_task(name)
        family = family_of(task.family)
        split = "test" if any(is_present(source, str(mirror)) for source in task.test.values()) else "dev"
        sources = task.test if split == "test" else task.dev
        languages = [lang for lang in task.languages if lang in sources and is_present(sources[lang], str(mirror))]
        languages = languages[: LANGUAGE_CAP.get(name, len(languages))]
        assert languages, name
        written.split[name] = split
        counter = 0
        for lang in languages:
            rows = load_split(sources[lang], str(mirror))
            gold = family.gold(rows, task)
            predictions, expected = perturb(task, gold, rows, counter)
            counter += len(gold)
            ids = example_ids(rows, name)
            write_labels(name, split, lang, gold, written.labels, ids)
            write_predictions(name, split, lang, predictions, written.predictions, ids)
            scored = {metric: 100 * value for metric, value in family.score(predictions, gold, task, lang).items()}
            if name in FAMILY_SCORED:
                expected = {**expected, **scored}
            else:
                assert scored == pytest.approx({m: expected[m] for m in scored}, abs=TOLERANCE)
            written.expected.setdefault(name, {})[lang] = expected
    return written


def files_split(folders: Folders, task: str) -> str:
    # The four tasks without a test split have their dev data written as test files.
    return "test" if folders.split[task] == "test" or not get_task(task).test else "dev"


def test_every_target_scores_as_computed(folders: Folders) -> None:
    scored = set()
    for benchmark in ("xtreme", "xtreme-r"):
        for split in ("test", "dev"):
            scores = score_folders(folders.predictions, folders.labels, benchmark, split)
            for task, metrics in scores.items():
                if task == OVERALL:
                    continue
                assert files_split(folders, task) == split
                expected = folders.expected[task]
                for lang, values in expected.items():
                    for metric, value in values.items():
                        assert metrics[metric][lang] == pytest.approx(value, abs=TOLERANCE), (task, lang, metric)
                for metric in metrics:
                    if metric != TASK_SCORE:
                        mean = sum(expected[lang][metric] for lang in expected) / len(expected)
                        assert metrics[metric][AVERAGE] == pytest.approx(mean, abs=TOLERANCE)
                if submission_format(task) == "squad_json":  # evaluate.py's QA score: the mean of EM and F1
                    combined = (metrics["exact_match"][AVERAGE] + metrics["f1"][AVERAGE]) / 2
                    assert metrics[TASK_SCORE][AVERAGE] == pytest.approx(combined, abs=TOLERANCE)
                scored.add(task)
    assert scored == {target.name for target in targets()}
    # Wrong predictions cost something everywhere, so a scorer ignoring them would fail.
    assert all(any(min(v.values()) < 100 for v in expected.values()) for expected in folders.expected.values())


def test_overall_where_every_task_of_a_group_is_complete(folders: Folders) -> None:
    """The samples hold every language of XNLI, PAWS-X, XCOPA, MLQA and TyDiQA-GoldP, but
    not of the other tasks: only the groups made of the former get a score."""
    task_scores = {}
    for benchmark in ("xtreme", "xtreme-r"):
        scores = score_folders(folders.predictions, folders.labels, benchmark, "test")
        task_scores[benchmark] = {task: s[TASK_SCORE][AVERAGE] for task, s in scores.items() if task != OVERALL}
        overall = scores[OVERALL][TASK_SCORE]
        assert benchmark not in overall
        if benchmark == "xtreme":
            assert set(overall) == {"classification"}
            expected = (task_scores[benchmark]["pawsx"] + task_scores[benchmark]["xnli"]) / 2
            assert overall["classification"] == pytest.approx(expected, abs=TOLERANCE)
        else:
            assert set(overall) == {"classification", "multi_choice"}
            assert overall["multi_choice"] == pytest.approx(task_scores[benchmark]["xcopa"], abs=TOLERANCE)
    # XNLI has no more languages in XTREME-R: the same score in both.
    assert task_scores["xtreme"]["xnli"] == pytest.approx(task_scores["xtreme-r"]["xnli"], abs=TOLERANCE)


def test_written_files_follow_the_official_formats(folders: Folders) -> None:
    # PAWS-X labels as 0/1 and XNLI's by name, one per line.
    pawsx = submission_path(folders.labels, "pawsx", "test", "de").read_text().splitlines()
    assert set(pawsx) <= {"0", "1"} and len(pawsx) == 4
    xnli = submission_path(folders.labels, "xnli", "test", "de").read_text().split()
    assert set(xnli) <= {"entailment", "neutral", "contradiction"}
    # Tags a line each, a blank line after each sentence.
    udpos = submission_path(folders.labels, "udpos", "dev", "en").read_text()
    assert udpos.endswith("\n\n") and udpos.count("\n\n") == 25
    # XCOPA's JSON lines; BUCC's id pairs; the dev data of the tasks without test as test.
    xcopa = submission_path(folders.labels, "xcopa", "test", "et").read_text().splitlines()
    assert len(xcopa) == 25 and json.loads(xcopa[0]) in ({"label": 0}, {"label": 1})
    bucc = submission_path(folders.predictions, "bucc2018", "test", "de").read_text().splitlines()
    assert bucc and all(len(line.split("\t")) == 2 for line in bucc)
    assert submission_path(folders.labels, "xquad", "dev", "en").name == "test-en.json"
    assert submission_path(folders.labels, "mlqa", "dev", "en").name == "dev-en.json"
    # QA predictions and Mewsli-X rankings keyed by the examples' own ids.
    mlqa = json.loads(submission_path(folders.predictions, "mlqa", "test", "de").read_text())
    assert list(mlqa) == ["c076d4b0a1967805a45e7ab1e247e3a0739d4850"]
    mewslix = json.loads(submission_path(folders.predictions, "mewslix", "test", "de").read_text())
    assert all(key.startswith("de-") for key in mewslix)


def test_official_mlqa_label_files_score_like_written_ones(realdata: Path, folders: Folders, tmp_path: Path) -> None:
    """XTREME's own MLQA gold files (its mock test data) as the label folder: the predictions
    keyed by the samples' ids score exactly as against the labels written here."""
    predictions = tmp_path / "predictions"
    shutil.copytree(folders.predictions / "mlqa", predictions / "mlqa")
    shutil.copytree(realdata / "mlqa" / "xtreme_mock_test_data_labels", tmp_path / "labels" / "mlqa")
    official = score_folders(predictions, tmp_path / "labels", "xtreme-r")
    written = score_folders(predictions, folders.labels, "xtreme-r")
    assert official["mlqa"] == written["mlqa"]
    assert set(official["mlqa"]["f1"]) == {*get_task("mlqa").languages, AVERAGE}


def test_qa_score_with_an_unanswered_question_by_hand(tmp_path: Path) -> None:
    write_labels(
        "xquad", "dev", "en", [["Denver Broncos"], ["the cat sat"], ["1,000"]], tmp_path / "labels", ["q1", "q2", "q3"]
    )
    path = submission_path(tmp_path / "predictions", "xquad", "dev", "en")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"q1": "Broncos", "q2": "The cat sat!"}))  # q3 unanswered
    # q1: EM 0, F1 2/3 (P 1, R 1/2); q2: EM 1, F1 1; q3: 0. EM 1/3, F1 5/9, score their mean.
    scores = score_folders(tmp_path / "predictions", tmp_path / "labels", "xtreme")["xquad"]
    assert scores["exact_match"]["en"] == pytest.approx(100 / 3)
    assert scores["f1"]["en"] == pytest.approx(500 / 9)
    assert scores[TASK_SCORE][AVERAGE] == pytest.approx((100 / 3 + 500 / 9) / 2)


def test_overall_scores_on_a_hand_made_table() -> None:
    xtreme = {
        "pawsx": 80.0, "xnli": 70.0, "udpos": 75.0, "panx": 65.0, "xquad": 70.0,
        "mlqa": 60.0, "tydiqa": 50.0, "bucc2018": 60.0, "tatoeba": 40.0,
    }  # fmt: skip
    # (80 + 70 + 75 + 65 + 70 + 60 + 50 + 60 + 40) / 9 = 570 / 9.
    assert overall_scores(xtreme, "xtreme") == pytest.approx(
        {"xtreme": 570 / 9, "classification": 75.0, "tagging": 70.0, "qa": 60.0, "retrieval": 50.0}
    )
    xtreme_r = {
        "xnli": 80.0, "xcopa": 60.0, "udpos": 75.0, "panx": 65.0, "xquad": 70.0, "mlqa": 60.0,
        "tydiqa": 50.0, "tatoeba": 90.0, "mewslix": 40.0, "lareqa": 35.0,
    }  # fmt: skip
    # Ten tasks, each weighing the same: 625 / 10; retrieval (90 + 40 + 35) / 3.
    assert overall_scores(xtreme_r, "xtreme-r") == pytest.approx(
        {"xtreme-r": 62.5, "classification": 70.0, "tagging": 70.0, "qa": 60.0, "retrieval": 55.0, "multi_choice": 60.0}
    )
    # Without LAReQA, neither the overall score nor the retrieval group.
    partial = overall_scores({k: v for k, v in xtreme_r.items() if k != "lareqa"}, "xtreme-r")
    assert "xtreme-r" not in partial and "retrieval" not in partial and partial["qa"] == 60.0


@click.group()
def main() -> None:
    """The command as sweeper/cli.py declares it."""


@main.command("score")
@click.argument("pred_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("label_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--benchmark", type=click.Choice(["xtreme", "xtreme-r"]), default="xtreme-r", show_default=True)
@click.option("--split", type=click.Choice(["test", "dev"]), default="test", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def score(pred_dir, label_dir, benchmark, split, as_json):
    from sweeper.results.score import score_command

    score_command(pred_dir, label_dir, benchmark, split, as_json)


def test_cli_prints_json_and_tables(folders: Folders) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["score", str(folders.predictions), str(folders.labels), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert set(scores) == {"xnli", "xcopa", "panx", "xquad", "mlqa", "tydiqa", "tatoeba", "mewslix", "lareqa", OVERALL}
    for task, metrics in scores.items():
        for metric, by_language in metrics.items():
            assert all(isinstance(value, float) for value in by_language.values()), (task, metric)
    assert scores["xnli"]["accuracy"]["de"] == pytest.approx(folders.expected["xnli"]["de"]["accuracy"])
    assert set(scores["mewslix"]) == {"mrr_at_20", TASK_SCORE} and scores["lareqa"]["map_at_20"][AVERAGE] < 100
    table = runner.invoke(main, ["score", str(folders.predictions), str(folders.labels), "--benchmark", "xtreme"])
    assert table.exit_code == 0, table.output
    assert "bucc2018 (test)" in table.output and "exact_match" in table.output and "classification" in table.output
    assert "not scored" in table.output and "xcopa" in table.output  # not part of XTREME


def _bad_input(tmp_path: Path, case: str) -> tuple[Path, Path]:
    predictions, labels = tmp_path / "predictions", tmp_path / "labels"
    write_labels("xnli", "test", "de", ["entailment", "neutral", "neutral"], labels)
    write_predictions("xnli", "test", "de", ["entailment", "neutral", "neutral"], predictions)
    if case == "unknown task":
        (predictions / "xnli-r").mkdir()
    elif case == "missing label":
        write_predictions("xnli", "test", "fr", ["neutral"], predictions)
    elif case == "line count":
        write_predictions("xnli", "test", "de", ["neutral", "neutral"], predictions)
    return predictions, labels


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unknown task", "xnli-r: not a task folder; expected one of xnli, pawsx"),
        ("missing label", "xnli/test-fr.tsv: missing; expected the gold labels"),
        ("line count", "xnli/test-de.tsv: 2 lines, expected 3 as in"),
    ],
)
def test_cli_refuses_bad_folders_in_one_line(case: str, message: str, tmp_path: Path) -> None:
    predictions, labels = _bad_input(tmp_path, case)
    result = CliRunner().invoke(main, ["score", str(predictions), str(labels)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert message in result.output

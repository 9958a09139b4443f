"""The XTREME leaderboard's submission layout: predictions and gold labels written as the
official scorer reads them, and folders of them scored as it scores them.

A submission is one folder per task with one file per language, ``<task>/test-<lang>.<ext>``;
the label folder has the same layout. google-research/xtreme's ``evaluate.py`` (its XTREME-R
version, ``--xtreme_version xtreme|xtreme-r``) reads these files, and so does this module:

============  =======  ==============================================================
task          file     content
============  =======  ==============================================================
xnli, pawsx   .tsv     a line per example: the label (XNLI's by name, PAWS-X's 0 or 1)
tatoeba       .tsv     a line per sentence: the index of its retrieved translation
xcopa         .jsonl   a line per example: ``{"label": index of the chosen alternative}``
udpos, panx   .tsv     a line per word holding its tag, a blank line after each sentence
bucc2018      .tsv     a line per pair, in any order: ``source id<TAB>target id``
xquad, mlqa,  .json    predictions ``{question id: answer text}``; labels SQuAD v1.1 JSON
tydiqa                 (``data`` → ``paragraphs`` → ``qas``: ``id``, ``answers[].text``)
mewslix       .json    predictions ``{mention id: [entity ids, best first]}``; labels
                       ``{mention id: [its entity id]}``
lareqa        .json    predictions ``{question id: [candidate ids, best first]}``; labels
                       ``{question id: [ids of the sentences that answer it]}``
============  =======  ==============================================================

LAReQA has no reader in evaluate.py; its files follow Mewsli-X's, the other ranking task.
A target's format follows from its family (``TaskFamily.submission_format``); the benchmarks
that score it, and the languages XTREME-R added to it, are in its entry (``Task.submission``),
so a new target is one registry entry here too.

**Splits.** XTREME scores XQuAD, TyDiQA-GoldP (its dev set), Tatoeba (its 1,000 pairs) and
LAReQA (XQuAD-R) on data the registry has as their only split, ``dev``: the writers name
those files ``test-<lang>`` (``file_split``), the leaderboard's name for that data, so a
run's ``predictions/`` folder is a submission as it stands. Every other task's dev files
are ``dev-<lang>``, scored with ``split="dev"``.

**Keys.** Line files are keyed by line order; JSON files by example id: ``ids`` (what
``example_ids`` reads from the rows: question ids, Mewsli-X mention ids), else row indices.

**Scores** are evaluate.py's, on its 0–100 scale, per language: ``accuracy`` (XNLI,
PAWS-X, XCOPA, Tatoeba); seqeval's ``f1``, ``precision`` and ``recall`` (UD-POS, PAN-X);
BUCC's pair ``f1``, ``precision`` and ``recall``; ``exact_match`` and ``f1`` (QA: SQuAD
v1.1's normalisation, MLQA's per language for MLQA; an unanswered question scores 0);
``mrr_at_20`` (Mewsli-X, which evaluate.py mislabels ``map@20``); ``map_at_20`` (LAReQA,
XTREME-R's ``utils_lareqa.average_precision_at_k``). Line files must have as many entries
as their labels (evaluate.py asserts it); BUCC and the JSON formats need not.

``score_folders`` returns ``{task: {metric: {lang: value, "avg": mean over the languages}}}``;
each task also has ``"score": {"avg": ...}``, evaluate.py's ``avg_metric`` (the mean of the
averages of EM and F1 for QA, else the average of the task's metric), and the result has
``"overall": {"score": {...}}`` with the benchmark's overall score and its groups' scores
(``overall_scores``), each only where all of its tasks are scored on the test split in all
their languages.

**Overall scores.** evaluate.py's overall score (``all_task``) is the mean of every task's
``avg_metric`` over the benchmark's tasks; each group's, over the group's tasks. For XTREME
(nine tasks) this module computes exactly that. For XTREME-R the script cannot: LAReQA is
listed with no languages (so it gets no score) and Mewsli-X's metric is named ``map@20``,
which ``avg_metric`` does not pick up, so neither ``all_task`` nor the retrieval group's
score can be computed. Here LAReQA is scored on XQuAD-R's eleven languages (ar de el en es
hi ru th tr vi zh) by mAP@20 and Mewsli-X's task score is its mean MRR@20; XTREME-R's
overall score is then the mean of its ten task scores, each task weighing the same, as
``all_task`` is for XTREME. Its groups are the script's, with LAReQA in retrieval beside
Tatoeba and Mewsli-X.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.families import family_of
from tasks.registry import TASKS, targets
from tasks.scoring.accuracy import accuracy
from tasks.scoring.qa import normalise_mlqa, normalise_squad, score_answers
from tasks.scoring.retrieval import TOP_K, average_precision_at_k, mean, pair_f1, reciprocal_rank_at_k
from tasks.scoring.tagging import tagging_scores
from tasks.task import Task

AVERAGE = "avg"
TASK_SCORE = "score"
OVERALL = "overall"

EXTENSIONS = {
    "label": "tsv",
    "choice": "jsonl",
    "tags": "tsv",
    "pairs": "tsv",
    "squad_json": "json",
    "entities": "json",
    "answers": "json",
}
# The metrics whose averages make a task's score (evaluate.py's avg_metric).
SCORE_METRICS = {
    "label": ("accuracy",),
    "choice": ("accuracy",),
    "tags": ("f1",),
    "pairs": ("f1",),
    "squad_json": ("exact_match", "f1"),
    "entities": (f"mrr_at_{TOP_K}",),
    "answers": (f"map_at_{TOP_K}",),
}


class SubmissionError(ValueError):
    """A submission or label file that cannot be scored; the message names it."""


@dataclass(frozen=True)
class Benchmark:
    """A benchmark as evaluate.py defines it: each task's languages, and the task groups."""

    name: str
    languages: Mapping[str, tuple[str, ...]]
    groups: Mapping[str, tuple[str, ...]]


# The benchmarks' task groups, as evaluate.py defines them; each benchmark's tasks and their
# languages come from the registry entries that name it (``Task.submission``).
GROUPS: dict[str, dict[str, tuple[str, ...]]] = {
    "xtreme": {
        "classification": ("pawsx", "xnli"),
        "tagging": ("udpos", "panx"),
        "qa": ("xquad", "mlqa", "tydiqa"),
        "retrieval": ("bucc2018", "tatoeba"),
    },
    "xtreme-r": {
        "classification": ("xnli", "xcopa"),
        "tagging": ("udpos", "panx"),
        "qa": ("xquad", "mlqa", "tydiqa"),
        "retrieval": ("tatoeba", "mewslix", "lareqa"),
        "multi_choice": ("xcopa",),
    },
}
# XTREME-R's additions to a task's languages are the ones XTREME does not score.
_WITHOUT_ADDITIONS = {"xtreme"}


def benchmark_of(name: str) -> Benchmark:
    """``name``'s definition: each target that names it, in the languages it scores there."""
    languages = {
        task.name: tuple(
            lang
            for lang in task.languages
            if name not in _WITHOUT_ADDITIONS or lang not in task.submission.added_in_xtreme_r
        )
        for task in targets()
        if name in task.submission.benchmarks
    }
    return Benchmark(name, languages, GROUPS[name])


def _target(task: str) -> Task:
    found = TASKS.get(task)
    if found is None or found.kind != "target":
        valid = ", ".join(target.name for target in targets())
        raise SubmissionError(f"{task!r} is not a target task; expected one of {valid}")
    return found


def submission_format(task: str) -> str:
    """The layout of ``task``'s files (the table above), as its family writes them."""
    target = _target(task)
    return family_of(target.family).submission_format(target)


def file_split(task: str, split: str) -> str:
    """The split name of ``task``'s files: ``test`` for the dev data of a task the registry
    has no test split for (XTREME's test set is that data), else ``split``."""
    return "test" if split == "dev" and not _target(task).test else split


def submission_path(root: str | Path, task: str, split: str, lang: str) -> Path:
    """``root/<task>/<file split>-<lang>.<ext>``."""
    return Path(root) / task / f"{file_split(task, split)}-{lang}.{EXTENSIONS[submission_format(task)]}"


def example_ids(rows: Any, task_name: str) -> list[str | None] | None:
    """The ids that key ``task_name``'s JSON files, one per row (None for a row that is not
    an example: LAReQA's pool of answer sentences), from rows in the families' columns;
    None for the formats keyed by line order, and for tasks that are no targets."""
    task = TASKS.get(task_name)
    kind = submission_format(task_name) if task is not None and task.kind == "target" else None
    if kind == "squad_json":
        return list(rows[TASKS[task_name].columns["id"]])
    if kind == "entities":
        return [mention["example_id"] for mention in rows["mention"]]
    if kind == "answers":
        return list(rows["id"])
    return None


def write_predictions(
    task: str, split: str, lang: str, predictions: Sequence, out_dir: str | Path, ids: Sequence | None = None
) -> Path:
    """Write what ``family.predict`` returned for one split and language of ``task`` as the
    submission file ``out_dir/<task>/<split>-<lang>.<ext>``; returns its path."""
    return _write(task, split, lang, predictions, out_dir, ids, gold=False)


def write_labels(
    task: str, split: str, lang: str, gold: Sequence, out_dir: str | Path, ids: Sequence | None = None
) -> Path:
    """Write what ``family.gold`` returned as the label file the scorer compares against."""
    return _write(task, split, lang, gold, out_dir, ids, gold=True)


def _write(task: str, split: str, lang: str, values: Sequence, out_dir: str | Path, ids, gold: bool) -> Path:
    if values is None:
        raise ValueError(f"{task} {split}-{lang}: no values to write (an unlabelled split has no gold)")
    if ids is not None and len(ids) != len(values):
        raise ValueError(f"{task} {split}-{lang}: {len(ids)} ids for {len(values)} rows")
    keys = [str(key) for key in ids] if ids is not None else [str(index) for index in range(len(values))]
    path = submission_path(out_dir, task, split, lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_encode(task, list(values), keys, gold), encoding="utf-8")
    return path


def _encode(task: str, values: list, keys: list[str], gold: bool) -> str:
    kind = submission_format(task)
    if kind == "label":
        labels = TASKS[task].labels
        as_index = TASKS[task].submission.labels_as_indices
        return "".join(f"{labels.index(value) if as_index else value}\n" for value in values)
    if kind == "choice":
        return "".join(json.dumps({"label": int(value)}) + "\n" for value in values)
    if kind == "tags":
        return "".join("".join(f"{tag}\n" for tag in tags) + "\n" for tags in values)
    if kind == "pairs":
        # A prediction is [source id, target id, margin]; gold is the pair. None: no pair.
        return "".join(f"{pair[0]}\t{pair[1]}\n" for pair in values if pair is not None)
    if kind == "squad_json":
        if not gold:
            return json.dumps(dict(zip(keys, values, strict=True)), ensure_ascii=False)
        qas = [
            {"id": key, "answers": [{"text": text} for text in answers]}
            for key, answers in zip(keys, values, strict=True)
        ]
        return json.dumps({"version": "1.1", "data": [{"paragraphs": [{"qas": qas}]}]}, ensure_ascii=False)
    if kind == "entities" and gold:
        return json.dumps({key: [entity] for key, entity in zip(keys, values, strict=True)}, ensure_ascii=False)
    # Rankings (and LAReQA's gold answer sets); rows that are no example (None) are left out.
    return json.dumps(
        {key: list(value) for key, value in zip(keys, values, strict=True) if value is not None}, ensure_ascii=False
    )


def _lines(path: Path) -> list[str]:
    # As evaluate.py reads a file: its lines (universal newlines), each stripped.
    with path.open(encoding="utf-8") as handle:
        return [line.strip() for line in handle]


def _tag_sentences(path: Path) -> list[list[str]]:
    """evaluate.py's ``read_tag``: a blank line ends a sentence (so two make an empty one)."""
    sentences, sentence = [], []
    for line in _lines(path):
        if line:
            sentence.append(line)
        else:
            sentences.append(sentence)
            sentence = []
    if sentence:
        sentences.append(sentence)
    return sentences


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise SubmissionError(f"{path}: not valid JSON ({error})") from None


def _json_lines(path: Path) -> list:
    labels = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            labels.append(json.loads(line)["label"])
        except (json.JSONDecodeError, TypeError, KeyError):
            raise SubmissionError(f'{path}: line {number} is not a JSON object with a "label"') from None
    return labels


def _rankings(path: Path) -> dict[str, list]:
    """A ranking file (Mewsli-X, LAReQA): a JSON object of lists keyed by example id."""
    data = _json(path)
    if not isinstance(data, dict) or not all(isinstance(value, list) for value in data.values()):
        raise SubmissionError(f"{path}: expected a JSON object of lists keyed by example id")
    return data


def _squad_questions(path: Path) -> list[tuple[str, list[str]]]:
    """Each question's id and gold answer texts, in file order (evaluate.py's read_squad)."""
    data = _json(path)
    articles = data["data"] if isinstance(data, dict) and "data" in data else data
    try:
        return [
            (qa["id"], [answer["text"] for answer in qa["answers"]])
            for article in articles
            for paragraph in article["paragraphs"]
            for qa in paragraph["qas"]
        ]
    except (TypeError, KeyError) as error:
        raise SubmissionError(f"{path}: not SQuAD v1.1 JSON (data → paragraphs → qas; missing {error})") from None


def _same_count(predicted: Sequence, expected: Sequence, prediction: Path, label: Path, what: str) -> None:
    if len(predicted) != len(expected):
        raise SubmissionError(f"{prediction}: {len(predicted)} {what}, expected {len(expected)} as in {label}")
    if not expected:
        raise SubmissionError(f"{label}: no {what} to score")


def score_file(task: str, prediction: str | Path, label: str | Path, lang: str) -> dict[str, float]:
    """The metrics of one prediction file against its label file, on the 0-100 scale."""
    prediction, label = Path(prediction), Path(label)
    kind = submission_format(task)
    if kind in ("label", "choice"):
        read = _lines if kind == "label" else _json_lines
        predicted, expected = read(prediction), read(label)
        _same_count(predicted, expected, prediction, label, "lines")
        return {"accuracy": 100 * accuracy(predicted, expected)}
    if kind == "tags":
        predicted, expected = _tag_sentences(prediction), _tag_sentences(label)
        _same_count(predicted, expected, prediction, label, "sentences")
        for number, (tags, gold_tags) in enumerate(zip(predicted, expected, strict=True), start=1):
            if len(tags) != len(gold_tags):
                raise SubmissionError(
                    f"{prediction}: sentence {number} has {len(tags)} tags, expected {len(gold_tags)} as in {label}"
                )
        return {metric: 100 * value for metric, value in tagging_scores(predicted, expected).items()}
    if kind == "pairs":
        pairs = [tuple(line.split("\t")) for line in _lines(prediction)]
        gold_pairs = [tuple(line.split("\t")) for line in _lines(label)]
        return {metric: 100 * value for metric, value in pair_f1(pairs, gold_pairs).items()}
    if kind == "squad_json":
        answers, questions = _json(prediction), _squad_questions(label)
        if not isinstance(answers, dict):
            raise SubmissionError(f"{prediction}: expected a JSON object of answers keyed by question id")
        if not questions:
            raise SubmissionError(f"{label}: no questions to score")
        mlqa = TASKS[task].settings.normalisation == "mlqa"  # the registry says, as for the family
        normalise = (lambda text: normalise_mlqa(text, lang)) if mlqa else normalise_squad
        predicted = [answers.get(question_id) for question_id, _ in questions]
        if any(answer is not None and not isinstance(answer, str) for answer in predicted):
            raise SubmissionError(f"{prediction}: expected an answer string per question id")
        scores = score_answers(predicted, [gold for _, gold in questions], normalise)
        return {metric: 100 * value for metric, value in scores.items()}
    rankings, expected = _rankings(prediction), _rankings(label)
    if not expected or not all(expected.values()):
        raise SubmissionError(f"{label}: expected a non-empty list of gold ids per example")
    if kind == "entities":
        # Each gold value is a one-entity list (evaluate.py takes its first, stripped).
        ranks = [reciprocal_rank_at_k(gold[0].strip(), rankings.get(key, [])) for key, gold in expected.items()]
        return {f"mrr_at_{TOP_K}": 100 * mean(ranks)}
    precisions = [average_precision_at_k(relevant, rankings.get(key, [])) for key, relevant in expected.items()]
    return {f"map_at_{TOP_K}": 100 * mean(precisions)}


def _files_of(folder: Path, task: str, split: str, benchmark: Benchmark) -> dict[str, Path]:
    """The task folder's prediction files of ``split`` in the benchmark's languages (for
    dev, also the other languages the task has dev data in), by language."""
    extension = EXTENSIONS[submission_format(task)]
    wanted = set(benchmark.languages[task]) | (set(TASKS[task].dev) if split == "dev" else set())
    known = set(TASKS[task].languages) | set(TASKS[task].dev) | set(TASKS[task].test)
    files = {}
    for path in sorted(folder.iterdir()):
        if not path.name.startswith(f"{split}-"):
            continue  # another split's files
        lang, _, suffix = path.name.removeprefix(f"{split}-").partition(".")
        if suffix != extension:
            raise SubmissionError(f"{path}: expected {split}-<lang>.{extension} for {task}")
        if lang not in known:
            raise SubmissionError(f"{path}: {lang!r} is not a language of {task}")
        if lang in wanted:
            files[lang] = path
    return files


def _averaged(task: str, per_language: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    scores: dict[str, dict[str, float]] = {}
    for lang, metrics in per_language.items():
        for metric, value in metrics.items():
            scores.setdefault(metric, {})[lang] = value
    for values in scores.values():
        values[AVERAGE] = sum(values.values()) / len(values)
    score_metrics = SCORE_METRICS[submission_format(task)]
    scores[TASK_SCORE] = {AVERAGE: sum(scores[metric][AVERAGE] for metric in score_metrics) / len(score_metrics)}
    return scores


def overall_scores(task_scores: Mapping[str, float], benchmark: str) -> dict[str, float]:
    """The benchmark's overall score (the mean of its tasks' scores) and each group's (the
    mean over the group's tasks), for those whose tasks all have a score in ``task_scores``."""
    definition = benchmark_of(benchmark)
    parts = {benchmark: tuple(definition.languages), **definition.groups}
    return {
        name: sum(task_scores[task] for task in tasks) / len(tasks)
        for name, tasks in parts.items()
        if all(task in task_scores for task in tasks)
    }


def score_folders(
    pred_dir: str | Path, label_dir: str | Path, benchmark: str = "xtreme-r", split: str = "test"
) -> dict[str, dict[str, dict[str, float]]]:
    """Score every task folder of ``pred_dir`` that belongs to ``benchmark`` and holds
    ``split`` files against ``label_dir``'s files of the same names (see the module
    docstring for what comes back). A task folder that is no target task, a prediction file
    without its label file, or a file that does not match its labels raises
    ``SubmissionError``; a language the prediction folder lacks is not scored."""
    definition = benchmark_of(benchmark)
    pred_dir, label_dir = Path(pred_dir), Path(label_dir)
    scores: dict[str, dict[str, dict[str, float]]] = {}
    complete: dict[str, float] = {}
    folders = {folder.name: folder for folder in pred_dir.iterdir() if folder.is_dir()}
    valid = [task.name for task in targets()]
    for name, folder in folders.items():
        if name not in valid:
            raise SubmissionError(f"{folder}: not a task folder; expected one of {', '.join(valid)}")
    for task in definition.languages:
        if task not in folders:
            continue
        files = _files_of(folders[task], task, split, definition)
        if not files:
            continue
        if not (label_dir / task).is_dir():
            raise SubmissionError(f"{label_dir / task}: missing; expected the gold labels of {task}")
        per_language = {}
        for lang, path in files.items():
            label = label_dir / task / path.name
            if not label.is_file():
                raise SubmissionError(f"{label}: missing; expected the gold labels that {path} is scored against")
            per_language[lang] = score_file(task, path, label, lang)
        scores[task] = _averaged(task, per_language)
        if split == "test" and set(definition.languages[task]) <= set(files):
            complete[task] = scores[task][TASK_SCORE][AVERAGE]
    overall = overall_scores(complete, benchmark)
    if overall:
        scores[OVERALL] = {TASK_SCORE: overall}
    return scores

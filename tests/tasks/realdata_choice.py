"""Convert the multiple-choice real-data samples (original formats) into the local mirror layout.

XCOPA's JSONL lines already carry the hub's columns. No English SIQA or COPA sample exists in
the fixtures, so the English training stages get real stand-ins in their hub columns:

- SIQA (``context, question, answerA..C, label`` "1".."3"): Cosmos QA dev records, which have a
  context, a question and four answers; the fourth answer is dropped, and so are the records
  whose gold answer it is.
- COPA (the columns XCOPA shares with it): XCOPA's Italian rows, test as COPA train and
  validation as COPA validation (the English dev set).

HellaSwag, CommonsenseQA and Cosmos QA samples are converted to their hub columns too, to
check that the family reads every multiple-choice layout.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tasks import Source, get_task, write_split

XCOPA_FILES = {"dev": "val", "test": "test"}
# Stand-in sources beside the registry's, in the hub layouts of the later intermediate tasks.
HELLASWAG = Source("hellaswag", "Rowan/hellaswag", "default", "validation")
COMMONSENSE_QA = Source("commonsense_qa", "tau/commonsense_qa", "default", "validation")
COSMOS_QA = Source("cosmos_qa", "allenai/cosmos_qa", "default", "validation")


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _cosmos_records(realdata: Path) -> list[dict]:
    with (realdata / "english" / "cosmos_qa" / "valid.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def convert_xcopa(realdata: Path, root: Path) -> None:
    """XCOPA ``data/<lang>/{val,test}.<lang>.jsonl`` → validation and test per language."""
    xcopa = get_task("xcopa")
    for split, sources in (("dev", xcopa.dev), ("test", xcopa.test)):
        for lang in xcopa.languages:
            name = XCOPA_FILES[split]
            write_split(sources[lang], root, _jsonl(realdata / "xcopa" / "data" / lang / f"{name}.{lang}.jsonl"))


def convert_copa_stand_in(realdata: Path, root: Path) -> None:
    xcopa = get_task("xcopa")
    folder = realdata / "xcopa" / "data" / "it"
    write_split(xcopa.then_train, root, _jsonl(folder / "test.it.jsonl"))
    write_split(xcopa.dev["en"], root, _jsonl(folder / "val.it.jsonl"))


def convert_siqa_stand_in(realdata: Path, root: Path) -> None:
    rows = [
        {
            "context": record["context"],
            "question": record["question"],
            "answerA": record["answer0"],
            "answerB": record["answer1"],
            "answerC": record["answer2"],
            "label": str(int(record["label"]) + 1),
        }
        for record in _cosmos_records(realdata)
        if record["label"] != "3"
    ]
    write_split(get_task("xcopa").train, root, rows)


def convert_hellaswag(realdata: Path, root: Path) -> Source:
    """HellaSwag's original JSONL → the hub's columns, whose label is a string."""
    rows = _jsonl(realdata / "english" / "hellaswag" / "hellaswag_val.jsonl")
    write_split(HELLASWAG, root, [{**row, "label": str(row["label"])} for row in rows])
    return HELLASWAG


def commonsense_qa_rows(path: Path) -> list[dict]:
    """CommonsenseQA's nested JSONL → the hub's flat columns, choices a struct of lists."""
    return [
        {
            "id": row["id"],
            "question": row["question"]["stem"],
            "question_concept": row["question"]["question_concept"],
            "choices": {
                "label": [choice["label"] for choice in row["question"]["choices"]],
                "text": [choice["text"] for choice in row["question"]["choices"]],
            },
            "answerKey": row["answerKey"],
        }
        for row in _jsonl(path)
    ]


def convert_commonsense_qa(realdata: Path, root: Path) -> Source:
    write_split(
        COMMONSENSE_QA, root, commonsense_qa_rows(realdata / "english" / "commonsense_qa" / "dev_rand_split.jsonl")
    )
    return COMMONSENSE_QA


def convert_cosmos_qa(realdata: Path, root: Path) -> Source:
    """Cosmos QA's CSV → the hub's columns, with an int label."""
    rows = [{**record, "label": int(record["label"])} for record in _cosmos_records(realdata)]
    write_split(COSMOS_QA, root, rows)
    return COSMOS_QA


def convert_all(realdata: Path, root: Path) -> Path:
    for convert in (convert_xcopa, convert_copa_stand_in, convert_siqa_stand_in):
        convert(realdata, root)
    return root

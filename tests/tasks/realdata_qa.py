"""Convert the real SQuAD-format samples (XQuAD, MLQA, TyDiQA-GoldP) into the local mirror
layout, with the hub's columns. Test helpers: the originals are read in place.

What the samples hold decides a few stand-ins, each named where it is made:
``xquad.en.json`` is a subset of SQuAD v1.1 dev and serves as SQuAD's train split; the
XTREME mock gold files are MLQA's only same-language (mlqa.<lang>.<lang>) rows, so they
serve as both its validation and test splits; and TyDiQA's train sample is Finnish only,
so XTREME's English mock gold row joins it for the English-only training to keep.
"""

from __future__ import annotations

import json
from pathlib import Path

from tasks import get_task, write_split


def squad_rows(path: Path, with_title: bool) -> list[dict]:
    """One row per question of a SQuAD v1.1 JSON file, in the hub's layout."""
    rows = []
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                row = {"id": qa["id"]}
                if with_title:
                    # One article of the TyDiQA train sample has lost its title.
                    row["title"] = article.get("title", "")
                row |= {
                    "context": paragraph["context"],
                    "question": qa["question"],
                    "answers": {
                        "text": [answer["text"] for answer in qa["answers"]],
                        "answer_start": [answer["answer_start"] for answer in qa["answers"]],
                    },
                }
                rows.append(row)
    return rows


def convert_xquad(realdata: Path, root: Path) -> None:
    """XQuAD en/de/zh → google/xquad validation; xquad.en also → SQuAD's train split."""
    xquad = get_task("xquad")
    folder = realdata / "xquad"
    for lang in ("en", "de", "zh"):
        write_split(xquad.dev[lang], root, squad_rows(folder / f"xquad.{lang}.json", with_title=False))
    write_split(xquad.train, root, squad_rows(folder / "xquad.en.json", with_title=True))


def convert_mlqa(realdata: Path, root: Path) -> None:
    mlqa = get_task("mlqa")
    for lang in mlqa.languages:
        rows = squad_rows(realdata / "mlqa" / "xtreme_mock_test_data_labels" / f"test-{lang}.json", with_title=False)
        write_split(mlqa.dev[lang], root, rows)
        write_split(mlqa.test[lang], root, rows)


def convert_tydiqa(realdata: Path, root: Path) -> None:
    """TyDiQA-GoldP → the secondary_task train and validation splits, every language in each."""
    tydiqa = get_task("tydiqa")
    folder = realdata / "tydiqa"
    mock = folder / "xtreme_mock_test_data_labels"
    train = squad_rows(folder / "tydiqa-goldp-v1.1-train.json", with_title=True)
    train += squad_rows(mock / "test-en.json", with_title=True)
    write_split(tydiqa.train, root, train)
    validation = {row["id"]: row for row in squad_rows(folder / "tydiqa-goldp-v1.1-dev.json", with_title=True)}
    for lang in tydiqa.languages:
        validation |= {row["id"]: row for row in squad_rows(mock / f"test-{lang}.json", with_title=True)}
    write_split(tydiqa.dev["en"], root, validation.values())


def convert_all(realdata: Path, root: Path) -> Path:
    for convert in (convert_xquad, convert_mlqa, convert_tydiqa):
        convert(realdata, root)
    return root

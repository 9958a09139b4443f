"""Convert the real-data samples (original formats) into the local mirror layout.

These converters are test helpers: the original files are read in place and written to a
temporary folder, never into the project.
"""

from __future__ import annotations

import csv
from pathlib import Path

from tasks import get_task, write_split
from tasks.catalog.classification import NLI_LABELS


def _tsv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def convert_xnli(realdata: Path, root: Path) -> None:
    """XNLI-1.0 dev/test TSV (all languages in one file) → one file per language, hub columns."""
    xnli = get_task("xnli")
    for split, sources in (("dev", xnli.dev), ("test", xnli.test)):
        by_lang: dict[str, list[dict]] = {}
        for row in _tsv(realdata / "xnli" / "XNLI-1.0" / f"xnli.{split}.tsv"):
            by_lang.setdefault(row["language"], []).append(
                {
                    "premise": row["sentence1"],
                    "hypothesis": row["sentence2"],
                    "label": NLI_LABELS.index(row["gold_label"]),
                }
            )
        for lang, rows in by_lang.items():
            write_split(sources[lang], root, rows)


def convert_mnli(realdata: Path, root: Path) -> None:
    """GLUE MNLI TSV → the glue/mnli train and validation_matched splits."""
    mnli = get_task("mnli")
    folder = realdata / "english" / "glue_mnli" / "MNLI"
    for name, source in (("train", mnli.train), ("dev_matched", mnli.dev["en"])):
        rows = [
            {"premise": r["sentence1"], "hypothesis": r["sentence2"], "label": NLI_LABELS.index(r["gold_label"])}
            for r in _tsv(folder / f"{name}.tsv")
        ]
        write_split(source, root, rows)


def convert_qqp(realdata: Path, root: Path) -> None:
    qqp = get_task("qqp")
    folder = realdata / "english" / "glue_qqp" / "QQP"
    for name, source in (("train", qqp.train), ("dev", qqp.dev["en"])):
        rows = [
            {"question1": r["question1"], "question2": r["question2"], "label": int(r["is_duplicate"])}
            for r in _tsv(folder / f"{name}.tsv")
        ]
        write_split(source, root, rows)


def convert_pawsx(realdata: Path, root: Path) -> None:
    """PAWS-X x-final TSVs → train (English), validation and test per language."""
    pawsx = get_task("pawsx")
    folder = realdata / "pawsx" / "x-final"
    for lang in pawsx.languages:
        files = {"dev_2k.tsv": pawsx.dev[lang], "test_2k.tsv": pawsx.test[lang]}
        if lang == "en":
            files["train.tsv"] = pawsx.train
        for name, source in files.items():
            rows = [
                {"sentence1": r["sentence1"], "sentence2": r["sentence2"], "label": int(r["label"])}
                for r in _tsv(folder / lang / name)
            ]
            write_split(source, root, rows)


def convert_all(realdata: Path, root: Path) -> Path:
    for convert in (convert_xnli, convert_mnli, convert_qqp, convert_pawsx):
        convert(realdata, root)
    return root


def convert_every_task(realdata: Path, root: Path) -> Path:
    """Every family's samples (and the documented stand-ins) into one mirror, as a sweep over
    all target families reads it."""
    from tests.tasks import (
        realdata_choice,
        realdata_intermediates,
        realdata_qa,
        realdata_retrieval,
        realdata_tagging,
    )

    convert_all(realdata, root)
    for family in (realdata_choice, realdata_qa, realdata_tagging, realdata_intermediates):
        family.convert_all(realdata, root)
    realdata_retrieval.convert_tatoeba(realdata, root)
    realdata_retrieval.convert_bucc(realdata_retrieval.write_bucc_standin(realdata, root / "bucc-files"), root)
    realdata_retrieval.convert_lareqa(realdata, root)
    return root

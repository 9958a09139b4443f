"""Convert the English real-data samples (original formats) into the local mirror layout of
the intermediate tasks, with the hub's columns. Test helpers: the originals are read in place.

What the samples lack decides a few stand-ins, each named where it is made:

- SNLI has no sample; MultiNLI 1.0's JSONL, which is SNLI 1.0's own format, stands in.
- SQuAD v1.1: XQuAD's English file, a subset of SQuAD v1.1 dev, serves as train and validation
  (its first questions).
- SQuAD v2.0: the dev sample's two questions are answerable; unanswerable ones are made by
  asking XQuAD English's questions (on Super Bowl 50) of the sample's Normans paragraph.
- SIQA and COPA: realdata_choice's stand-ins (Cosmos QA and Italian XCOPA rows); SIQA's
  rows are its validation split too.
- CCG: CCGbank is licensed. CCG_STANDIN holds a few sentences written for these tests and
  tagged by hand with CCGbank-style categories, in the CoNLL-like layout supertaggers read (a
  word and its category per line, a blank line after each sentence).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tasks import get_task, load_split, write_split
from tasks.catalog.classification import NLI_LABELS
from tests.tasks.realdata_choice import commonsense_qa_rows, convert_copa_stand_in, convert_siqa_stand_in
from tests.tasks.realdata_qa import squad_rows

ANLI_LABELS = {"e": 0, "n": 1, "c": 2}
# Six sentences to train on, then three for validation whose categories (conj, the to-infinitive)
# the training sentences never use.
CCG_STANDIN = """\
The\tNP[nb]/N
cat\tN
sat\tS[dcl]\\NP
on\t((S\\NP)\\(S\\NP))/NP
the\tNP[nb]/N
mat\tN
.\t.

She\tNP
reads\t(S[dcl]\\NP)/NP
old\tN/N
books\tN
.\t.

Dogs\tN
bark\tS[dcl]\\NP
loudly\t(S\\NP)\\(S\\NP)
at\t((S\\NP)\\(S\\NP))/NP
night\tN
.\t.

The\tNP[nb]/N
teacher\tN
gave\t((S[dcl]\\NP)/NP)/NP
the\tNP[nb]/N
children\tN
a\tNP[nb]/N
book\tN
.\t.

He\tNP
thinks\t(S[dcl]\\NP)/S[em]
that\tS[em]/S[dcl]
it\tNP
will\t(S[dcl]\\NP)/(S[b]\\NP)
rain\tS[b]\\NP
.\t.

A\tNP[nb]/N
small\tN/N
bird\tN
sang\tS[dcl]\\NP
in\t((S\\NP)\\(S\\NP))/NP
the\tNP[nb]/N
garden\tN
.\t.

They\tNP
will\t(S[dcl]\\NP)/(S[b]\\NP)
arrive\tS[b]\\NP
tomorrow\t(S\\NP)\\(S\\NP)
.\t.

We\tNP
saw\t(S[dcl]\\NP)/NP
the\tNP[nb]/N
film\tN
and\tconj
liked\t(S[dcl]\\NP)/NP
it\tNP
.\t.

The\tNP[nb]/N
old\tN/N
man\tN
wants\t(S[dcl]\\NP)/(S[to]\\NP)
to\t(S[to]\\NP)/(S[b]\\NP)
sleep\tS[b]\\NP
.\t.
"""
CCG_TRAIN_SENTENCES = 6


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _tsv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def _csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def convert_anli(realdata: Path, root: Path) -> None:
    """ANLI v0.1 R1-R3 JSONL → facebook/anli's train_r1..r3 and dev_r3 splits."""
    anli = get_task("anli")
    folder = realdata / "english" / "anli" / "anli_v0.1"
    files = {source: folder / f"R{n}" / "train.jsonl" for n, source in enumerate(anli.train_with[:3], 1)}
    files[anli.dev["en"]] = folder / "R3" / "dev.jsonl"
    for source, path in files.items():
        rows = [
            {
                "uid": row["uid"],
                "premise": row["context"],
                "hypothesis": row["hypothesis"],
                "label": ANLI_LABELS[row["label"]],
                "reason": row["reason"],
            }
            for row in _jsonl(path)
        ]
        write_split(source, root, rows)


def convert_snli_stand_in(realdata: Path, root: Path) -> None:
    """MultiNLI 1.0 train JSONL → stanfordnlp/snli's train split; a pair without a gold label
    ("-") is -1, as the hub marks SNLI's."""
    rows = [
        {
            "premise": row["sentence1"],
            "hypothesis": row["sentence2"],
            "label": NLI_LABELS.index(row["gold_label"]) if row["gold_label"] in NLI_LABELS else -1,
        }
        for row in _jsonl(realdata / "english" / "multinli" / "multinli_1.0" / "multinli_1.0_train.jsonl")
    ]
    write_split(get_task("anli").train, root, rows)


def convert_glue(realdata: Path, root: Path) -> None:
    """GLUE's MNLI, QQP and SST-2 TSVs → nyu-mll/glue's train and validation splits: the hub's
    text columns (from the TSV's), label and idx."""
    folder = realdata / "english"
    nli = {"premise": "sentence1", "hypothesis": "sentence2"}
    tables = {
        "mnli": (folder / "glue_mnli" / "MNLI", "dev_matched", nli, lambda r: NLI_LABELS.index(r["gold_label"])),
        "qqp": (folder / "glue_qqp" / "QQP", "dev", {"question1": "question1", "question2": "question2"},
                lambda r: int(r["is_duplicate"])),
        "sst2": (folder / "glue_sst2" / "SST-2", "dev", {"sentence": "sentence"}, lambda r: int(r["label"])),
    }  # fmt: skip
    for name, (path, dev, text, label) in tables.items():
        task = get_task(name)
        for file, source in (("train", task.train), (dev, task.dev["en"])):
            rows = [
                {**{hub: row[tsv] for hub, tsv in text.items()}, "label": label(row), "idx": index}
                for index, row in enumerate(_tsv(path / f"{file}.tsv"))
            ]
            write_split(source, root, rows)


def convert_squad(realdata: Path, root: Path) -> None:
    squad = get_task("squad")
    # XQuAD's first 16 questions: the QA family's own tests read all 97, these need a few.
    rows = squad_rows(realdata / "xquad" / "xquad.en.json", with_title=True)[:16]
    write_split(squad.train, root, rows)
    write_split(squad.dev["en"], root, rows)


def convert_squad_v2(realdata: Path, root: Path) -> None:
    """The SQuAD v2.0 dev sample, with unanswerable stand-ins, as train and validation."""
    squad_v2 = get_task("squad_v2")
    real = squad_rows(realdata / "english" / "squad_v2" / "dev-v2.0.json", with_title=True)
    answerable = squad_rows(realdata / "xquad" / "xquad.en.json", with_title=True)
    normans = real[0]
    unanswerable = [
        {
            **row,
            "id": f"{row['id']}-asked-of-normans",
            "title": normans["title"],
            "context": normans["context"],
            "answers": {"text": [], "answer_start": []},
        }
        for row in answerable[:12]
    ]
    write_split(squad_v2.train, root, real + answerable[12:24] + unanswerable[:8])
    write_split(squad_v2.dev["en"], root, real + unanswerable[8:])


def convert_hellaswag(realdata: Path, root: Path) -> None:
    """HellaSwag's original JSONL → the hub's columns, whose label is a string."""
    hellaswag = get_task("hellaswag")
    folder = realdata / "english" / "hellaswag"
    for name, source in (("train", hellaswag.train), ("val", hellaswag.dev["en"])):
        rows = _jsonl(folder / f"hellaswag_{name}.jsonl")
        write_split(source, root, [{**row, "label": str(row["label"])} for row in rows])


def convert_commonsense_qa(realdata: Path, root: Path) -> None:
    commonsenseqa = get_task("commonsenseqa")
    folder = realdata / "english" / "commonsense_qa"
    for name, source in (("train", commonsenseqa.train), ("dev", commonsenseqa.dev["en"])):
        write_split(source, root, commonsense_qa_rows(folder / f"{name}_rand_split.jsonl"))


def convert_cosmos_qa(realdata: Path, root: Path) -> None:
    """Cosmos QA's CSVs → the hub's columns, with an int label."""
    cosmosqa = get_task("cosmosqa")
    folder = realdata / "english" / "cosmos_qa"
    for name, source in (("train", cosmosqa.train), ("valid", cosmosqa.dev["en"])):
        write_split(source, root, [{**row, "label": int(row["label"])} for row in _csv(folder / f"{name}.csv")])


def convert_siqa_and_copa(realdata: Path, root: Path) -> None:
    convert_siqa_stand_in(realdata, root)
    convert_copa_stand_in(realdata, root)
    siqa = get_task("siqa")
    write_split(siqa.dev["en"], root, load_split(siqa.train, str(root)))


def ccg_sentences(text: str) -> list[dict]:
    """CoNLL-like lines (word, tab, category; a blank line ends a sentence) → rows of the
    local layout, {"tokens": [...], "tags": [...]}."""
    rows = []
    for block in text.strip().split("\n\n"):
        words, tags = zip(*(line.split("\t") for line in block.splitlines()), strict=True)
        rows.append({"tokens": list(words), "tags": list(tags)})
    return rows


def convert_ccg_stand_in(root: Path) -> None:
    ccg = get_task("ccg")
    rows = ccg_sentences(CCG_STANDIN)
    write_split(ccg.train, root, rows[:CCG_TRAIN_SENTENCES])
    write_split(ccg.dev["en"], root, rows[CCG_TRAIN_SENTENCES:])


def convert_all(realdata: Path, root: Path) -> Path:
    for convert in (
        convert_anli,
        convert_snli_stand_in,
        convert_glue,
        convert_squad,
        convert_squad_v2,
        convert_hellaswag,
        convert_commonsense_qa,
        convert_cosmos_qa,
        convert_siqa_and_copa,
    ):
        convert(realdata, root)
    convert_ccg_stand_in(root)
    return root

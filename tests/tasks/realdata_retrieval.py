"""Convert the real-data samples into the retrieval tasks' local mirror layout, and build
the documented stand-ins where no real sample exists (BUCC, Mewsli-X).

Test helpers: the original files are read in place and written to a temporary folder,
never into the project.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from tasks import get_task, write_split
from tasks.catalog.retrieval import TATOEBA_CODES
from tasks.families.retrieval_rows import bucc_rows, lareqa_rows

LAREQA_SAMPLE_LANGUAGES = ("en", "de", "ar", "zh")


def _lines(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return handle.readlines()


def convert_tatoeba(realdata: Path, root: Path) -> list[str]:
    """LASER's ``tatoeba.<xxx>-eng.{xxx,eng}`` line pairs → google/xtreme's rows (whose
    script kept each line's newline). Returns the languages converted."""
    tatoeba = get_task("tatoeba")
    converted = []
    for lang, code in TATOEBA_CODES.items():
        folder = realdata / "tatoeba"
        if not (folder / f"tatoeba.{code}-eng.{code}").is_file():
            continue
        sources = _lines(folder / f"tatoeba.{code}-eng.{code}")
        targets = _lines(folder / f"tatoeba.{code}-eng.eng")
        rows = [
            {"source_sentence": s, "target_sentence": t, "source_lang": code, "target_lang": "eng"}
            for s, t in zip(sources, targets, strict=True)
        ]
        write_split(tatoeba.dev[lang], root, rows)
        converted.append(lang)
    return converted


def write_bucc_standin(realdata: Path, folder: Path) -> dict[str, Path]:
    """A BUCC stand-in in BUCC's own file format (``<lang>-en.<split>.<side>`` with
    ``id<TAB>sentence`` lines, ``<lang>-en.<split>.gold`` with ``xx-id<TAB>en-id``), from real
    Tatoeba lines: for each of de, fr, zh (ru has no Tatoeba sample) the first 50 line pairs
    make the dev (BUCC's sample) set and the next 50 the test set. In each, a fifth of the
    pairs lose their English side and another fifth their xx side: sentences with no
    translation, as BUCC's comparable corpora are mostly made of. Ids are shuffled, so
    neither order nor id gives a pair away. Returns each language's folder prefix."""
    prefixes = {}
    for lang, code in (("de", "deu"), ("fr", "fra"), ("zh", "cmn")):
        sources = _lines(realdata / "tatoeba" / f"tatoeba.{code}-eng.{code}")
        targets = _lines(realdata / "tatoeba" / f"tatoeba.{code}-eng.eng")
        prefix = folder / f"{lang}-en"
        for split, lines in (("dev", range(0, 50)), ("test", range(50, 100))):
            shuffle = random.Random(f"{lang}{split}")
            source_ids = shuffle.sample(range(100_000, 999_999), len(lines))
            target_ids = shuffle.sample(range(100_000, 999_999), len(lines))
            side, gold = {lang: [], "en": []}, []
            for n, line in enumerate(lines):
                source_id, target_id = f"{lang}-{source_ids[n]:09d}", f"en-{target_ids[n]:09d}"
                if n % 5 != 1:
                    side[lang].append(f"{source_id}\t{sources[line].strip()}\n")
                if n % 5 != 2:
                    side["en"].append(f"{target_id}\t{targets[line].strip()}\n")
                if n % 5 not in (1, 2):
                    gold.append(f"{source_id}\t{target_id}\n")
            for name, lines_out in (*side.items(), ("gold", gold)):
                shuffle.shuffle(lines_out)
                Path(f"{prefix}.{split}.{name}").parent.mkdir(parents=True, exist_ok=True)
                Path(f"{prefix}.{split}.{name}").write_text("".join(lines_out), encoding="utf-8")
        prefixes[lang] = prefix
    return prefixes


def convert_bucc(prefixes: dict[str, Path], root: Path) -> None:
    """BUCC's files (here the stand-in's) → the mirror rows, dev from the sample set and
    test from the training set, as XTREME splits them."""
    bucc = get_task("bucc2018")
    for lang, prefix in prefixes.items():
        for split, sources in (("dev", bucc.dev), ("test", bucc.test)):
            files = {name: _lines(Path(f"{prefix}.{split}.{name}")) for name in (lang, "en", "gold")}
            write_split(sources[lang], root, bucc_rows(bucc, files[lang], files["en"], files["gold"]))


def convert_lareqa(realdata: Path, root: Path) -> None:
    """XQuAD-R files of the sample's four languages → one file per language, each with the
    four-language pool; SQuAD v1.1-format English (XQuAD's, a SQuAD dev subset) → the
    rajpurkar/squad training rows."""
    lareqa = get_task("lareqa")
    xquad_r = {
        lang: json.loads((realdata / "lareqa" / "xquad-r" / f"{lang}.json").read_text(encoding="utf-8"))
        for lang in LAREQA_SAMPLE_LANGUAGES
    }
    for lang in LAREQA_SAMPLE_LANGUAGES:
        write_split(lareqa.dev[lang], root, lareqa_rows(xquad_r, lang))
    write_split(lareqa.train, root, _squad_rows(realdata / "xquad" / "xquad.en.json"))


def _squad_rows(path: Path) -> list[dict]:
    squad = json.loads(path.read_text(encoding="utf-8"))
    return [
        {
            "id": qa["id"],
            "title": article["title"],
            "context": paragraph["context"],
            "question": qa["question"],
            "answers": {
                "text": [answer["text"] for answer in qa["answers"]],
                "answer_start": [answer["answer_start"] for answer in qa["answers"]],
            },
        }
        for article in squad["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]


MEWSLIX_SAMPLE_LANGUAGES = ("ar", "de", "en")


def convert_mewslix_standin(realdata: Path, root: Path) -> None:
    """A Mewsli-X stand-in in Mewsli-X's JSON records, from real XQuAD-R text: each English
    paragraph is a candidate entity (its description, with XQuAD-R's sentence spans); each
    answer span of a question is a mention of the entity of its paragraph, in context (the
    paragraph in the question's language). Mentions in ar, de and en are the dev and test
    wikinews mentions (alternately); English mentions are also the training pairs."""
    mewslix = get_task("mewslix")
    files = {
        lang: json.loads((realdata / "lareqa" / "xquad-r" / f"{lang}.json").read_text(encoding="utf-8"))
        for lang in MEWSLIX_SAMPLE_LANGUAGES
    }
    entities = []
    for number, paragraph in enumerate(_paragraphs(files["en"])):
        entities.append(
            {
                "entity_id": f"Q{900_000 + number}",
                "title": paragraph["context"].split(".")[0][:40],
                "description": paragraph["context"],
                "sentence_spans": [{"start": s, "end": e} for s, e in paragraph["sentence_breaks"]],
                "description_language": "en",
                "description_url": f"https://en.wikipedia.org/wiki/Stand-in_{number}",
            }
        )
    write_split(mewslix.settings.candidates, root, entities)
    training = []
    for lang, squad in files.items():
        splits: dict[str, list] = {"validation": [], "test": []}
        for number, paragraph in enumerate(_paragraphs(squad)):
            context = {
                "document_title": entities[number]["title"],
                "document_url": f"https://{lang}.wikinews.org/wiki/Stand-in_{number}",
                "document_id": f"stand-in-{lang}-{number}",
                "language": lang,
                "text": paragraph["context"],
                "sentence_spans": [{"start": s, "end": e} for s, e in paragraph["sentence_breaks"]],
            }
            for n, qa in enumerate(paragraph["qas"]):
                answer = qa["answers"][0]
                span = {
                    "start": answer["answer_start"],
                    "end": answer["answer_start"] + len(answer["text"]),
                    "text": answer["text"],
                }
                mention = {
                    "example_id": f"{lang}-{qa['id']}",
                    "mention_span": span,
                    "entity_id": f"Q{900_000 + number}",
                }
                splits["validation" if n % 2 == 0 else "test"].append({"context": context, "mention": mention})
                if lang == "en":
                    training.append(
                        {"contextual_mention": {"context": context, "mention": mention}, "entity": entities[number]}
                    )
        for split, rows in splits.items():
            source = mewslix.dev[lang] if split == "validation" else mewslix.test[lang]
            write_split(source, root, rows)
    write_split(mewslix.train, root, training)


def _paragraphs(squad: dict) -> list[dict]:
    return [paragraph for article in squad["data"] for paragraph in article["paragraphs"]]

"""Convert the UD CoNLL-U and PAN-X samples into the local mirror layout (test helpers).

The originals are read in place and written, in the hub's columns, to a temporary folder.
"""

from __future__ import annotations

from pathlib import Path

from tasks import get_task, write_split
from tasks.catalog.tagging import PANX_TAGS, UD_UPOS_TAGS, UPOS_TAGS

UDPOS_SAMPLES = {"de": "de_gsd-ud-dev.conllu", "en": "en_ewt-ud-dev.conllu", "zh": "zh_gsd-ud-dev.conllu"}


def conllu_sentences(path: Path) -> list[list[list[str]]]:
    """Every sentence as its entry lines split into the ten CoNLL-U fields, comments left out."""
    sentences, entries = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if entries:
                sentences.append(entries)
            entries = []
        elif not line.startswith("#"):
            entries.append(line.split("\t"))
    if entries:
        sentences.append(entries)
    return sentences


def _is_word(entry: list[str]) -> bool:
    # A multiword-token range ("4-5") spans words listed after it; an empty node ("8.1") is
    # no surface word. XTREME's conversion drops both.
    return "-" not in entry[0] and "." not in entry[0]


def xtreme_udpos_row(sentence: list[list[str]]) -> dict:
    """google/xtreme's udpos columns: the words and their UPOS as ClassLabel indices."""
    words = [entry for entry in sentence if _is_word(entry)]
    return {"tokens": [entry[1] for entry in words], "pos_tags": [UPOS_TAGS.index(entry[3]) for entry in words]}


def universal_dependencies_row(sentence: list[list[str]]) -> dict:
    """universal_dependencies' columns, as its loader fills them: every entry (ranges and empty
    nodes too), UPOS as indices into its own ClassLabel, and a head of "None" where none is set."""
    return {
        "tokens": [entry[1] for entry in sentence],
        "upos": [UD_UPOS_TAGS.index(entry[3]) for entry in sentence],
        "head": ["None" if entry[6] == "_" else entry[6] for entry in sentence],
    }


def convert_udpos(realdata: Path, root: Path) -> None:
    """The de, en and zh dev samples; the English one also stands in for the training split,
    of which the samples hold none."""
    udpos = get_task("udpos")
    for lang, name in UDPOS_SAMPLES.items():
        rows = [xtreme_udpos_row(sentence) for sentence in conllu_sentences(realdata / "udpos" / name)]
        write_split(udpos.dev[lang], root, rows)
        if lang == "en":
            write_split(udpos.train, root, rows)


def panx_rows(path: Path, lang: str) -> list[dict]:
    """PAN-X ``lang:token<TAB>tag`` lines, a blank line between sentences → google/xtreme's columns."""
    rows, tokens, tags = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if line.strip():
            word, tag = line.rsplit("\t", 1)
            # The language prefix ends at the first colon; the token may hold colons itself.
            tokens.append(word.split(":", 1)[1])
            tags.append(PANX_TAGS.index(tag.strip()))
        elif tokens:
            rows.append({"tokens": tokens, "ner_tags": tags, "langs": [lang] * len(tokens)})
            tokens, tags = [], []
    return rows


def convert_panx(realdata: Path, root: Path) -> list[str]:
    """dev and test of every sample language, and the English train; returns the languages."""
    panx = get_task("panx")
    languages = sorted(path.name for path in (realdata / "panx").iterdir() if path.is_dir())
    for lang in languages:
        folder = realdata / "panx" / lang
        write_split(panx.dev[lang], root, panx_rows(folder / "dev", lang))
        write_split(panx.test[lang], root, panx_rows(folder / "test", lang))
    write_split(panx.train, root, panx_rows(realdata / "panx" / "en" / "train", "en"))
    return languages


def convert_all(realdata: Path, root: Path) -> Path:
    convert_udpos(realdata, root)
    convert_panx(realdata, root)
    return root

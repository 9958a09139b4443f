"""BUCC and LAReQA are scored on their full candidate pools, built from the official files
(the hub's copies hold the gold pairs alone, or no sentence breaks): with the real samples,
the number of candidates the scorer embeds is the number of sentences the files hold,
counted here from the files themselves."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from datasets import Dataset

from tasks import get_task, load_split
from tasks.families.retrieval_rows import lareqa_rows
from tasks.families.retrieval_setups import Answer, Mining
from tests.tasks.realdata_retrieval import LAREQA_SAMPLE_LANGUAGES, convert_bucc, write_bucc_standin


class CountingEmbedding:
    """Embeds texts as normalised character-trigram counts (deterministic, no model), and
    records how many texts each call embedded: the sizes of what the scorer compared."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def __call__(self, texts: Sequence[str], pairs: Sequence[str] | None = None) -> np.ndarray:
        self.sizes.append(len(texts))
        vectors = np.zeros((len(texts), 512), dtype=np.float32)
        for row, text in enumerate(texts):
            for i in range(max(len(text) - 2, 1)):
                vectors[row, hash(text[i : i + 3]) % 512] += 1.0
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-6)


def test_lareqa_ranks_every_languages_sentences(realdata: Path) -> None:
    files = {
        lang: json.loads((realdata / "lareqa" / "xquad-r" / f"{lang}.json").read_text(encoding="utf-8"))
        for lang in LAREQA_SAMPLE_LANGUAGES
    }
    paragraphs = {lang: [p for a in squad["data"] for p in a["paragraphs"]] for lang, squad in files.items()}
    # Every paragraph of the sample has questions: the pool is every sentence of every file.
    assert all(p["qas"] for ps in paragraphs.values() for p in ps)
    sentences = sum(len(p["sentence_breaks"]) for ps in paragraphs.values() for p in ps)
    questions = sum(len(p["qas"]) for p in paragraphs["de"])

    lareqa = get_task("lareqa")
    rows = Dataset.from_list(lareqa_rows(files, "de"))
    embed = CountingEmbedding()
    predictions = Answer().predict(rows, lareqa, embed, "de", data="unused")
    pool, asked = embed.sizes
    print(f"LAReQA de: {asked} questions ranked against a pool of {pool} sentences in 4 languages")
    assert pool == sentences
    # Not German's sentences alone: all four languages' (segmented each in its own way).
    assert pool > 3 * sum(len(p["sentence_breaks"]) for p in paragraphs["de"])
    assert asked == questions == 97
    ranked = [p for p in predictions if p is not None]
    assert len(ranked) == asked and {uid.split("_")[0] for p in ranked for uid in p} > {"de"}


def test_bucc_mines_among_every_sentence_of_both_sides(realdata: Path, tmp_path: Path) -> None:
    prefixes = write_bucc_standin(realdata, tmp_path / "bucc")
    mirror = tmp_path / "mirror"
    convert_bucc(prefixes, mirror)

    def count(path: Path) -> int:
        return len([line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()])

    bucc = get_task("bucc2018")
    rows = load_split(bucc.test["de"], str(mirror))
    embed = CountingEmbedding()
    Mining().predict(rows, bucc, embed, "de", data=str(mirror))
    test_de, test_en, dev_de, dev_en = embed.sizes
    gold = count(Path(f"{prefixes['de']}.test.gold"))
    print(f"BUCC de-en test: {test_de} German and {test_en} English sentences mined, {gold} gold pairs among them")
    assert (test_de, test_en) == (count(Path(f"{prefixes['de']}.test.de")), count(Path(f"{prefixes['de']}.test.en")))
    assert (dev_de, dev_en) == (count(Path(f"{prefixes['de']}.dev.de")), count(Path(f"{prefixes['de']}.dev.en")))
    # More sentences than gold pairs on each side: the distractors are in the pool.
    assert min(test_de, test_en) > gold

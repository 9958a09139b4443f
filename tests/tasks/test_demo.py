import random
from collections import Counter
from pathlib import Path

from tasks import get_task, load_split
from tasks.demo import LEXICON, nli_example, paws_example, write_demo_data


def test_demo_data_is_deterministic(tmp_path: Path) -> None:
    write_demo_data(tmp_path / "a")
    write_demo_data(tmp_path / "b")
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.jsonl"))
    assert files
    for path in files:
        assert (tmp_path / "a" / path).read_bytes() == (tmp_path / "b" / path).read_bytes()


def test_labels_are_balanced_and_valid(demo_data: Path) -> None:
    rows = load_split(get_task("mnli").train, str(demo_data))
    counts = Counter(rows["label"])
    assert set(counts) == {0, 1, 2}
    assert min(counts.values()) > 0.25 * len(rows)


def test_each_language_uses_its_own_words() -> None:
    rng = random.Random(0)
    for lang, words in LEXICON.items():
        text = " ".join(nli_example(rng, lang)["premise"] + paws_example(rng, lang)["sentence1"] for _ in range(20))
        assert any(verb in text for verb in words["verbs"])
        others = [w for other, lex in LEXICON.items() if other != lang for w in lex["objects"]]
        own = set(words["objects"])
        assert not any(f" {w}" in text for w in others if w not in own)

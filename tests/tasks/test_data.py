from pathlib import Path

from tasks import fingerprint, get_task, is_present, languages_present, load_split
from tasks.demo import XNLI_DEMO_LANGUAGES, write_demo_data


def test_local_layout_path() -> None:
    source = get_task("xnli").dev["de"]
    assert source.local_path("/m") == "/m/xnli/de/validation.jsonl"
    assert get_task("mnli").dev["en"].local_path("/m") == "/m/mnli/mnli/validation_matched.jsonl"


def test_languages_present_are_those_with_dev_data(demo_data: Path) -> None:
    xnli = get_task("xnli")
    assert languages_present(xnli, str(demo_data)) == [lang for lang in xnli.languages if lang in XNLI_DEMO_LANGUAGES]
    assert languages_present(xnli, str(demo_data), ["de", "sw"]) == ["de"]
    assert not is_present(xnli.dev["sw"], str(demo_data))


def test_load_split_reads_hub_columns(demo_data: Path) -> None:
    rows = load_split(get_task("pawsx").dev["fr"], str(demo_data))
    assert rows.column_names == ["sentence1", "sentence2", "label"]
    assert len(rows) == 200


def test_fingerprint_follows_file_contents(tmp_path: Path) -> None:
    write_demo_data(tmp_path / "a", seed=0)
    write_demo_data(tmp_path / "b", seed=0)
    write_demo_data(tmp_path / "c", seed=1)
    sources = [get_task("xnli").dev["de"]]
    a, b, c = (fingerprint(sources, str(tmp_path / name)) for name in "abc")
    assert a == b != c

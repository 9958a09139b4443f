"""What every run is tagged with: hashes that follow the bytes a run starts from."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from sweeper.record.provenance import encoder_tags, runtime_tags, source_commit, tokenizer_hash
from sweeper.train.pretrained import build_tiny_model
from tests.sweeper.test_pretrained import TEXTS


def test_hashes_follow_the_weights_and_the_tokenizer_apart(tmp_path: Path) -> None:
    original = encoder_tags(build_tiny_model(TEXTS, tmp_path / "a"))
    assert encoder_tags(shutil.copytree(tmp_path / "a", tmp_path / "b")) == original
    reseeded = encoder_tags(build_tiny_model(TEXTS, tmp_path / "c", seed=1))
    assert reseeded["provenance/encoder_sha256"] != original["provenance/encoder_sha256"]
    assert reseeded["provenance/tokenizer_sha256"] == original["provenance/tokenizer_sha256"]
    fewer_texts = encoder_tags(build_tiny_model(TEXTS[: len(TEXTS) // 2], tmp_path / "d"))
    assert fewer_texts["provenance/tokenizer_sha256"] != original["provenance/tokenizer_sha256"]


def test_a_tokenizer_hashes_the_same_after_it_truncated(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    built = build_tiny_model(TEXTS, tmp_path / "a")
    tokenizer = AutoTokenizer.from_pretrained(built)
    tokenizer(TEXTS[0], truncation=True, max_length=8, padding="max_length")
    tokenizer.save_pretrained(tmp_path / "b")
    # tokenizer.json now records the truncation; the hash is of the tokenizer itself.
    assert (tmp_path / "b" / "tokenizer.json").read_bytes() != (built / "tokenizer.json").read_bytes()
    assert tokenizer_hash(tmp_path / "b") == tokenizer_hash(built)


def test_the_commit_is_git_s_or_unknown(tmp_path: Path) -> None:
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", source_commit())
    assert source_commit(tmp_path) == "unknown"


def test_runtime_tags_name_the_libraries_and_the_device() -> None:
    tags = runtime_tags()
    for name in ("torch", "transformers", "datasets", "ray", "mlflow", "optuna", "device", "cpu_threads"):
        assert tags[f"provenance/{name}"] not in ("", "not installed"), name

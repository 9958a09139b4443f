"""The tiny model follows from its texts: the same bytes in every process."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from transformers import AutoTokenizer

from sweeper.train.pretrained import build_tiny_model

TEXTS = [
    f"{subject} {verb} the {thing} in {place} on day {day}."
    for subject in ("Anna", "Boris", "Chloé", "Dmitri")
    for verb in ("sees", "buys", "paints")
    for thing in ("house", "river", "garden")
    for place in ("Zürich", "Lyon", "Омск")
    for day in range(3)
]

BUILD = """
import sys
from sweeper.train.pretrained import build_tiny_model
from tests.sweeper.test_pretrained import TEXTS
build_tiny_model(TEXTS, sys.argv[1])
"""


def _hashes(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())}


def test_two_processes_build_the_same_tokenizer_and_weights(tmp_path: Path) -> None:
    # Separate processes: the hash seeds that made tokenizers' trainer vary are per process.
    root = Path(__file__).resolve().parents[2]
    for name in ("a", "b"):
        subprocess.run([sys.executable, "-c", BUILD, str(tmp_path / name)], cwd=root, check=True, timeout=300)
    first, second = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    assert {"tokenizer.json", "model.safetensors", "config.json"} <= set(first)
    assert first == second


def test_the_tokenizer_has_xlmr_layout_and_covers_its_texts(tmp_path: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(build_tiny_model(TEXTS, tmp_path))
    assert tokenizer.convert_ids_to_tokens([0, 1, 2, 3]) == ["<s>", "<pad>", "</s>", "<unk>"]
    assert tokenizer.mask_token_id == len(tokenizer) - 1
    ids = tokenizer(TEXTS[-1])["input_ids"]
    assert tokenizer.unk_token_id not in ids  # every character of the texts has a piece
    assert tokenizer.decode(ids, skip_special_tokens=True) == TEXTS[-1]


def test_a_relaunch_rebuilds_the_local_models_its_first_launch_did_not_store(tmp_path: Path) -> None:
    """A first launch that died before it stored ``pretrained/<scale>`` must not leave the sweep
    unrelaunchable: the relaunch builds the local models its sweep run lacks (a real MLflow store)."""
    from mlflow.tracking import MlflowClient

    from sweeper.launch.launch import unstored_local_models

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    sweep_run = client.create_run(client.create_experiment("s", artifact_location=(tmp_path / "a").as_uri()))
    run_id = sweep_run.info.run_id
    assert unstored_local_models(client, ["tiny", "mini", "base"], None) == {"tiny", "mini"}  # a new sweep
    assert unstored_local_models(client, ["tiny", "mini"], run_id) == {"tiny", "mini"}  # died before storing
    stored = tmp_path / "tiny"
    stored.mkdir()
    (stored / "config.json").write_text("{}")
    client.log_artifacts(run_id, str(stored), "pretrained/tiny")
    assert unstored_local_models(client, ["tiny", "mini"], run_id) == {"mini"}
    assert unstored_local_models(client, ["base"], run_id) == set()  # hub models are never stored


def test_text_with_more_characters_than_the_vocabulary_gets_a_piece_for_each() -> None:
    from sweeper.train.pretrained import TINY_VOCAB_SIZE, train_unigram_pieces

    # 2,500 CJK ideographs, eight a sentence, each sentence twice.
    characters = [chr(0x4E00 + n) for n in range(TINY_VOCAB_SIZE + 500)]
    texts = ["".join(characters[n : n + 8]) for n in range(0, len(characters), 8)] * 2
    pieces = {piece for piece, _ in train_unigram_pieces(texts)}
    assert set(characters) <= {piece.removeprefix("\u2581") for piece in pieces}


def test_an_encoder_saved_in_bf16_trains_with_fp32_weights(tmp_path: Path) -> None:
    """``save_encoder`` writes bf16 on GPUs and transformers 5 loads a checkpoint in its saved
    dtype; a cell after an intermediate must still train fp32 weights, as its baseline does."""
    import torch
    from transformers import AutoModel

    from sweeper.train.finetune import trainable_model
    from tasks import family_of, get_task

    encoder = tmp_path / "encoder"
    build_tiny_model(TEXTS, tmp_path / "tiny")
    AutoModel.from_pretrained(tmp_path / "tiny").to(torch.bfloat16).save_pretrained(encoder)
    AutoTokenizer.from_pretrained(tmp_path / "tiny").save_pretrained(encoder)
    task = get_task("xnli")
    family = family_of(task.family)
    assert family.build_model(encoder, task).dtype == torch.bfloat16  # what the cast is for
    model = trainable_model(family, encoder, task)
    assert {parameter.dtype for parameter in model.parameters()} == {torch.float32}

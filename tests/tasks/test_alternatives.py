"""The paper's two alternatives as settings of intermediate runs: machine-translated
intermediate data, and continued MLM interleaved with the intermediate task."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from sweeper.plan.plan import make_plan
from sweeper.plan.spec import SpecError, build_spec
from sweeper.train.finetune import Hyperparameters, evaluate, fine_tune
from sweeper.train.pretrained import build_tiny_model
from tasks import Alternatives, get_task, load_split, resolve, texts_of
from tasks.demo import write_demo_data

HPARAMS = Hyperparameters(
    learning_rate=1e-3, seed=0, epochs=1, batch_size=4, max_length=64, warmup_ratio=0.1, per_device_batch=4
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_demo_data(tmp_path_factory.mktemp("demo"))
    train = Path(get_task("mnli").train.local_path(str(root)))
    train.write_text("".join(train.read_text(encoding="utf-8").splitlines(True)[:24]), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def translated(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MNLI's (demo) training rows "translated" into two languages: generated, same columns."""
    root = tmp_path_factory.mktemp("translated")
    rows = load_split(get_task("mnli").train, str(demo)).to_list()
    for lang, marker in (("de", "übersetzt"), ("sw", "imetafsiriwa")):
        (root / "mnli" / lang).mkdir(parents=True)
        lines = [json.dumps({**row, "premise": f"{marker} {row['premise']}"}, ensure_ascii=False) for row in rows[:10]]
        (root / "mnli" / lang / "train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def mlm_text(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("text") / "wiki.txt"
    sentences = ["Der Hund schläft im Garten.", "Mbwa analala bustanini.", "", "Le chien dort dans le jardin."]
    path.write_text("\n".join(sentences * 6) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def encoder(demo: Path, mlm_text: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = [*texts_of(load_split(get_task("mnli").train, str(demo))), *mlm_text.read_text().splitlines()]
    return build_tiny_model(texts, tmp_path_factory.mktemp("tiny"))


def test_translated_rows_join_the_english_training_data(
    demo: Path, translated: Path, encoder: Path, tmp_path: Path
) -> None:
    task = resolve("mnli", str(demo), Alternatives(translated_data=str(translated)))
    assert sorted(source.config for source in task.train_with) == ["de", "sw"]
    tuned = fine_tune(str(encoder), task, str(demo), HPARAMS, tmp_path)
    # 24 English rows and 2 × 10 translated ones, one epoch of batches of 4.
    assert len(tuned.trainer.train_dataset) == 44 and tuned.trainer.state.global_step == 11


def test_mlm_interleaves_and_selection_stays_on_the_task(
    demo: Path, mlm_text: Path, encoder: Path, tmp_path: Path
) -> None:
    task = resolve("mnli", str(demo), Alternatives(mlm_text=str(mlm_text)))
    assert task.name == "mnli+mlm" and task.metric == "score"
    tuned = fine_tune(str(encoder), task, str(demo), HPARAMS, tmp_path)
    assert set(tuned.model.members) == {"mnli", "mlm"}
    assert tuned.model.members["mlm"].roberta is tuned.model.base_model
    evaluation = evaluate(tuned, task, str(demo), ("en",), ("dev",), HPARAMS.max_length)
    # MLM is trained, never selected on: the score is MNLI's alone.
    assert evaluation.metrics["dev/score/en"] == evaluation.metrics["dev/mnli_accuracy/en"]
    from transformers import AutoModelForMaskedLM

    before = AutoModelForMaskedLM.from_pretrained(encoder, tie_word_embeddings=False).lm_head.dense.weight
    assert not torch.equal(tuned.model.members["mlm"].lm_head.dense.weight.detach(), before.detach())


def test_a_missing_path_is_a_one_line_error_naming_the_setting(demo: Path, tmp_path: Path) -> None:
    common = {"scales": "tiny", "intermediate": "mnli", "targets_": "xnli", "data": str(demo)}
    with pytest.raises(SpecError, match=r"^--translated-data: .*nope is not a directory"):
        build_spec(**common, translated_data=str(tmp_path / "nope"))
    with pytest.raises(SpecError, match=r"^--mlm-text: .*nope.txt is neither"):
        build_spec(**common, mlm_text=str(tmp_path / "nope.txt"))
    (tmp_path / "empty").mkdir()
    spec = build_spec(**common, translated_data=str(tmp_path / "empty"))
    with pytest.raises(SpecError, match=r"^--translated-data: no .*/mnli/<lang>/train.jsonl"):
        make_plan(spec)


def test_a_changed_input_is_a_new_cell(demo: Path, translated: Path, mlm_text: Path) -> None:
    # At a hub scale (the tiny model's tokenizer trains on all of a sweep's text, so there
    # every cell changes with any input).
    common = {"scales": "base", "intermediate": "mnli", "targets_": "xnli", "seeds": 1, "data": str(demo)}
    plain = {c.intermediate: c.key for c in make_plan(build_spec(**common)).cells}
    with_translations = {
        c.intermediate: c.key for c in make_plan(build_spec(**common, translated_data=str(translated))).cells
    }
    assert plain["none"] == with_translations["none"] and plain["mnli"] != with_translations["mnli"]
    german = translated / "mnli" / "de" / "train.jsonl"
    original = german.read_text(encoding="utf-8")
    german.write_text(original.replace("übersetzt", "neu übersetzt"), encoding="utf-8")
    try:
        changed = {
            c.intermediate: c.key for c in make_plan(build_spec(**common, translated_data=str(translated))).cells
        }
    finally:
        german.write_text(original, encoding="utf-8")
    assert changed["mnli"] != with_translations["mnli"]
    with_mlm = {c.intermediate: c.key for c in make_plan(build_spec(**common, mlm_text=str(mlm_text))).cells}
    assert with_mlm["mnli"] not in (plain["mnli"], with_translations["mnli"])

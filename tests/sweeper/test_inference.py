"""Length-grouped evaluation: the same outputs as sequential prediction, in the features'
order, with fewer pad tokens; on the real samples of every family whose inputs vary in length."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from datasets import Dataset, concatenate_datasets
from transformers import AutoTokenizer, Trainer, TrainingArguments

from sweeper.train.finetune import FineTuned, evaluate
from sweeper.train.inference import feature_lengths, length_order, predict_by_length, restore_order
from sweeper.train.pretrained import build_tiny_model
from tasks import Task, family_of, get_task, is_present, load_split
from tests.tasks.realdata import convert_xnli
from tests.tasks.realdata_choice import convert_xcopa
from tests.tasks.realdata_qa import convert_xquad
from tests.tasks.realdata_tagging import convert_udpos

MAX_LENGTH = 128
# Small batches: many of them, so that the order of the features shapes the padding.
BATCH = 8
# Outputs of the same model on the same tokens, batched with different padding.
TOLERANCE = 1e-5

# Each task: the rows taken from each language's dev split (a few dozen features in all),
# and whether its outputs have a position axis (a value per token).
CASES = {"xnli": (1, False), "udpos": (16, True), "xquad": (4, True), "xcopa": (4, False)}


def test_restore_order_puts_arrays_and_tuples_back() -> None:
    order = np.array([2, 0, 3, 1])
    logits = np.arange(8.0).reshape(4, 2)
    assert np.array_equal(restore_order(logits[order], order), logits)
    # QA's start and end logits: rows of different lengths, padded with -100 to the widest.
    starts = np.array([[1.0, 2.0, -100.0], [3.0, -100.0, -100.0], [4.0, 5.0, 6.0], [7.0, 8.0, -100.0]])
    ends = -starts
    restored = restore_order((starts[order], ends[order]), order)
    assert isinstance(restored, tuple)
    assert np.array_equal(restored[0], starts) and np.array_equal(restored[1], ends)


def test_lengths_count_tokens_or_the_longest_choice() -> None:
    sequences = Dataset.from_dict({"input_ids": [[0, 5, 2], [0, 2], [0, 5, 6, 7, 2]]})
    assert feature_lengths(sequences).tolist() == [3, 2, 5]
    # Through a selection (an indices mapping over the same table).
    assert feature_lengths(sequences.select([2, 0])).tolist() == [5, 3]
    choices = Dataset.from_dict({"input_ids": [[[0, 2], [0, 5, 6, 2]], [[0, 5, 6, 7, 8, 2], [0, 2]]]})
    assert feature_lengths(choices).tolist() == [4, 6]


def test_order_is_longest_first_and_stable() -> None:
    assert length_order(np.array([3, 5, 3, 7, 5])).tolist() == [3, 1, 4, 0, 2]


@pytest.fixture(scope="module")
def real_mirror(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("real-mirror")
    for convert in (convert_xnli, convert_udpos, convert_xquad, convert_xcopa):
        convert(realdata, root)
    return root


def _task(name: str) -> Task:
    task = get_task(name)
    if name == "xquad":
        # Room for several windows per context within MAX_LENGTH.
        task = dataclasses.replace(task, settings=dataclasses.replace(task.settings, doc_stride=32))
    return task


def _rows(task: Task, mirror: Path, per_split: int) -> Dataset:
    """The first ``per_split`` rows of every present dev split of ``task``."""
    splits = [load_split(source, str(mirror)) for source in task.dev.values() if is_present(source, str(mirror))]
    return concatenate_datasets([rows.select(range(min(per_split, len(rows)))) for rows in splits])


def _texts(rows: Dataset) -> list[str]:
    """Every text of the rows (words joined), for the tiny model's tokenizer to learn from."""
    texts = []
    for column in rows.column_names:
        values = [value for value in rows[column] if value]
        if values and isinstance(values[0], str):
            texts += values
        elif values and isinstance(values[0], list) and isinstance(values[0][0], str):
            texts += [" ".join(value) for value in values]
    return texts


@pytest.fixture(scope="module")
def case_rows(real_mirror: Path) -> dict[str, Dataset]:
    return {name: _rows(_task(name), real_mirror, per_split) for name, (per_split, _) in CASES.items()}


@pytest.fixture(scope="module")
def tiny_encoder(case_rows: dict[str, Dataset], tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = [text for rows in case_rows.values() for text in _texts(rows)]
    return build_tiny_model(texts, tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def tokenizer(tiny_encoder: Path):
    return AutoTokenizer.from_pretrained(tiny_encoder)


def _trainer(task: Task, encoder: Path, tokenizer, work_dir: Path) -> Trainer:
    family = family_of(task.family)
    args = TrainingArguments(
        output_dir=str(work_dir), per_device_eval_batch_size=BATCH, report_to="none", disable_tqdm=True, use_cpu=True
    )
    return Trainer(model=family.build_model(str(encoder), task), args=args, data_collator=family.collator(tokenizer))


def _arrays(outputs) -> list[np.ndarray]:
    return list(outputs) if isinstance(outputs, tuple | list) else [outputs]


def _predict(task: Task, rows: Dataset, tokenizer, infer: Callable, mirror: Path) -> list:
    return family_of(task.family).predict(rows, task, tokenizer, MAX_LENGTH, infer, "en", str(mirror))


@pytest.mark.parametrize("name", list(CASES))
def test_length_grouped_outputs_equal_sequential_ones(
    name: str, case_rows: dict[str, Dataset], real_mirror: Path, tiny_encoder: Path, tokenizer, tmp_path: Path
) -> None:
    _, has_positions = CASES[name]
    task = _task(name)
    trainer = _trainer(task, tiny_encoder, tokenizer, tmp_path)
    rows = case_rows[name]
    calls: list[tuple[Dataset, object]] = []

    def sequential(features: Dataset):
        outputs = trainer.predict(features).predictions
        calls.append((features, outputs))
        return outputs

    def grouped(features: Dataset):
        outputs = predict_by_length(trainer, features)
        calls.append((features, outputs))
        return outputs

    expected = _predict(task, rows, tokenizer, sequential, real_mirror)
    predicted = _predict(task, rows, tokenizer, grouped, real_mirror)
    [(features, sequential_outputs), (_, grouped_outputs)] = calls
    lengths = feature_lengths(features)
    # The batches really were regrouped.
    assert not np.array_equal(length_order(lengths), np.arange(len(lengths)))
    for sequential_array, grouped_array in zip(_arrays(sequential_outputs), _arrays(grouped_outputs), strict=True):
        assert len(sequential_array) == len(grouped_array) == len(features)
        if has_positions:
            for row, length in enumerate(lengths):
                np.testing.assert_allclose(grouped_array[row, :length], sequential_array[row, :length], atol=TOLERANCE)
        else:
            np.testing.assert_allclose(grouped_array, sequential_array, atol=TOLERANCE)
    assert predicted == expected


@pytest.mark.parametrize("name", [name for name, (_, has_positions) in CASES.items() if has_positions])
def test_positions_past_a_feature_length_never_reach_predictions(
    name: str, case_rows: dict[str, Dataset], real_mirror: Path, tiny_encoder: Path, tokenizer, tmp_path: Path
) -> None:
    task = _task(name)
    trainer = _trainer(task, tiny_encoder, tokenizer, tmp_path)
    rows = case_rows[name]
    rng = np.random.default_rng(0)

    def poisoned(features: Dataset):
        """Outputs whose positions past each feature's length would win any argmax, at random."""
        outputs = _arrays(predict_by_length(trainer, features))
        for array in outputs:
            for row, length in enumerate(feature_lengths(features)):
                array[row, length:] = 1e9 * (1 + rng.random(array[row, length:].shape))
        return tuple(outputs) if len(outputs) > 1 else outputs[0]

    expected = _predict(task, rows, tokenizer, lambda features: predict_by_length(trainer, features), real_mirror)
    assert _predict(task, rows, tokenizer, poisoned, real_mirror) == expected


class PadCounter:
    """A collator that counts the pad positions of the batches it makes."""

    def __init__(self, collate: Callable) -> None:
        self.collate = collate
        self.pad = 0

    def __call__(self, features: list[dict]) -> dict:
        batch = self.collate(features)
        self.pad += int((batch["attention_mask"] == 0).sum())
        return batch


def _pads(lengths: np.ndarray, batch: int) -> int:
    """Pad positions of consecutive batches of ``lengths``, each padded to its own longest."""
    return sum(
        int(chunk.max() * len(chunk) - chunk.sum()) for chunk in np.split(lengths, range(batch, len(lengths), batch))
    )


def test_length_grouping_cuts_the_pad_tokens(
    case_rows: dict[str, Dataset], tiny_encoder: Path, tokenizer, tmp_path: Path
) -> None:
    task = _task("udpos")
    trainer = _trainer(task, tiny_encoder, tokenizer, tmp_path)
    features = family_of(task.family).encode(case_rows["udpos"], task, tokenizer, MAX_LENGTH)
    features = features.remove_columns("labels")
    lengths = feature_lengths(features)
    counted = {}
    for name, infer in (
        ("sequential", lambda: trainer.predict(features)),
        ("grouped", lambda: predict_by_length(trainer, features)),
    ):
        trainer.data_collator = counter = PadCounter(family_of(task.family).collator(tokenizer))
        infer()
        counted[name] = counter.pad
    # The model ran on the batches expected: consecutive features, then features by length.
    assert counted["sequential"] == _pads(lengths, BATCH)
    assert counted["grouped"] == _pads(np.sort(lengths)[::-1], BATCH)
    assert counted["grouped"] < counted["sequential"]


def test_evaluate_predicts_in_length_grouped_batches(
    real_mirror: Path, tiny_encoder: Path, tokenizer, tmp_path: Path
) -> None:
    task = _task("udpos")
    trainer = _trainer(task, tiny_encoder, tokenizer, tmp_path)
    collate = trainer.data_collator
    trainer.data_collator = grouped = PadCounter(collate)
    languages = ["de", "en", "zh"]
    evaluation = evaluate(
        FineTuned(trainer.model, tokenizer, trainer), task, str(real_mirror), languages, ["dev"], MAX_LENGTH
    )
    trainer.data_collator = sequential = PadCounter(collate)
    for lang in languages:
        rows = load_split(task.dev[lang], str(real_mirror))
        in_order = _predict(task, rows, tokenizer, lambda features: trainer.predict(features).predictions, real_mirror)
        assert evaluation.predictions[("dev", lang)] == in_order
    assert grouped.pad < sequential.pad

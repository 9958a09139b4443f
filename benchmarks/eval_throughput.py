"""Evaluation throughput: real tokens per second with batches grouped by length, against
padding every example to the maximum length and against dynamic padding in dataset order.

The examples are token ids with XNLI's length mix: lengths drawn from a log-normal of
median 43 tokens and shape 0.55 (mean about 50; 2% past 128), rounded and clipped to
[5, --max-length], the ids between ``<s>`` and ``</s>`` drawn uniformly from the model's
non-special ids. They go through evaluation's code path: ``Trainer.predict`` with the
classification family's model (XNLI's head) on a random XLM-R saved locally, the tiny
model sweeps use (``--model tiny``) or one shaped like XLM-R base (``--model base``):

- max-length: every example padded to --max-length, in dataset order;
- dynamic: the family's collator (each batch padded to its own longest), in dataset order:
  what a default collator does;
- by length: ``sweeper.train.inference.predict_by_length``.

It prints, for each, the share of pad tokens the model ran on (counted in the batches) and
the real (non-pad) tokens per second of the fastest of --repeats runs; the two ratios; and
whether the by-length outputs equal the dynamic ones in dataset order.

    python benchmarks/eval_throughput.py [--model tiny|base] [--examples 2000] [--batch-size 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import datasets
import numpy as np
import torch
import transformers
from datasets import Dataset
from transformers import (
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
    XLMRobertaConfig,
    XLMRobertaModel,
)

from sweeper.train.inference import predict_by_length
from sweeper.train.pretrained import build_tiny_model
from tasks import family_of, get_task
from tasks.demo import nli_example

MEDIAN_LENGTH = 43
LENGTH_SHAPE = 0.55
MIN_LENGTH = 5
# Outputs of the same model on the same tokens, batched with different padding.
TOLERANCE = 1e-5


def xnli_like_lengths(count: int, max_length: int, rng: np.random.Generator) -> np.ndarray:
    lengths = np.rint(rng.lognormal(np.log(MEDIAN_LENGTH), LENGTH_SHAPE, count))
    return np.clip(lengths, MIN_LENGTH, max_length).astype(np.int64)


def xnli_like_features(lengths: np.ndarray, tokenizer, vocab_size: int, rng: np.random.Generator) -> Dataset:
    """``<s> ids </s>`` of each length, as the classification family's features (no labels)."""
    ordinary = np.setdiff1d(np.arange(vocab_size), tokenizer.all_special_ids)
    input_ids = [
        [tokenizer.bos_token_id, *rng.choice(ordinary, length - 2).tolist(), tokenizer.eos_token_id]
        for length in lengths
    ]
    return Dataset.from_dict({"input_ids": input_ids, "attention_mask": [[1] * len(ids) for ids in input_ids]})


def random_encoder(model: str, out_dir: Path) -> Path:
    """The tiny model sweeps build (its tokenizer trained on demo NLI text), or a random model
    of XLM-R base's shape saved beside the tiny tokenizer (only its pad id is used)."""
    rng = random.Random(0)
    texts = [nli_example(rng, lang)["premise"] for lang in ("en", "de", "es", "fr", "ru") for _ in range(200)]
    tiny = build_tiny_model(texts, out_dir / "tiny")
    if model == "tiny":
        return tiny
    tokenizer = AutoTokenizer.from_pretrained(tiny)
    config = XLMRobertaConfig(
        vocab_size=250002,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=514,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    XLMRobertaModel(config).save_pretrained(out_dir / "base")
    tokenizer.save_pretrained(out_dir / "base")
    return out_dir / "base"


class CountingCollator:
    """A collator that counts the pad and total token positions of the batches it makes."""

    def __init__(self, collate: Callable) -> None:
        self.collate = collate
        self.pad = self.total = 0

    def __call__(self, features: list[dict]) -> dict:
        batch = self.collate(features)
        mask = batch["attention_mask"]
        self.pad += int((mask == 0).sum())
        self.total += mask.numel()
        return batch


def timed(trainer: Trainer, collate: Callable, run: Callable, features: Dataset) -> tuple[float, float, np.ndarray]:
    """Seconds, pad share and outputs of one prediction over ``features``."""
    counter = CountingCollator(collate)
    trainer.data_collator = counter
    start = time.perf_counter()
    outputs = run(trainer, features)
    return time.perf_counter() - start, counter.pad / counter.total, outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("tiny", "base"), default="tiny")
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64, help="per-device evaluation batch [64: base's]")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    datasets.disable_progress_bars()
    transformers.utils.logging.set_verbosity_error()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        encoder = random_encoder(args.model, Path(tmp))
        tokenizer = AutoTokenizer.from_pretrained(encoder)
        family, task = family_of("classification"), get_task("xnli")
        model = family.build_model(str(encoder), task)
        trainer = Trainer(
            model=model,
            args=TrainingArguments(
                output_dir=tmp,
                per_device_eval_batch_size=args.batch_size,
                report_to="none",
                disable_tqdm=True,
                use_cpu=not torch.cuda.is_available(),
            ),
        )
        lengths = xnli_like_lengths(args.examples, args.max_length, rng)
        features = xnli_like_features(lengths, tokenizer, model.config.vocab_size, rng)

        def in_order(trainer: Trainer, features: Dataset) -> np.ndarray:
            return trainer.predict(features).predictions

        ways = {
            "max-length": (
                DataCollatorWithPadding(tokenizer, padding="max_length", max_length=args.max_length),
                in_order,
            ),
            "dynamic (dataset order)": (family.collator(tokenizer), in_order),
            "by length": (family.collator(tokenizer), predict_by_length),
        }
        # Untimed warm-up: the first batches pay for kernels, allocations and caches.
        timed(
            trainer,
            family.collator(tokenizer),
            in_order,
            features.select(range(min(len(features), 4 * args.batch_size))),
        )
        seconds = {name: float("inf") for name in ways}
        pad_share, outputs = {}, {}
        for _ in range(args.repeats):
            for name, (collate, run) in ways.items():
                elapsed, pad_share[name], outputs[name] = timed(trainer, collate, run, features)
                seconds[name] = min(seconds[name], elapsed)

    real = int(lengths.sum())
    throughput = {name: real / elapsed for name, elapsed in seconds.items()}
    config = model.config
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"cpu ({torch.get_num_threads()} threads)"
    print(
        f"{args.model} model ({config.num_hidden_layers} layers, hidden {config.hidden_size}), {device}, "
        f"batch {args.batch_size}, fastest of {args.repeats}"
    )
    print(
        f"{args.examples} XNLI-like examples, {real} real tokens: mean {lengths.mean():.1f}, "
        f"median {np.median(lengths):.0f}, p99 {np.percentile(lengths, 99):.0f}, max {lengths.max()} "
        f"(max-length {args.max_length})"
    )
    print(f"{'padding':<26}{'pad share':>10}{'seconds':>10}{'real tokens/s':>15}")
    for name in ways:
        print(f"{name:<26}{pad_share[name]:>10.1%}{seconds[name]:>10.2f}{throughput[name]:>15,.0f}")
    print(f"by length / max-length: {throughput['by length'] / throughput['max-length']:.2f}x")
    print(f"by length / dynamic:    {throughput['by length'] / throughput['dynamic (dataset order)']:.2f}x")
    difference = float(np.abs(outputs["by length"] - outputs["dynamic (dataset order)"]).max())
    verdict = "yes" if difference <= TOLERANCE else "NO"
    print(
        f"by-length outputs equal dynamic's in dataset order (to {TOLERANCE:g}): {verdict}, max |diff| {difference:.1e}"
    )


if __name__ == "__main__":
    main()

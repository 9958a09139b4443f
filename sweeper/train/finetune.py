"""One fine-tuning stage, top to bottom: load → encode → train → evaluate per language.

Both STILTs stages go through ``fine_tune``: the intermediate stage starts from the
pretrained encoder, the target stage from the intermediate's saved encoder (or the
pretrained one for the ``none`` baseline). transformers' Trainer runs the loop.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    AutoModel,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.trainer_utils import enable_full_determinism, set_seed

from sweeper.train.inference import predict_by_length
from sweeper.train.resume import ResumeStore
from tasks import Evaluation, Task, TaskFamily, family_of, is_present, load_split
from tasks.batching import DEFAULT_BATCH_ORDER, Batching
from tasks.scoring.submission import example_ids

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hyperparameters:
    learning_rate: float
    seed: int
    epochs: float
    # The effective batch; per-device batch × devices × accumulation steps make it up.
    batch_size: int
    max_length: int
    warmup_ratio: float
    per_device_batch: int
    gradient_accumulation: int = 1
    bf16: bool = False
    gradient_checkpointing: bool = False
    # FSDP across the trial's workers (they share one process group Ray Train set up).
    sharded: bool = False
    # Training batches grouped by length (little padding), or in random order.
    batch_order: str = DEFAULT_BATCH_ORDER


@dataclass
class FineTuned:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    trainer: Trainer
    # (stage, step) of the checkpoint an interrupted attempt left, where training resumed.
    resumed_from: tuple[int, int] | None = None

    @property
    def is_main_process(self) -> bool:
        """Rank 0 of a distributed trial (or the only process): the one that logs."""
        return self.trainer.is_world_process_zero()

    def save_encoder(self, out_dir: str | Path) -> Path:
        """Save the encoder without its task head (only the encoder passes to the next stage),
        as bf16 safetensors where it trained in bf16: half the bytes of an XL checkpoint.

        Sharded, every rank takes part in gathering the full weights; rank 0 writes them.
        Call it after evaluating: the unsharded model is cast in place."""
        out_dir = Path(out_dir)
        dtype = torch.bfloat16 if self.trainer.args.bf16 else torch.float32
        if self.trainer.is_fsdp_enabled:
            full_model = out_dir.with_name(out_dir.name + "-with-head")
            self.trainer.save_model(str(full_model))
            if self.is_main_process:
                AutoModel.from_pretrained(full_model, dtype=dtype).save_pretrained(out_dir)
        elif self.is_main_process:
            self.model.base_model.to(dtype).save_pretrained(out_dir)
        if self.is_main_process:
            self.tokenizer.save_pretrained(out_dir)
        return out_dir

    def save_model(self, out_dir: str | Path) -> Path:
        """Save the whole fine-tuned model, task head included (gathered where sharded)."""
        out_dir = Path(out_dir)
        self.trainer.save_model(str(out_dir))
        if self.is_main_process:
            self.tokenizer.save_pretrained(out_dir)
        return out_dir


def _fsdp_config(hparams: Hyperparameters, model: PreTrainedModel) -> dict:
    """FSDP2 with one shard unit per transformer layer, saved as one full state dict so the
    next stage loads it with from_pretrained like any other checkpoint."""
    # Named explicitly: XLM-R's _no_split_modules also lists its embeddings module, which
    # Accelerate shards a second time as the input embeddings (an error in fully_shard).
    layer = type(model.base_model.encoder.layer[0]).__name__
    return {
        "version": 2,
        "transformer_layer_cls_to_wrap": [layer],
        "activation_checkpointing": hparams.gradient_checkpointing,
        "state_dict_type": "FULL_STATE_DICT",
    }


class SaveEvery(TrainerCallback):
    """Ask the Trainer for a checkpoint every ``store.every_s`` seconds of training and copy
    it to the store (from the main process; with FSDP every rank takes part in saving)."""

    def __init__(self, store: ResumeStore, stage: int) -> None:
        self.store = store
        self.stage = stage
        self._last = time.monotonic()

    def begin_stage(self, stage: int) -> None:
        self.stage = stage

    def on_step_end(self, args, state, control, **kwargs):
        if time.monotonic() - self._last >= self.store.every_s:
            control.should_save = True

    def on_save(self, args, state, control, **kwargs):
        self._last = time.monotonic()
        if state.is_world_process_zero:
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            self.store.upload(self.stage, checkpoint)
            # The local copy has served its purpose; the store holds it now.
            shutil.rmtree(checkpoint, ignore_errors=True)
            log.info("resume checkpoint at step %d saved to %s", state.global_step, self.store.uri)


class _Trainer(Trainer):
    """transformers' Trainer, drawing training batches in the order the task's family says
    (grouped by length where asked; a multi-task stage draws each batch from one member)."""

    task: Task
    batch_order: str = DEFAULT_BATCH_ORDER

    def _get_train_sampler(self, train_dataset=None):
        dataset = self.train_dataset if train_dataset is None else train_dataset
        family = family_of(self.task.family)
        # Every rank builds the same order; Accelerate's BatchSamplerShard hands each its batches.
        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        batching = Batching(self._train_batch_size, seed, self.args.world_size, self.batch_order)
        sampler = family.train_sampler(self.task, dataset, batching)
        return sampler if sampler is not None else super()._get_train_sampler(train_dataset)


class _EpochHook(TrainerCallback):
    """Call ``hook(tuned, epoch)`` at the end of every epoch but the last."""

    def __init__(self, hook: Callable[[FineTuned, int], None]) -> None:
        self.hook = hook
        self.tuned: FineTuned | None = None

    def on_epoch_end(self, args, state, control, **kwargs):
        epoch = round(state.epoch)
        if self.tuned is not None and epoch < args.num_train_epochs:
            self.hook(self.tuned, epoch)


def seed_everything(seed: int, use_cpu: bool) -> None:
    """Seed before the model is built: the Trainer seeds only once it has the model, so a fresh
    task head would otherwise start from whatever the process drew before (in a reused Tune
    actor, its earlier trials). On CPU every op then runs its deterministic algorithm as well;
    on GPUs the seed fixes data order, initialisation and dropout, while some kernels (cuBLAS,
    atomics in backward passes) still add in varying order (docs/reproducibility.md says what remains)."""
    if use_cpu:
        enable_full_determinism(seed)
    else:
        set_seed(seed)


def trainable_model(family: TaskFamily, encoder_path: str | Path, task: Task) -> PreTrainedModel:
    """The family's model over ``encoder_path``, with fp32 weights. transformers 5 loads a
    checkpoint in its saved dtype, and ``save_encoder`` saves bf16 on GPUs: without the cast a
    cell after an intermediate would train bf16 weights and optimizer state while its baseline
    trains fp32 ones under bf16 autocast, and Δ would mix in the precision."""
    return family.build_model(encoder_path, task).float()


def _training_arguments(
    hparams: Hyperparameters, model: PreTrainedModel, work_dir: str | Path, whole_batches: bool = False
) -> TrainingArguments:
    use_cpu = not torch.cuda.is_available()
    return TrainingArguments(
        # A multi-task batch passes through to its member's forward whole.
        remove_unused_columns=not whole_batches,
        output_dir=str(work_dir),
        learning_rate=hparams.learning_rate,
        num_train_epochs=hparams.epochs,
        per_device_train_batch_size=hparams.per_device_batch,
        gradient_accumulation_steps=hparams.gradient_accumulation,
        # FSDP checkpoints activations itself; the Trainer's own would all-gather twice.
        activation_checkpointing=hparams.gradient_checkpointing and not hparams.sharded,
        fsdp=hparams.sharded or None,
        fsdp_config=_fsdp_config(hparams, model) if hparams.sharded else None,
        per_device_eval_batch_size=hparams.per_device_batch * 2,
        warmup_steps=hparams.warmup_ratio,
        weight_decay=0.01,
        seed=hparams.seed,
        full_determinism=use_cpu,
        # The same data order with and without an intermediate task, so Δ is paired.
        data_seed=hparams.seed,
        logging_steps=10,
        # Checkpoints are asked for by time (SaveEvery), only where a trial can resume.
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=use_cpu,
        bf16=hparams.bf16 and not use_cpu and torch.cuda.is_bf16_supported(),
    )


def fine_tune(
    encoder_path: str,
    task: Task,
    data: str,
    hparams: Hyperparameters,
    work_dir: str | Path,
    callbacks: Sequence[TrainerCallback] = (),
    resume: ResumeStore | None = None,
    on_epoch: Callable[[FineTuned, int], None] | None = None,
) -> FineTuned:
    """Fine-tune a fresh task head and the encoder on the task's English training data, in
    one stage or two (XCOPA: SIQA, then COPA); a task without training data (BUCC) gets its
    model ready for evaluation only. ``task`` is the effective task (``tasks.resolve``): its
    family makes the model, the collator and each stage's features.

    With ``resume``, checkpoints go to the store as training goes, and training starts from
    the store's latest checkpoint where there is one (a relaunched trial), skipping the
    stages before it. Callbacks with a ``begin_stage(stage)`` method are told each stage;
    ``on_epoch(tuned, epoch)`` runs after every epoch but the last (a study's pruning)."""
    seed_everything(hparams.seed, use_cpu=not torch.cuda.is_available())
    tokenizer = AutoTokenizer.from_pretrained(encoder_path)
    family = family_of(task.family)
    model = trainable_model(family, encoder_path, task)
    stages = family.training_stages(task, data, tokenizer, hparams.max_length)
    work_dir = Path(work_dir)
    saver = [SaveEvery(resume, stage=0)] if resume else []
    epoch_hook = [_EpochHook(on_epoch)] if on_epoch else []
    trainer = _Trainer(
        model=model,
        args=_training_arguments(hparams, model, work_dir, whole_batches=family.forwards_whole_batches),
        data_collator=family.training_collator(task, tokenizer),
        callbacks=[*callbacks, *saver, *epoch_hook],
    )
    trainer.task = task
    trainer.batch_order = hparams.batch_order
    tuned = FineTuned(model=model, tokenizer=tokenizer, trainer=trainer)
    for hook in epoch_hook:
        hook.tuned = tuned
    resume_stage = resume.latest_stage() if resume else None
    resumed_from = None
    for stage, features in enumerate(stages):
        if resume_stage is not None and stage < resume_stage:
            continue  # its result is in the later stage's checkpoint
        for callback in [*callbacks, *saver]:
            if hasattr(callback, "begin_stage"):
                callback.begin_stage(stage)
        trainer.train_dataset = features()
        # Each stage warms up and decays its own learning rate.
        trainer.optimizer, trainer.lr_scheduler = None, None
        checkpoint = None
        if stage == resume_stage:
            checkpoint = resume.fetch(stage, work_dir / f"resume-stage{stage}")
            state = json.loads((checkpoint / "trainer_state.json").read_text())
            resumed_from = (stage, state["global_step"])
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    tuned.resumed_from = resumed_from
    return tuned


def evaluate(
    tuned: FineTuned,
    task: Task,
    data: str,
    languages: Iterable[str],
    splits: Iterable[str],
    max_length: int,
) -> Evaluation:
    """Score ``tuned`` on every (split, language) whose data is present and labelled, as the
    task's family evaluates it (a multi-task run: each member on its English dev)."""

    def alone(task: Task, model: PreTrainedModel, languages, splits, max_length: int) -> Evaluation:
        trained = tuned
        if model is not tuned.model:  # a multi-task member's own model: its own collator
            collator = family_of(task.family).collator(tuned.tokenizer)
            trainer = Trainer(model=model, args=tuned.trainer.args, data_collator=collator)
            trained = FineTuned(model, tuned.tokenizer, trainer)
        return _evaluate_alone(trained, task, data, languages, splits, max_length)

    return family_of(task.family).evaluate(task, tuned.model, alone, languages, splits, max_length)


def _evaluate_alone(
    tuned: FineTuned, task: Task, data: str, languages: Iterable[str], splits: Iterable[str], max_length: int
) -> Evaluation:
    family = family_of(task.family)
    evaluation = Evaluation()

    def infer(features):
        return predict_by_length(tuned.trainer, features)

    sources = {"dev": task.dev, "test": task.test}
    for split in splits:
        for lang in languages:
            source = sources[split].get(lang)
            if source is None or not is_present(source, data):
                continue
            rows = load_split(source, data)
            predicted = family.predict(rows, task, tuned.tokenizer, max_length, infer, lang, data)
            evaluation.predictions[(split, lang)] = predicted
            evaluation.ids[(split, lang)] = example_ids(rows, task.name)
            gold = family.gold(rows, task)
            if gold is None:
                continue
            for metric, value in family.score(predicted, gold, task, lang).items():
                evaluation.metrics[f"{split}/{metric}/{lang}"] = value
    return evaluation

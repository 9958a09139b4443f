"""What a sweep stores, in bytes, as the code writes it: priced beside its GPU-hours.

Four things take space. In the tracking store's artifacts: each intermediate trial's encoder
(``sweeper/trial/trainable.py``'s ``_save_checkpoint`` → ``FineTuned.save_encoder``), of
which the one a study selects stays as the registered model of its (scale, intermediate)
and the others are deleted where the artifact store can delete
(``sweeper/record/tracking.py``'s ``record_selection``); and each target run's prediction
files (``write_predictions``, in ``tasks/scoring/submission.py``'s formats). Under
``--storage-path``: the resume checkpoints of the trials running (``sweeper/train/resume.py``),
which a finished trial clears. With --keep-target-checkpoints, target runs' whole models too.

Per-parameter counts, and why:

- The hub's XLM-R weights are fp32; bf16 training autocasts and keeps fp32 weights.
- ``save_encoder`` casts to bf16 where the scale trains in bf16 (``sweeper/train/finetune.py``,
  ``FineTuned.save_encoder``): 2 bytes a parameter, 4 for the fp32 CPU scales.
- A target run loads such an encoder back as fp32 (``trainable_model``), so every run trains
  fp32 weights, and the Trainer's checkpoint holds them and AdamW's two moments in fp32
  (torch's AdamW keeps ``zeros_like(param)``): 3 × 4 = 12 bytes a parameter. The scheduler,
  RNG and trainer state are kilobytes.

The task head (a layer or two of hidden size) and the tokenizer's files are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sweeper.plan.plan import Plan
from sweeper.plan.scales import SCALES, Scale
from sweeper.resources.packing import packing_of
from tasks import Task, family_of
from tasks.scoring.retrieval import TOP_K

FP32_BYTES, BF16_BYTES = 4, 2
# The Trainer's checkpoint: the weights and AdamW's exp_avg and exp_avg_sq, all of one dtype.
COPIES_IN_A_RESUME_CHECKPOINT = 3

# Bytes one example takes in a prediction file whose format does not follow from the task's
# labels (``tasks/scoring/submission.py``'s ``_encode``), estimated where ids and answers vary.
PREDICTION_BYTES = {
    # A line {"label": 0} per example.
    "choice": len('{"label": 0}\n'),
    # A line per mined pair, at most one per source sentence: two BUCC ids (de-000000001), a tab.
    "pairs": 2 * len("de-000000001") + 2,
    # "question id": "answer", in a JSON object: an id of up to 40 characters (MLQA's), an
    # answer of about 20 characters at up to 3 bytes each in UTF-8, the quotes and separators.
    "squad_json": 40 + 20 * 3 + 6,
    # "id": [the TOP_K best ids]: ids of up to 16 characters, each quoted and separated.
    "entities": 40 + TOP_K * (16 + 4),
    "answers": 40 + TOP_K * (16 + 4),
}


@dataclass(frozen=True)
class ScaleStorage:
    """One scale's bytes. The artifacts are totals over the sweep; the resume checkpoints
    are what its trials hold at once."""

    scale: str
    # Every intermediate trial's encoder, as logged: an upper bound (a pruned trial logs none)
    # and what stays where the artifact store cannot delete.
    encoder_checkpoints: int
    # The encoders the studies select, one per (scale, intermediate): registered models point
    # at these artifacts (MLflow's registry stores the source URI, no copy), so they are a part
    # of ``encoder_checkpoints``, not bytes besides them.
    registered_models: int
    # Every target run's prediction files.
    predictions: int
    # Target runs' whole models, where --keep-target-checkpoints keeps them; else 0.
    target_checkpoints: int
    # The most one trial holds under --storage-path at once, and how many of the scale's
    # trials run at once on the sweep's GPUs.
    resume_per_trial: int
    trials_at_once: int
    # GPUs one trial holds (a share where packed); 0 for a CPU scale.
    gpus_per_trial: float

    @property
    def resume_at_once(self) -> int:
        return self.resume_per_trial * self.trials_at_once

    @property
    def artifacts(self) -> int:
        """Bytes in the tracking store's artifacts (registered models add none)."""
        return self.encoder_checkpoints + self.predictions + self.target_checkpoints

    @property
    def total(self) -> int:
        return self.artifacts + self.resume_at_once


@dataclass(frozen=True)
class StoragePlan:
    scales: list[ScaleStorage]
    # The GPUs the resume peak is sized for.
    gpus: int

    @property
    def artifacts(self) -> int:
        return sum(scale.artifacts for scale in self.scales)

    @property
    def resume_peak(self) -> int:
        """At most what the running trials hold under --storage-path at once. The GPU scales
        share the GPUs: the most they hold together is the GPUs filled with the scales that
        keep the most bytes a GPU first, each up to its trials at once (fractions of a trial
        allowed, so a bound; GPUs enough for one trial of each scale at least)."""
        on_cpus = sum(scale.resume_at_once for scale in self.scales if scale.gpus_per_trial == 0)
        on_gpus = [scale for scale in self.scales if scale.gpus_per_trial > 0]
        gpus_left = max([float(self.gpus), *(scale.gpus_per_trial for scale in on_gpus)])
        held = 0.0
        for scale in sorted(on_gpus, key=lambda scale: scale.resume_per_trial / scale.gpus_per_trial, reverse=True):
            running = min(float(scale.trials_at_once), gpus_left / scale.gpus_per_trial)
            held += running * scale.resume_per_trial
            gpus_left -= running * scale.gpus_per_trial
        return on_cpus + round(held)

    @property
    def total(self) -> int:
        return self.artifacts + self.resume_peak


def storage_plan(
    plan: Plan, gpus: int, gpu_memory_gib: float | None = None, keep_target_checkpoints: bool = False
) -> StoragePlan:
    """The bytes ``plan`` stores, its trials running on ``gpus`` GPUs (shared as
    ``gpu_memory_gib`` allows, as the launch packs them)."""
    return StoragePlan(
        [_scale_storage(plan, name, gpus, gpu_memory_gib, keep_target_checkpoints) for name in plan.spec.scales], gpus
    )


def _scale_storage(
    plan: Plan, scale_name: str, gpus: int, gpu_memory_gib: float | None, keep_target_checkpoints: bool
) -> ScaleStorage:
    spec, scale = plan.spec, SCALES[scale_name]
    encoder = scale.parameters * encoder_bytes_per_parameter(scale)
    cells = [cell for cell in plan.cells if cell.scale == scale_name]
    studied = [key.task for key in plan.studies if key.scale == scale_name]
    # Each trial's most at once, study trials' and cells'.
    tasks_trained = [plan.tasks[name] for name in studied] + [plan.tasks[cell.target] for cell in cells]
    per_trial = [resume_bytes_per_trial(task, scale) for task in tasks_trained]
    share = _gpus_per_trial(plan, scale, gpu_memory_gib)
    trials = len(studied) * spec.trials + len(cells)
    # The whole model (Trainer.save_model), in fp32, the dtype every run trains in.
    kept = len(cells) * scale.parameters * FP32_BYTES
    return ScaleStorage(
        scale=scale_name,
        encoder_checkpoints=len(spec.intermediates) * spec.trials * encoder,
        registered_models=len(spec.intermediates) * encoder,
        predictions=sum(predictions_bytes(plan.tasks[cell.target], plan.languages[cell.target]) for cell in cells),
        target_checkpoints=kept if keep_target_checkpoints else 0,
        resume_per_trial=max(per_trial, default=0),
        trials_at_once=min(trials, max(1, int(gpus / share)) if share else trials),
        gpus_per_trial=share,
    )


def _gpus_per_trial(plan: Plan, scale: Scale, gpu_memory_gib: float | None) -> float:
    packing = packing_of(scale.name, gpu_memory_gib, plan.longest_sequence) if gpu_memory_gib else None
    return packing.gpu_fraction if packing else float(scale.gpus)


def encoder_bytes_per_parameter(scale: Scale) -> int:
    """``save_encoder`` writes bf16 where the scale trains in bf16 (on a GPU that has it)."""
    return BF16_BYTES if scale.precision == "bf16" else FP32_BYTES


def training_stages(task: Task) -> int:
    """Stages ``fine_tune`` trains (``tasks/data.py``'s ``load_training_stages``): a multi-task
    run one, XCOPA two (SIQA, then COPA), a task evaluated straight from the encoder none."""
    if family_of(task.family).members(task):
        return 1
    return (task.train is not None) + (task.then_train is not None)


def resume_bytes_per_trial(task: Task, scale: Scale) -> int:
    """The most one trial of ``task`` holds under --storage-path. ``ResumeStore.upload`` writes
    a stage's new checkpoint whole before it drops the older one, and nothing drops an
    earlier stage's before the run ends: at the last stage's upload, one checkpoint of each
    earlier stage and two of the last. A task that does not train writes none."""
    stages = training_stages(task)
    checkpoint = scale.parameters * COPIES_IN_A_RESUME_CHECKPOINT * FP32_BYTES
    return (stages + 1) * checkpoint if stages else 0


def prediction_bytes(task: Task) -> int:
    """Bytes one example takes in ``task``'s prediction file."""
    kind = family_of(task.family).submission_format(task)
    if kind == "label":
        # A line holding the label's name (XNLI), its index (PAWS-X), or the index of the
        # sentence retrieved among the language's (Tatoeba).
        if task.labels and not task.submission.labels_as_indices:
            return max(len(name) for name in task.labels) + 1
        choices = len(task.labels) or task.size.eval_examples_per_language
        return len(str(max(choices - 1, 0))) + 1
    if kind == "tags":
        # A line per word holding its tag, a blank line after the sentence: at most a word per token.
        return task.size.mean_tokens * (max((len(tag) for tag in task.labels), default=8) + 1) + 1
    return PREDICTION_BYTES[kind]


def predictions_bytes(task: Task, languages: Sequence[str]) -> int:
    """One target run's prediction files: its dev and test examples (the registry's sizes) in
    every language it is evaluated on."""
    return len(languages) * task.size.eval_examples_per_language * prediction_bytes(task)


def human_bytes(count: float) -> str:
    """``count`` bytes in decimal units (GB = 10⁹ bytes, as disks are sold and ``df -H`` shows)."""
    for unit, size in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count:.0f} B"

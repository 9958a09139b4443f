"""The scale registry: which pretrained model each scale means, and its learning-rate recipe."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal


@dataclass(frozen=True)
class Scale:
    """What one trial of a scale needs: the model, its GPUs, and how it fits in memory."""

    name: str
    # A hub id, or one of LOCAL_MODELS, which xsweep builds from the sweep's own data.
    model: str
    revision: str
    parameters: int
    # GPUs one trial asks Ray for; 0 trains on the trial's CPU.
    gpus: int
    # Examples per device per step; gradient accumulation makes up the recipe's batch.
    per_device_batch: int
    # bf16 where the GPU has it; always fp32 on CPU.
    precision: Literal["fp32", "bf16"]
    # Recompute activations in the backward pass where memory, not compute, is short.
    gradient_checkpointing: bool
    # Multi-GPU scales: shard parameters, gradients and optimizer state across the trial's
    # GPUs (FSDP) where a full copy with AdamW state (16 bytes a parameter) does not fit one.
    sharded: bool
    # The recipe's learning rate goes into every study first; the search range is log-uniform.
    learning_rate: float
    learning_rate_range: tuple[float, float]


TINY_MODEL = "xsweep/tiny-xlmr"
MINI_MODEL = "xsweep/mini-xlmr"
# The models xsweep builds itself (random XLM-Rs, one tokenizer trained on the sweep's text),
# by their shape: two CPU scales give the "Δ against scale" plot a slope to show.
LOCAL_MODELS: dict[str, dict[str, int]] = {
    TINY_MODEL: {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 256},
    MINI_MODEL: {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 512},
}


# The CPU scales xsweep builds itself: same recipe, shapes from LOCAL_MODELS.
_TINY = Scale(
    name="tiny",
    model=TINY_MODEL,
    revision="local",
    parameters=250_000,
    gpus=0,
    per_device_batch=32,
    precision="fp32",
    gradient_checkpointing=False,
    sharded=False,
    learning_rate=1e-3,
    learning_rate_range=(2e-4, 5e-3),
)

SCALES: dict[str, Scale] = {
    scale.name: scale
    for scale in (
        _TINY,
        replace(_TINY, name="mini", model=MINI_MODEL, parameters=1_100_000),
        Scale(
            name="base",
            model="FacebookAI/xlm-roberta-base",
            revision="main",
            parameters=278_000_000,
            gpus=1,
            per_device_batch=32,
            precision="bf16",
            gradient_checkpointing=False,
            sharded=False,
            learning_rate=2e-5,
            learning_rate_range=(5e-6, 1e-4),
        ),
        Scale(
            name="large",
            model="FacebookAI/xlm-roberta-large",
            # The commit that added model.safetensors, the weights `transformers` loads
            # (https://huggingface.co/FacebookAI/xlm-roberta-large/tree/2a489c01713afb599e293739f28b7d36941f13dc).
            # No commit was established for the other scales: `xsweep plan` lists them unpinned.
            revision="2a489c01713afb599e293739f28b7d36941f13dc",
            parameters=560_000_000,
            gpus=1,
            per_device_batch=16,
            precision="bf16",
            gradient_checkpointing=False,
            sharded=False,
            learning_rate=1e-5,
            learning_rate_range=(3e-6, 5e-5),
        ),
        Scale(
            name="xl",
            model="facebook/xlm-roberta-xl",
            revision="main",
            parameters=3_480_000_000,
            gpus=4,
            per_device_batch=8,
            precision="bf16",
            gradient_checkpointing=True,
            sharded=True,
            learning_rate=7e-6,
            learning_rate_range=(2e-6, 3e-5),
        ),
        Scale(
            name="xxl",
            model="facebook/xlm-roberta-xxl",
            revision="main",
            parameters=10_700_000_000,
            gpus=8,
            per_device_batch=4,
            precision="bf16",
            gradient_checkpointing=True,
            sharded=True,
            learning_rate=5e-6,
            learning_rate_range=(1e-6, 2e-5),
        ),
    )
}


def batch_layout(effective_batch: int, per_device_batch: int, devices: int) -> tuple[int, int]:
    """(examples per device per step, gradient-accumulation steps) that keep the recipe's
    effective batch: per-device × devices × accumulation == effective (when it divides)."""
    devices = max(devices, 1)
    per_device = min(per_device_batch, max(1, effective_batch // devices))
    accumulation = max(1, effective_batch // (per_device * devices))
    return per_device, accumulation

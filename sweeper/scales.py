"""The scale registry: which pretrained model each scale means, and its learning-rate recipe."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    # A hub id, or TINY_MODEL for the model xsweep builds from the sweep's own data.
    model: str
    revision: str
    parameters: int
    # GPUs one trial of this scale asks Ray for; 0 trains on the trial's CPU.
    gpus: int
    # The recipe's learning rate goes into every study first; the search range is log-uniform.
    learning_rate: float
    learning_rate_range: tuple[float, float]


TINY_MODEL = "xsweep/tiny-xlmr"

SCALES: dict[str, Scale] = {
    scale.name: scale
    for scale in (
        Scale("tiny", TINY_MODEL, "local", 250_000, 0, 1e-3, (2e-4, 5e-3)),
        Scale("base", "FacebookAI/xlm-roberta-base", "main", 278_000_000, 1, 2e-5, (5e-6, 1e-4)),
        Scale("large", "FacebookAI/xlm-roberta-large", "main", 560_000_000, 1, 1e-5, (3e-6, 5e-5)),
        Scale("xl", "facebook/xlm-roberta-xl", "main", 3_480_000_000, 4, 7e-6, (2e-6, 3e-5)),
        Scale("xxl", "facebook/xlm-roberta-xxl", "main", 10_700_000_000, 8, 5e-6, (1e-6, 2e-5)),
    )
}


def get_scale(name: str) -> Scale:
    try:
        return SCALES[name]
    except KeyError:
        raise KeyError(f"unknown scale {name!r}; valid: {', '.join(SCALES)}") from None

"""The report's two pictures: the answer (non-English Δ) against scale, and Δ by intermediate × target."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on cluster heads or CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sweeper.plan.scales import SCALES  # noqa: E402
from sweeper.results.analysis import Delta, Headline  # noqa: E402


def plot_delta_vs_scale(rows: list[Headline], path: Path) -> Path:
    """The answer (``analysis.headline``, ×100) per intermediate against parameters, with its
    95 % intervals."""
    figure, axes = plt.subplots(figsize=(6.4, 4.2))
    for intermediate in sorted({row.intermediate for row in rows}):
        mine = sorted((r for r in rows if r.intermediate == intermediate), key=lambda r: SCALES[r.scale].parameters)
        x = [SCALES[r.scale].parameters for r in mine]
        y = [100 * r.mean for r in mine]
        errors = [[100 * (r.mean - r.low) for r in mine], [100 * (r.high - r.mean) for r in mine]]
        axes.errorbar(x, y, yerr=errors, marker="o", capsize=3, label=intermediate)
    axes.axhline(0, color="grey", linewidth=0.8)
    axes.set_xscale("log")
    axes.set_xlabel("parameters")
    axes.set_ylabel("non-English Δ vs none (points)")
    axes.set_title("Does scale shrink the harm of English intermediate tasks?")
    axes.legend(title="intermediate")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def plot_delta_heatmap(cells: list[Delta], path: Path) -> Path:
    """Non-English mean Δ (×100) by intermediate × target, one panel per scale."""
    scales = [s for s in SCALES if any(c.scale == s for c in cells)] or ["-"]
    intermediates = sorted({c.intermediate for c in cells})
    targets = sorted({c.target for c in cells})
    grids = {s: np.full((len(intermediates), len(targets)), np.nan) for s in scales}
    for scale in scales:
        for i, intermediate in enumerate(intermediates):
            for j, target in enumerate(targets):
                values = [
                    c.mean
                    for c in cells
                    if (c.scale, c.intermediate, c.target) == (scale, intermediate, target) and c.language != "en"
                ]
                if values:
                    grids[scale][i, j] = 100 * float(np.mean(values))
    finite = [abs(v) for grid in grids.values() for v in grid.flat if np.isfinite(v)]
    bound = max(finite, default=1.0) or 1.0
    figure, axes = plt.subplots(
        1, len(scales), figsize=(1.2 + 1.3 * len(targets) * len(scales), 1.2 + 0.6 * len(intermediates)), squeeze=False
    )
    for axis, scale in zip(axes[0], scales, strict=True):
        image = axis.imshow(grids[scale], cmap="RdBu", vmin=-bound, vmax=bound, aspect="auto")
        axis.set_xticks(range(len(targets)), targets, rotation=45, ha="right")
        axis.set_yticks(range(len(intermediates)), intermediates)
        axis.set_title(scale)
        for (i, j), value in np.ndenumerate(grids[scale]):
            if np.isfinite(value):
                axis.text(j, i, f"{value:+.1f}", ha="center", va="center", fontsize=8)
    figure.colorbar(image, ax=axes[0].tolist(), label="non-English Δ (points)")
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return path

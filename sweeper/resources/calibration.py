"""Measured training throughput for the cost plan: a calibration file, as
``benchmarks/gpu_check.py --calibration-out FILE`` writes it, read and validated whole.

The file is JSON: ``{"version": 1, "entries": [{"scale": "base", "gpu": "NVIDIA H200",
"packing": 1, "tokens_per_s": 216042.0}, ...]}``, one entry per (scale, GPU model, trials
packed per GPU), tokens/s being what one trial trains (padding included: gpu_check's batches
are full). A plan prices a scale with an entry for its GPU model at packing 1 from the
measurement, and any other scale from the stated assumption. Where the plan packs N trials on
a GPU (``--gpu-memory``) and the file also holds the scale at packing N (as
``benchmarks/packed_throughput.py`` writes it), the packed GPU's gain is measured too:
N × one packed trial's tokens/s ÷ one trial's alone.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from sweeper.plan.scales import SCALES
from sweeper.plan.spec import SpecError

VERSION = 1
FIELDS = {"scale": str, "gpu": str, "packing": int, "tokens_per_s": float}


@dataclass(frozen=True)
class MeasuredSpeed:
    scale: str
    gpu: str
    packing: int
    tokens_per_s: float


@dataclass(frozen=True)
class Calibration:
    path: str
    entries: tuple[MeasuredSpeed, ...]

    @property
    def gpus(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(entry.gpu for entry in self.entries))

    def tokens_per_s(self, scale: str, gpu: str, packing: int = 1) -> float | None:
        """One trial's measured training tokens/s, or None where the file has no such entry."""
        found = [e for e in self.entries if (e.scale, e.gpu, e.packing) == (scale, gpu, packing)]
        return found[0].tokens_per_s if found else None


def _bad(path: str, where: str, problem: str) -> SpecError:
    return SpecError(f"--calibration: {path}: {where}{problem}")


def _entry(raw: object, index: int, path: str) -> MeasuredSpeed:
    where = f"entries[{index}]"
    if not isinstance(raw, dict):
        raise _bad(path, where, f" is {raw!r}; valid: an object with {', '.join(FIELDS)}")
    missing = [name for name in FIELDS if name not in raw]
    if missing:
        raise _bad(path, where, f" lacks {', '.join(missing)}; valid: an object with {', '.join(FIELDS)}")
    scale, gpu, packing, tokens = (raw[name] for name in FIELDS)
    if scale not in SCALES:
        raise _bad(path, f"{where}.scale", f" is {scale!r}; valid: {', '.join(SCALES)}")
    if not isinstance(gpu, str) or not gpu.strip():
        raise _bad(path, f"{where}.gpu", f" is {gpu!r}; valid: the GPU model's name")
    if isinstance(packing, bool) or not isinstance(packing, int) or packing < 1:
        raise _bad(path, f"{where}.packing", f" is {packing!r}; valid: an integer ≥ 1 (trials per GPU)")
    if isinstance(tokens, bool) or not isinstance(tokens, int | float) or not math.isfinite(tokens) or tokens <= 0:
        raise _bad(path, f"{where}.tokens_per_s", f" is {tokens!r}; valid: a number > 0")
    return MeasuredSpeed(scale, gpu.strip(), packing, float(tokens))


def read_calibration(path: str | Path) -> Calibration:
    """The file at ``path``, validated whole; ``SpecError`` names the first thing wrong."""
    shown = str(path)
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _bad(shown, "", "no such file; valid: a file benchmarks/gpu_check.py --calibration-out wrote") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _bad(shown, "", f"not JSON ({error}); valid: a file benchmarks/gpu_check.py wrote") from None
    if not isinstance(document, dict) or document.get("version") != VERSION:
        found = document.get("version") if isinstance(document, dict) else type(document).__name__
        raise _bad(shown, "version", f" is {found!r}; valid: {VERSION}")
    entries = document.get("entries")
    if not isinstance(entries, list) or not entries:
        raise _bad(shown, "entries", f" is {entries!r}; valid: a non-empty list")
    measured = tuple(_entry(raw, index, shown) for index, raw in enumerate(entries))
    seen: set[tuple[str, str, int]] = set()
    for index, entry in enumerate(measured):
        key = (entry.scale, entry.gpu, entry.packing)
        if key in seen:
            raise _bad(shown, f"entries[{index}]", f" repeats {key}; valid: one entry per (scale, gpu, packing)")
        seen.add(key)
    return Calibration(shown, measured)


def pick_gpu(calibration: Calibration, gpu: str | None) -> str:
    """The GPU model a plan prices: ``gpu`` where given, else the file's only one."""
    if gpu is not None:
        if gpu not in calibration.gpus:
            raise SpecError(f"--gpu-model: {gpu!r} is not in {calibration.path}; valid: {', '.join(calibration.gpus)}")
        return gpu
    if len(calibration.gpus) > 1:
        raise SpecError(f"--gpu-model: {calibration.path} measures several; valid: {', '.join(calibration.gpus)}")
    return calibration.gpus[0]

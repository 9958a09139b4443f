"""The sweep spec: what the user asked for, validated before anything starts."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from sweeper.scales import SCALES
from sweeper.tracking import NONE
from tasks import HUB, TASKS, intermediates, targets


class SpecError(ValueError):
    """Bad user input: the message is one line naming what was wrong and what is valid."""


@dataclass(frozen=True)
class SweepSpec:
    name: str
    scales: tuple[str, ...]
    # Without `none`: the baseline is always run.
    intermediates: tuple[str, ...]
    targets: tuple[str, ...]
    # None means every language of each target.
    languages: tuple[str, ...] | None
    trials: int
    seeds: int
    data: str

    @property
    def seed_values(self) -> tuple[int, ...]:
        return tuple(range(self.seeds))

    def fingerprint(self) -> str:
        """What makes two launches the same sweep (the name aside)."""
        fields = asdict(self)
        fields.pop("name")
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


def _split_names(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(dict.fromkeys(name.strip() for name in value.split(",") if name.strip()))
    return names


def _check_names(option: str, names: tuple[str, ...], valid: list[str]) -> None:
    unknown = [name for name in names if name not in valid]
    if unknown:
        raise SpecError(f"{option}: unknown {', '.join(unknown)}; valid: {', '.join(valid)}")
    if not names:
        raise SpecError(f"{option}: empty; valid: {', '.join(valid)}")


def build_spec(
    *,
    scales: str,
    intermediate: str | None = None,
    targets_: str | None = None,
    languages: str | None = None,
    trials: int = 4,
    seeds: int = 3,
    data: str = HUB,
    name: str | None = None,
) -> SweepSpec:
    """Validate CLI-style comma lists into a ``SweepSpec``; raise ``SpecError`` if invalid."""
    scale_names = _split_names(scales) or ()
    _check_names("--scales", scale_names, list(SCALES))

    valid_intermediates = [task.name for task in intermediates()]
    if intermediate is None:
        intermediate_names = tuple(valid_intermediates)
    else:
        intermediate_names = tuple(n for n in _split_names(intermediate) or () if n != NONE)
        _check_names("--intermediate", intermediate_names or (NONE,), [*valid_intermediates, NONE])

    valid_targets = [task.name for task in targets()]
    target_names = tuple(valid_targets) if targets_ is None else _split_names(targets_) or ()
    _check_names("--targets", target_names, valid_targets)

    language_names = _split_names(languages)
    if language_names is not None:
        offered = sorted({lang for t in target_names for lang in TASKS[t].languages})
        _check_names("--languages", language_names, offered)

    if trials < 1:
        raise SpecError(f"--trials: {trials}; valid: an integer of at least 1")
    if seeds < 1:
        raise SpecError(f"--seeds: {seeds}; valid: an integer of at least 1")
    if data != HUB:
        if not Path(data).is_dir():
            raise SpecError(f"--data: {data} is not a directory; valid: 'hub' or a local mirror")
        data = str(Path(data).resolve())

    spec = SweepSpec(
        name=name or "",
        scales=scale_names,
        intermediates=intermediate_names,
        targets=target_names,
        languages=language_names,
        trials=trials,
        seeds=seeds,
        data=data,
    )
    if not name:
        spec = SweepSpec(**{**asdict(spec), "name": f"{'+'.join(scale_names)}-{spec.fingerprint()[:8]}"})
    if not all(ch.isalnum() or ch in "-_.+" for ch in spec.name):
        raise SpecError(f"--name: {spec.name!r}; valid: letters, digits and - _ . +")
    return spec

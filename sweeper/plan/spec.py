"""The sweep spec: what the user asked for, validated before anything starts."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from sweeper.plan.sampling import DEFAULT_SAMPLER, SAMPLERS
from sweeper.plan.scales import SCALES
from tasks import (
    HUB,
    TASKS,
    intermediates,
    is_present,
    languages_present,
    targets,
    training_sources,
    with_local_data,
)
from tasks.alternatives import AlternativeError, check_inputs
from tasks.batching import BATCH_ORDERS, DEFAULT_BATCH_ORDER, order_identity
from tasks.catalog.multitask import ALL, NINE

# The intermediate setting without intermediate training: every cell's baseline.
NONE = "none"


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
    # Where the local-only splits (no hub copy: LAReQA, BUCC, Cosmos QA, CCG) are read from
    # (absolute), whatever ``data`` is; None: from ``data`` too.
    local_data: str | None = None
    # The paper's alternatives for every intermediate run (absolute paths), or None.
    translated_data: str | None = None
    mlm_text: str | None = None
    # How each study proposes learning rates (sweeper/plan/sampling.py).
    sampler: str = DEFAULT_SAMPLER
    # How training draws its batches: grouped by length, or random (tasks/batching.py).
    batch_order: str = DEFAULT_BATCH_ORDER

    @property
    def seed_values(self) -> tuple[int, ...]:
        return tuple(range(self.seeds))

    def fingerprint(self) -> str:
        """What makes two launches the same sweep (the name aside)."""
        fields = asdict(self)
        fields.pop("name")
        # Unset alternatives leave the fingerprint of sweeps from before they existed alone.
        for alternative in ("translated_data", "mlm_text", "local_data"):
            if fields[alternative] is None:
                fields.pop(alternative)
        # Likewise the default sampler: a sweep's fingerprint changes only where it chose another.
        if fields["sampler"] == DEFAULT_SAMPLER:
            fields.pop("sampler")
        if fields["batch_order"] == DEFAULT_BATCH_ORDER:
            fields.pop("batch_order")
        else:
            fields["batch_order"] = order_identity(fields["batch_order"])
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


# A sweep's name becomes a folder (artifacts, Tune's experiment) and part of study names and
# run paths: short enough that with a fork's suffix and run ids it stays one file name.
MAX_NAME_LENGTH = 100


def _split_names(option: str, value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = [name.strip() for name in value.split(",")]
    if value.strip() and not all(items):
        raise SpecError(f"{option}: an empty item in {value!r}; valid: names separated by single commas")
    return tuple(dict.fromkeys(name for name in items if name))


def _check_names(option: str, names: tuple[str, ...], valid: list[str]) -> None:
    unknown = [name for name in names if name not in valid]
    if unknown:
        raise SpecError(f"{option}: unknown {', '.join(unknown)}; valid: {', '.join(valid)}")
    if not names:
        raise SpecError(f"{option}: empty; valid: {', '.join(valid)}")


def default_intermediates(data: str, local_data: str | None = None) -> tuple[str, ...]:
    """The study's own: the paper's nine and ``all``, less those whose data is the user's to
    bring (CCG, Cosmos QA) and is neither in ``data`` nor in ``local_data``."""
    names = (*NINE, ALL)
    return tuple(
        name
        for name in names
        if all(is_present(s, data) for s in training_sources(with_local_data(TASKS[name], local_data)))
    )


def default_targets(data: str, local_data: str | None = None) -> tuple[str, ...]:
    """Every target; on the hub, less those whose evaluation data is local only (BUCC's
    monolingual corpora, LAReQA's sentence pool: `xsweep data fetch` builds them from the
    official files) and not in ``local_data``."""
    names = tuple(task.name for task in targets())
    if data != HUB:
        return names
    return tuple(name for name in names if languages_present(with_local_data(TASKS[name], local_data), data))


def _check_local_data(local_data: str) -> str:
    """``local_data`` made absolute, or a ``SpecError``: not a folder, or one holding none of
    the catalog's local-only splits (the wrong folder, or a fetch that wrote nothing yet)."""
    valid = "a folder `xsweep data fetch TASKS --out DIR` wrote (DIR/<folder>/<config>/<split>.jsonl)"
    if not Path(local_data).is_dir():
        raise SpecError(f"--local-data: {local_data} is not a directory; valid: {valid}")
    root = str(Path(local_data).resolve())
    local_only = [
        source
        for task in TASKS.values()
        for source in (*training_sources(task), *task.dev.values(), *task.test.values())
        if source.local_only
    ]
    if not any(is_present(source, root) for source in local_only):
        folders = ", ".join(dict.fromkeys(source.folder for source in local_only))
        raise SpecError(f"--local-data: {local_data} holds no split of {folders}; valid: {valid}")
    return root


def build_spec(
    *,
    scales: str,
    intermediate: str | None = None,
    targets_: str | None = None,
    languages: str | None = None,
    trials: int = 4,
    seeds: int = 3,
    data: str = HUB,
    local_data: str | None = None,
    name: str | None = None,
    translated_data: str | None = None,
    mlm_text: str | None = None,
    sampler: str = DEFAULT_SAMPLER,
    batch_order: str = DEFAULT_BATCH_ORDER,
) -> SweepSpec:
    """Validate CLI-style comma lists into a ``SweepSpec``; raise ``SpecError`` if invalid."""
    scale_names = _split_names("--scales", scales) or ()
    _check_names("--scales", scale_names, list(SCALES))
    if local_data is not None:
        local_data = _check_local_data(local_data)
    intermediate_names = _intermediates(intermediate, data, local_data)
    valid_targets = [task.name for task in targets()]
    target_names = default_targets(data, local_data) if targets_ is None else _split_names("--targets", targets_) or ()
    _check_names("--targets", target_names, valid_targets)
    language_names = _split_names("--languages", languages)
    if language_names is not None:
        offered = sorted({lang for t in target_names for lang in TASKS[t].languages})
        _check_names("--languages", language_names, offered)
    _check_search(sampler, trials, seeds)
    if batch_order not in BATCH_ORDERS:
        raise SpecError(f"--batch-order: {batch_order!r}; valid: {', '.join(BATCH_ORDERS)}")
    if data != HUB:
        if not Path(data).is_dir():
            raise SpecError(f"--data: {data} is not a directory; valid: 'hub' or a local mirror")
        data = str(Path(data).resolve())
    try:
        check_inputs(translated_data, mlm_text)
    except AlternativeError as error:
        raise SpecError(str(error)) from None
    spec = SweepSpec(
        translated_data=str(Path(translated_data).resolve()) if translated_data else None,
        mlm_text=str(Path(mlm_text).resolve()) if mlm_text else None,
        name=name or "",
        scales=scale_names,
        intermediates=intermediate_names,
        targets=target_names,
        languages=language_names,
        trials=trials,
        seeds=seeds,
        data=data,
        local_data=local_data,
        sampler=sampler,
        batch_order=batch_order,
    )
    return _named(spec)


def _intermediates(intermediate: str | None, data: str, local_data: str | None) -> tuple[str, ...]:
    """The intermediates asked for, less ``none`` (always run); by default the study's own."""
    if intermediate is None:
        return default_intermediates(data, local_data)
    names = tuple(n for n in _split_names("--intermediate", intermediate) or () if n != NONE)
    _check_names("--intermediate", names or (NONE,), [*(task.name for task in intermediates()), NONE])
    return names


def _check_search(sampler: str, trials: int, seeds: int) -> None:
    if sampler not in SAMPLERS:
        raise SpecError(f"--sampler: {sampler!r}; valid: {', '.join(SAMPLERS)}")
    if trials < 1:
        raise SpecError(f"--trials: {trials}; valid: an integer of at least 1")
    if seeds < 1:
        raise SpecError(f"--seeds: {seeds}; valid: an integer of at least 1")


def _named(spec: SweepSpec) -> SweepSpec:
    """The spec under its name (by default its scales and fingerprint), checked as a name."""
    if not spec.name:
        spec = replace(spec, name=f"{'+'.join(spec.scales)}-{spec.fingerprint()[:8]}")
    if not all((ch.isascii() and ch.isalnum()) or ch in "-_.+" for ch in spec.name):
        raise SpecError(f"--name: {spec.name!r}; valid: ASCII letters, digits and - _ . +")
    if len(spec.name) > MAX_NAME_LENGTH or spec.name.startswith("."):
        shown = spec.name if len(spec.name) <= 40 else f"{spec.name[:40]}… ({len(spec.name)} characters)"
        raise SpecError(f"--name: {shown!r}; valid: 1 to {MAX_NAME_LENGTH} characters, not starting with '.'")
    return spec

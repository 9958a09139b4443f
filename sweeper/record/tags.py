"""The tag contract: every tag xsweep sets on an MLflow run, written and read through one type.

Runs are found again by their tags (a relaunch finds a trial's run by its key, the report
finds a sweep's target runs by phase), so the names and the way values are spelled live
here and nowhere else. MLflow stores tags as strings; ``RunTags`` holds them typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

# What a tag value is stored as, per field whose type is not a plain string.
_INTS = {"seed", "trial", "launches", "resumed_from_stage", "resumed_from_step", "attempt"}
_BOOLS = {"same_source", "selected", "pruned"}
_LISTS = {"languages", "members"}
# Provenance tags (sweeper/record/provenance.py) keep their own names under this prefix.
PROVENANCE_PREFIX = "provenance/"


@dataclass(frozen=True)
class RunTags:
    """The tags of one run, or of one update to a run's tags: unset fields are not written.

    ``phase`` is one of the plan's phases (``sweeper.plan.plan``); ``sweep`` the sweep's name;
    ``trial_key`` what identifies a trial's run across relaunches (the cell key, or study
    and Optuna trial number)."""

    phase: str = ""
    sweep: str = ""
    sweep_run_id: str = ""
    scale: str = ""
    model: str = ""
    intermediate: str = ""
    target: str = ""
    seed: int | None = None
    trial: int | None = None
    cell: str = ""
    languages: tuple[str, ...] = ()
    trial_key: str = ""
    intermediate_run_id: str = ""
    # Whether a cell's intermediate trains on its target's own English data (MNLI → XNLI).
    same_source: bool | None = None
    # The sweep run's: the spec it ran, and how many launches it took.
    spec_fingerprint: str = ""
    launches: int | None = None
    # What became of a search trial: the study's choice, or stopped by its pruner.
    selected: bool | None = None
    pruned: bool | None = None
    # The one-line cause of a failed run.
    error: str = ""
    # One writer per run (sweeper/record/fence.py): the attempt that owns a trial's run, and
    # the launch's request that its trials stop (Ctrl-C, SIGTERM), with the cause.
    attempt: int | None = None
    stop_requested: str = ""
    # A multi-task run's members that had data; a trial continued from a checkpoint.
    members: tuple[str, ...] = ()
    resumed_from_stage: int | None = None
    resumed_from_step: int | None = None
    # Code, libraries, device and encoder hashes (sweeper/record/provenance.py), each name under
    # PROVENANCE_PREFIX so that `xsweep compare` finds them all.
    provenance: Mapping[str, str] = field(default_factory=dict)

    def as_mlflow(self) -> dict[str, str]:
        """The set fields as MLflow tags."""
        tags = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "provenance" or value in ("", (), None):
                continue
            if item.name in _BOOLS:
                value = str(value).lower()
            elif item.name in _LISTS:
                value = ",".join(value)
            tags[item.name] = str(value)
        for name, value in self.provenance.items():
            if not name.startswith(PROVENANCE_PREFIX):
                raise ValueError(f"provenance tag {name!r} is not under {PROVENANCE_PREFIX!r}")
            tags[name] = str(value)
        return tags

    @classmethod
    def parse(cls, tags: Mapping[str, str]) -> RunTags:
        """A run's tags read back; tags xsweep does not set (MLflow's own) are ignored."""
        values: dict[str, object] = {}
        for item in fields(cls):
            raw = tags.get(item.name)
            if raw is None or item.name == "provenance":
                continue
            if item.name in _INTS:
                values[item.name] = int(raw)
            elif item.name in _BOOLS:
                values[item.name] = raw == "true"
            elif item.name in _LISTS:
                values[item.name] = tuple(raw.split(",")) if raw else ()
            else:
                values[item.name] = raw
        provenance = {name: value for name, value in tags.items() if name.startswith(PROVENANCE_PREFIX)}
        return cls(**values, provenance=provenance)


def tag_filter(**equals: object) -> str:
    """An MLflow search filter on tags: ``tag_filter(phase="target", sweep_run_id=x)``."""
    spelled = RunTags(**equals).as_mlflow()
    return " and ".join(f"tags.{name} = '{value}'" for name, value in spelled.items())

"""The plan: every study and every cell of a sweep, each with a deterministic key."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field

from sweeper.plan.scales import LOCAL_MODELS, SCALES
from sweeper.plan.spec import NONE, SpecError, SweepSpec
from tasks import (
    Alternatives,
    Source,
    Task,
    family_of,
    fingerprint,
    is_present,
    languages_present,
    resolve,
    split_readers,
    task_sources,
)
from tasks.alternatives import AlternativeError
from tasks.batching import DEFAULT_BATCH_ORDER, order_identity

log = logging.getLogger(__name__)

# The phases of a sweep, as its runs' `phase` tag says: the sweep run itself, the learning-rate
# search of intermediate tasks and of targets (on the baseline), and the cells' target runs.
SWEEP, INTERMEDIATE, TARGET_SEARCH, TARGET = "sweep", "intermediate", "target_search", "target"
PHASES = (INTERMEDIATE, TARGET_SEARCH, TARGET, SWEEP)


@dataclass(frozen=True)
class StudyKey:
    """One Optuna study: the learning-rate search of one (scale, phase, task)."""

    scale: str
    phase: str  # INTERMEDIATE or TARGET_SEARCH
    task: str


@dataclass(frozen=True)
class Cell:
    """One final target run: (scale, intermediate, target, seed)."""

    scale: str
    intermediate: str
    target: str
    seed: int
    key: str


@dataclass(frozen=True)
class Plan:
    spec: SweepSpec
    studies: tuple[StudyKey, ...]
    cells: tuple[Cell, ...]
    # The languages each target is evaluated on: those asked for whose data exists.
    languages: dict[str, tuple[str, ...]]
    skipped_languages: dict[str, tuple[str, ...]]
    # Each task as the sweep trains and scores it (``tasks.resolve``), by name.
    tasks: dict[str, Task] = field(default_factory=dict)

    @property
    def total_trials(self) -> int:
        return len(self.studies) * self.spec.trials + len(self.cells)

    @property
    def longest_sequence(self) -> int:
        """The longest max length any of the sweep's trials trains at (what a packed trial's
        memory budget is sized for)."""
        names = (*self.spec.intermediates, *self.spec.targets)
        return max((self.tasks[name].recipe.max_length for name in names if name in self.tasks), default=256)

    def sources(self) -> list[tuple[Task, Source]]:
        """Every split the sweep reads, each once, with the task whose family reads its rows
        (checked before launch; the tiny model's tokenizer trains on their text)."""
        found: dict[Source, Task] = {}
        for name in (*self.spec.intermediates, *self.spec.targets):
            for task, source in split_readers(self.tasks[name], self.languages.get(name, ("en",))):
                if is_present(source, self.spec.data):
                    found.setdefault(source, task)
        return [(task, source) for source, task in found.items()]


def _resolved(spec: SweepSpec, name: str) -> Task:
    """``name`` resolved once for the whole plan; an alternative's missing input is the spec's error."""
    try:
        return resolve(name, spec.data, Alternatives(spec.translated_data, spec.mlm_text), spec.local_data)
    except AlternativeError as error:
        raise SpecError(str(error)) from None


def _check_training_data(task: Task, data: str, option: str) -> None:
    """A task that trains needs its English training stages and its English dev split
    (model selection); one evaluated straight from the encoder (BUCC) needs neither."""
    problem = family_of(task.family).training_data_problem(task, data)
    if problem:
        raise SpecError(f"{option}: {problem}")


def cell_key(fields: dict) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def _target_languages(spec: SweepSpec, task: Task) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The target's languages with evaluation data, and those asked for without it (a warning);
    ``SpecError`` where none has data, or its training data is missing."""
    # English is always evaluated: model selection uses English dev data.
    asked = set(spec.languages or task.languages) | {"en"}
    wanted = [lang for lang in task.languages if lang in asked]
    present = tuple(languages_present(task, spec.data, wanted))
    _check_training_data(task, spec.data, "--data")
    if not present:
        # A target with no hub copy (BUCC) is looked for in --local-data, where given.
        local = spec.local_data is not None and all(task.dev[lang].local_only for lang in wanted)
        option, root = ("--local-data", spec.local_data) if local else ("--data", spec.data)
        expected = ", ".join(task.dev[lang].local_path(root) for lang in wanted)
        in_languages = " ".join(wanted)
        raise SpecError(f"{option}: {task.name} has no evaluation data in {in_languages}; expected one of {expected}")
    skipped = tuple(lang for lang in wanted if lang not in present)
    if skipped:
        log.warning("%s: no data for %s; evaluating %s", task.name, " ".join(skipped), " ".join(present))
    return present, skipped


def make_plan(spec: SweepSpec) -> Plan:
    """Expand ``spec`` into studies and cells; raise ``SpecError`` where data is missing."""
    languages: dict[str, tuple[str, ...]] = {}
    skipped: dict[str, tuple[str, ...]] = {}
    tasks: dict[str, Task] = {}
    for name in spec.targets:
        task = tasks[name] = _resolved(spec, name)
        languages[name], skipped[name] = _target_languages(spec, task)
    for name in spec.intermediates:
        tasks[name] = _resolved(spec, name)
        _check_training_data(tasks[name], spec.data, "--data")

    data_fingerprints = {
        name: fingerprint(task_sources(tasks[name], languages.get(name, ("en",))), spec.data)
        for name in (*spec.intermediates, *spec.targets)
    }
    # The tiny model's tokenizer is trained on all of the sweep's text: its identity is that
    # of every task's data together (no file is hashed twice).
    tiny_data = cell_key(data_fingerprints)
    studies = [StudyKey(s, INTERMEDIATE, i) for s in spec.scales for i in spec.intermediates]
    # A target evaluated straight from the encoder (BUCC) has no learning rate to search.
    studies += [StudyKey(s, TARGET_SEARCH, t) for s in spec.scales for t in spec.targets if tasks[t].train]

    cells = []
    for scale_name in spec.scales:
        scale = SCALES[scale_name]
        for intermediate in (NONE, *spec.intermediates):
            for target in spec.targets:
                for seed in spec.seed_values:
                    fields = {
                        "scale": asdict(scale),
                        "model_data": tiny_data if scale.model in LOCAL_MODELS else None,
                        "intermediate": intermediate,
                        "intermediate_data": data_fingerprints.get(intermediate),
                        "intermediate_recipe": None if intermediate == NONE else asdict(tasks[intermediate].recipe),
                        "target": target,
                        "target_data": data_fingerprints[target],
                        "target_recipe": asdict(tasks[target].recipe),
                        "languages": languages[target],
                        "trials": spec.trials,
                        "seed": seed,
                    }
                    if spec.batch_order != DEFAULT_BATCH_ORDER:  # the default leaves earlier keys alone
                        fields["batch_order"] = order_identity(spec.batch_order)
                    cells.append(Cell(scale_name, intermediate, target, seed, cell_key(fields)))
    return Plan(spec, tuple(studies), tuple(cells), languages, skipped, tasks)

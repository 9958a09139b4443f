"""The plan: every study and every cell of a sweep, each with a deterministic key."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass

from sweeper.scales import LOCAL_MODELS, SCALES
from sweeper.spec import NONE, SpecError, SweepSpec
from tasks import (
    HUB,
    Source,
    Task,
    fingerprint,
    get_task,
    is_present,
    languages_present,
    task_sources,
    training_sources,
)
from tasks.alternatives import AlternativeError, with_alternatives
from tasks.checks import split_readers
from tasks.multitask import is_multitask, member_tasks, members_present

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

    @property
    def total_trials(self) -> int:
        return len(self.studies) * self.spec.trials + len(self.cells)

    def sources(self) -> list[tuple[Task, Source]]:
        """Every split the sweep reads, each once, with the task whose family reads its rows
        (checked before launch; the tiny model's tokenizer trains on their text)."""
        found: dict[Source, Task] = {}
        for name in (*self.spec.intermediates, *self.spec.targets):
            for task, source in split_readers(trained_task(self.spec, name), self.languages.get(name, ("en",))):
                if is_present(source, self.spec.data):
                    found.setdefault(source, task)
        return [(task, source) for source, task in found.items()]


def trained_task(spec: SweepSpec, name: str) -> Task:
    """The task as the sweep trains it: an intermediate with the sweep's alternatives."""
    return with_alternatives(get_task(name), spec.translated_data, spec.mlm_text)


def _task_sources(spec: SweepSpec, name: str, languages: tuple[str, ...]) -> list[Source]:
    return task_sources(trained_task(spec, name), languages)


def _check_training_data(task: Task, data: str, option: str) -> None:
    """A task that trains needs its English training stages and its English dev split
    (model selection); one evaluated straight from the encoder (BUCC) needs neither."""
    if is_multitask(task):
        if not members_present(task, data).settings["members"]:
            expected = ", ".join(member.train.local_path(data) for member in member_tasks(task) if member.train)
            raise SpecError(f"{option}: {task.name} trains on its members' data, none present; expected {expected}")
        return
    if task.train is None:
        return
    needed = [*training_sources(task), task.dev["en"]]
    if data == HUB and any(source.local_only for source in needed):
        layout = ", ".join(source.local_path("DIR") for source in needed if source.local_only)
        raise SpecError(f"{option}: {task.name}'s data is not on the hub (licensed); bring it as {layout}, --data DIR")
    missing = [source.local_path(data) for source in needed if not is_present(source, data)]
    if missing:
        raise SpecError(f"{option}: {task.name} needs its English training and dev data; expected {', '.join(missing)}")


def cell_key(fields: dict) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def make_plan(spec: SweepSpec) -> Plan:
    """Expand ``spec`` into studies and cells; raise ``SpecError`` where data is missing."""
    languages: dict[str, tuple[str, ...]] = {}
    skipped: dict[str, tuple[str, ...]] = {}
    for name in spec.targets:
        task = get_task(name)
        # English is always evaluated: model selection uses English dev data.
        asked = set(spec.languages or task.languages) | {"en"}
        wanted = [lang for lang in task.languages if lang in asked]
        present = tuple(languages_present(task, spec.data, wanted))
        _check_training_data(task, spec.data, "--data")
        if not present:
            expected = ", ".join(task.dev[lang].local_path(spec.data) for lang in wanted)
            raise SpecError(f"--data: {name} has no evaluation data in {' '.join(wanted)}; expected one of {expected}")
        languages[name] = present
        skipped[name] = tuple(lang for lang in wanted if lang not in present)
        if skipped[name]:
            log.warning("%s: no data for %s; evaluating %s", name, " ".join(skipped[name]), " ".join(present))
    for name in spec.intermediates:
        try:
            task = trained_task(spec, name)
        except AlternativeError as error:
            raise SpecError(str(error)) from None
        _check_training_data(task, spec.data, "--data")

    data_fingerprints = {
        name: fingerprint(_task_sources(spec, name, languages.get(name, ("en",))), spec.data)
        for name in (*spec.intermediates, *spec.targets)
    }
    # The tiny model's tokenizer is trained on all of the sweep's text: its identity is that
    # of every task's data together (no file is hashed twice).
    tiny_data = cell_key(data_fingerprints)
    studies = [StudyKey(s, INTERMEDIATE, i) for s in spec.scales for i in spec.intermediates]
    # A target evaluated straight from the encoder (BUCC) has no learning rate to search.
    studies += [StudyKey(s, TARGET_SEARCH, t) for s in spec.scales for t in spec.targets if get_task(t).train]

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
                        "intermediate_recipe": None if intermediate == NONE else asdict(get_task(intermediate).recipe),
                        "target": target,
                        "target_data": data_fingerprints[target],
                        "target_recipe": asdict(get_task(target).recipe),
                        "languages": languages[target],
                        "trials": spec.trials,
                        "seed": seed,
                    }
                    cells.append(Cell(scale_name, intermediate, target, seed, cell_key(fields)))
    return Plan(spec, tuple(studies), tuple(cells), languages, skipped)

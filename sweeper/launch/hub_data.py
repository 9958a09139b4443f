"""The sweep's hub data before it starts: the sources and models not pinned to a commit (a
reproducibility warning of `xsweep plan`), and the check a launch with ``--data hub`` runs
first, so that a missing source fails in seconds rather than after hours of training."""

from __future__ import annotations

from collections.abc import Iterable

from sweeper.plan.plan import Plan
from sweeper.plan.scales import SCALES
from sweeper.plan.spec import SweepSpec
from tasks import DataError, get_task, is_present, targets, training_sources
from tasks.catalog.multitask import ALL, NINE
from tasks.checks import SourceCheck, check_sources
from tasks.sources import labelled
from tasks.task import is_commit


def unpinned(plan: Plan) -> list[str]:
    """One line per hub repository and model the sweep reads at a branch, not a commit."""
    lines = []
    revisions = sorted({(s.dataset, s.revision) for _, s in plan.sources() if s.dataset and s.path is None})
    lines += [f"dataset {repo}@{revision}" for repo, revision in revisions if not is_commit(revision)]
    for name in plan.spec.scales:
        scale = SCALES[name]
        if scale.revision != "local" and not is_commit(scale.revision):
            lines.append(f"model {scale.model}@{scale.revision} (scale {name})")
    return lines


def served_commits(checks: Iterable[SourceCheck]) -> dict[str, str]:
    """``repo@revision`` → the commit the hub served for it: a run's record of its data."""
    return {f"{c.source.dataset}@{c.source.revision}": c.served for c in checks if c.ok}


def check_hub_data(plan: Plan) -> dict[str, str]:
    """Ask the hub for every source the sweep reads; a ``DataError`` naming each missing one
    (one line), else the commits served."""
    checks = check_sources(labelled(plan.sources()))
    failed = [check for check in checks if not check.ok]
    if failed:
        shown = "; ".join(check.line() for check in failed[:5])
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        raise DataError(
            f"--data hub: {len(failed)} of {len(checks)} sources are not on the hub as the catalog expects: "
            f"{shown}{more}; `xsweep data check` lists them all (--no-data-check skips this check)"
        )
    return served_commits(checks)


def target_coverage(spec: SweepSpec) -> list[str]:
    """What a ``--data hub`` sweep leaves out, and how to run it all: the benchmark's targets
    (XTREME-R's, then XTREME's others), those of them and of the paper's intermediates whose data
    is local only, which of those ``--local-data`` holds, and the exact commands that fetch the
    others from their official files and run them (or, offline, mirror the rest beside them)."""
    from tasks.fetch import CONVERTERS

    every = targets()
    xtreme_r = [task.name for task in every if "xtreme-r" in task.submission.benchmarks]
    xtreme = [task.name for task in every if task.name not in xtreme_r and "xtreme" in task.submission.benchmarks]
    lines = [f"XTREME-R's {len(xtreme_r)} targets: {' '.join(xtreme_r)}; XTREME's others: {' '.join(xtreme)}"]
    left_out = [task.name for task in every if task.name not in spec.targets]
    left_out += [name for name in NINE if name not in spec.intermediates]
    named = (*spec.targets, *left_out, *spec.intermediates)
    # Named or left out, a fetchable task's data is never read from the hub.
    fetchable = [name for name in dict.fromkeys(named) if name in CONVERTERS]
    fetched = [name for name in fetchable if spec.local_data and _fetched(name, spec.local_data)]
    if fetched:
        lines.append(f"local only, read from --local-data {spec.local_data}: {', '.join(fetched)}")
    to_fetch = [name for name in fetchable if name not in fetched]
    if not to_fetch:
        return lines
    if spec.local_data:
        return [
            *lines,
            f"local only and not in --local-data yet: {', '.join(to_fetch)}; to run every target:",
            f"  xsweep data fetch {','.join(to_fetch)} --out {spec.local_data}",
            "  then this command again",
        ]
    mirrored = [name for name in dict.fromkeys(named) if name not in fetchable]
    mirrored = [name for name in mirrored if name != ALL and not _local_only(name)]
    return [
        *lines,
        f"local only, so not read from the hub: {', '.join(to_fetch)}; to run every target:",
        f"  xsweep data fetch {','.join(to_fetch)} --out DIR",
        "  then this command with --local-data DIR",
        f"  (offline, instead: xsweep data mirror --tasks {','.join(mirrored)} --out DIR, then --data DIR)",
    ]


def _local_only(name: str) -> bool:
    """Whether ``name`` trains or is scored on data the hub does not hold (CCG, the fetched ones)."""
    task = get_task(name)
    return any(source.local_only for source in (*training_sources(task), *task.dev.values()))


def _fetched(name: str, local_data: str) -> bool:
    """Whether ``local_data`` holds ``name``'s local-only training splits and some of its
    local-only evaluation splits (a language or more: the plan names those it skips)."""
    task = get_task(name)
    training = [source for source in training_sources(task) if source.local_only]
    evaluation = [source for source in (*task.dev.values(), *task.test.values()) if source.local_only]
    return all(is_present(s, local_data) for s in training) and any(is_present(s, local_data) for s in evaluation)

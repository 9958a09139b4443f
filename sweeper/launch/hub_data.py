"""The sweep's hub data before it starts: the sources and models not pinned to a commit (a
reproducibility warning of `xsweep plan`), and the check a launch with ``--data hub`` runs
first, so that a missing source fails in seconds rather than after hours of training."""

from __future__ import annotations

from collections.abc import Iterable

from sweeper.plan.plan import Plan
from sweeper.plan.scales import SCALES
from tasks import DataError
from tasks.hub import SourceCheck, check_sources
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

"""How a study proposes learning rates, so that a rerun proposes the same ones.

A study's proposals depend only on the spec: its sampler's seed comes from the study's
(scale, phase, task), never from a launch's run id, and no proposal depends on the order
in which parallel trials finish. The default, ``qmc``, is a scrambled Sobol sequence over the
scale's log range after the recipe's learning rate: a fixed design, whatever the scores.
``tpe`` models the scores told so far; it asks its later trials only once every earlier
trial of the study has ended, so it too sees the same history in every launch.
"""

from __future__ import annotations

import hashlib
import warnings

SAMPLERS = ("qmc", "tpe")
DEFAULT_SAMPLER = "qmc"
# Few trials per study: the pruner and TPE start after two, not after Optuna's default ten.
STARTUP_TRIALS = 2


def study_seed(label: str) -> int:
    """The sampler's seed for the study of ``label`` (scale/phase/task): the same in every
    launch and every store, so two sweeps of one spec propose the same learning rates."""
    return int(hashlib.sha256(label.encode()).hexdigest()[:8], 16)


def make_sampler(kind: str, seed: int):
    """An Optuna sampler of ``kind``; imported here, as `xsweep plan` needs only the names."""
    import optuna

    if kind == "qmc":
        with warnings.catch_warnings():
            # QMCSampler is marked experimental; its sequence is fixed by the seed all the same.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.QMCSampler(qmc_type="sobol", scramble=True, seed=seed)
    if kind == "tpe":
        return optuna.samplers.TPESampler(n_startup_trials=STARTUP_TRIALS, seed=seed)
    raise ValueError(f"sampler {kind!r}; valid: {', '.join(SAMPLERS)}")


def may_hand_out(handed_out: int, done: int, startup: int = STARTUP_TRIALS) -> bool:
    """Whether a study's next trial may start now. The first ``startup`` trials start at once;
    each later one waits until every earlier trial of its study has ended. The pruner judges a
    trial against the trials complete when it reports, and TPE proposes from the trials told
    when it is asked: waiting makes both the same set in every launch, whichever trial of a
    parallel pair finished first."""
    return handed_out < startup or done == handed_out


def best_outcome_index(scores: list[tuple[int, float]]) -> int | None:
    """Of (trial number, score) pairs, the index of the highest score; on a tie the earliest
    trial (the recipe's first), not whichever finished first."""
    if not scores:
        return None
    return max(range(len(scores)), key=lambda i: (scores[i][1], -scores[i][0]))

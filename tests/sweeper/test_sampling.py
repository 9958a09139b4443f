"""Learning-rate proposals that follow from the spec alone, on real Optuna studies."""

from __future__ import annotations

import math

import optuna
import pytest

from sweeper.plan.sampling import best_outcome_index, make_sampler, may_hand_out, study_seed

LOW, HIGH = 2e-4, 5e-3


def _proposals(kind: str, label: str, told: list[float] | None = None, n: int = 4) -> list[float]:
    """Ask a fresh in-memory study ``n`` times, recipe first, telling it ``told`` scores."""
    study = optuna.create_study(direction="maximize", sampler=make_sampler(kind, study_seed(label)))
    study.enqueue_trial({"learning_rate": 1e-3})
    distribution = optuna.distributions.FloatDistribution(LOW, HIGH, log=True)
    rates = []
    for index in range(n):
        trial = study.ask({"learning_rate": distribution})
        rates.append(trial.params["learning_rate"])
        study.tell(trial, (told or [0.5] * n)[index])
    return rates


def test_qmc_proposes_the_same_design_whatever_the_scores() -> None:
    first = _proposals("qmc", "tiny/intermediate/mnli", told=[0.1, 0.9, 0.2, 0.8])
    second = _proposals("qmc", "tiny/intermediate/mnli", told=[0.9, 0.1, 0.8, 0.2])
    assert first == second
    assert first[0] == 1e-3  # the recipe first
    assert all(LOW <= rate <= HIGH for rate in first) and len(set(first)) == 4
    # Another study draws another scrambling of the sequence.
    assert _proposals("qmc", "tiny/intermediate/qqp")[1:] != first[1:]


def test_qmc_spreads_over_the_log_range() -> None:
    rates = _proposals("qmc", "tiny/target_search/xnli", n=9)[1:]
    positions = sorted((math.log(rate) - math.log(LOW)) / (math.log(HIGH) - math.log(LOW)) for rate in rates)
    # Eight Sobol points in [0, 1): one in each eighth.
    assert [int(position * 8) for position in positions] == list(range(8))


def test_tpe_asked_in_order_proposes_the_same_again() -> None:
    told = [0.3, 0.6, 0.4, 0.7]
    assert _proposals("tpe", "tiny/intermediate/mnli", told) == _proposals("tpe", "tiny/intermediate/mnli", told)


def test_an_unknown_sampler_is_refused() -> None:
    with pytest.raises(ValueError, match="valid: qmc, tpe"):
        make_sampler("grid", 0)


def test_later_trials_wait_for_every_earlier_one() -> None:
    assert may_hand_out(handed_out=0, done=0) and may_hand_out(handed_out=1, done=0)
    assert not may_hand_out(handed_out=2, done=1)  # the third waits for both startup trials
    assert may_hand_out(handed_out=2, done=2)
    assert not may_hand_out(handed_out=3, done=2)


def test_a_tie_goes_to_the_earlier_trial_not_the_first_finished() -> None:
    assert best_outcome_index([(1, 0.6), (0, 0.6), (2, 0.5)]) == 1
    assert best_outcome_index([(0, 0.5), (1, 0.7)]) == 1
    assert best_outcome_index([]) is None

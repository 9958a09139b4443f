"""`xsweep compare`'s decisions on plain run records: what agrees, what differs, and why."""

from __future__ import annotations

from sweeper.results.compare import RunRecord, compare_records

PROVENANCE = {"provenance/torch": "2.13.0", "provenance/encoder_sha256": "aa"}


def _run(name: str, rate: float | None = 1e-3, provenance: dict | None = None, **metrics: float) -> RunRecord:
    phase = "target" if "→" in name and "/s" in name else "intermediate"
    scores = {key.replace("__", "/"): value for key, value in metrics.items()}
    return RunRecord(phase, name, "FINISHED", rate, scores, provenance or PROVENANCE)


def test_the_same_runs_agree() -> None:
    runs = [_run("tiny/mnli/t0", dev__accuracy__en=0.6), _run("tiny/mnli→xnli/s0", dev__accuracy__de=0.5)]
    comparison = compare_records(runs, list(reversed(runs)))
    assert comparison.agrees and not comparison.provenance
    assert [run.metrics_compared for run in comparison.runs] == [1, 1]


def test_metrics_agree_within_the_tolerance_and_differ_beyond_it() -> None:
    a = [_run("tiny/mnli→xnli/s0", dev__accuracy__de=0.5, test__accuracy__de=0.7)]
    b = [_run("tiny/mnli→xnli/s0", dev__accuracy__de=0.5 + 5e-7, test__accuracy__de=0.71)]
    (run,) = compare_records(a, b, tolerance=1e-6).runs
    assert run.differences == ("test/accuracy/de 0.7 vs 0.71",)
    assert compare_records(a, b, tolerance=0.02).agrees


def test_a_learning_rate_a_missing_metric_and_a_missing_run_are_listed() -> None:
    a = [_run("tiny/mnli/t1", 2e-3, dev__accuracy__en=0.6), _run("tiny/qqp/t0", dev__accuracy__en=0.5)]
    b = [_run("tiny/mnli/t1", 3e-3), _run("tiny/mnli→xnli/s2", dev__accuracy__en=0.5)]
    by_name = {run.name: run for run in compare_records(a, b).runs}
    assert by_name["tiny/mnli/t1"].differences == ("learning_rate 0.002 vs 0.003", "dev/accuracy/en only in A")
    assert by_name["tiny/qqp/t0"].differences == ("only in A",)
    assert by_name["tiny/mnli→xnli/s2"].differences == ("only in B",)
    assert by_name["tiny/mnli→xnli/s2"].learning_rates == (None, 1e-3)


def test_differing_provenance_is_counted_per_tag() -> None:
    other = {**PROVENANCE, "provenance/torch": "2.12.1"}
    a = [_run("tiny/mnli/t0"), _run("tiny/mnli/t1"), _run("tiny/qqp/t0")]
    b = [_run("tiny/mnli/t0", provenance=other), _run("tiny/mnli/t1", provenance=other), _run("tiny/qqp/t0")]
    comparison = compare_records(a, b)
    assert comparison.agrees  # the numbers agree; the tags say what could have made them differ
    (torch,) = comparison.provenance
    assert (torch.tag, torch.runs, torch.values) == ("provenance/torch", 2, ("2.13.0", "2.12.1"))
    assert torch.example_run == "intermediate tiny/mnli/t0"

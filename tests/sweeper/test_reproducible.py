"""The same spec on the same code gives the same numbers: a tiny sweep launched twice into
two stores (2 intermediates, 1 target, 2 trials, 2 seeds, two trials at a time on two CPUs);
and `xsweep compare` names the runs of two stores that differ."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from sweeper.record.provenance import encoder_tags
from tests.conftest import FinishedSweep, run_xsweep

pytestmark = pytest.mark.slow


def _runs(sweep: FinishedSweep) -> dict[tuple[str, str], object]:
    """The sweep's runs by (phase, run name); the sweep run by its phase alone."""
    client = MlflowClient(sweep.tracking_uri)
    experiment = client.get_experiment_by_name(sweep.name)
    runs = client.search_runs([experiment.experiment_id], max_results=5000)
    return {(r.data.tags["phase"], "" if r.data.tags["phase"] == "sweep" else r.info.run_name): r for r in runs}


def _results(run) -> dict[str, float]:
    """What a run found: its metrics without the system metrics (how the machine was busy)."""
    return {key: value for key, value in run.data.metrics.items() if not key.startswith("system/")}


def test_a_rerun_reproduces_every_learning_rate_and_metric(
    finished_sweep: FinishedSweep, relaunched_sweep: FinishedSweep
) -> None:
    first, second = _runs(finished_sweep), _runs(relaunched_sweep)
    assert set(first) == set(second) and len(first) == 13
    for key, run in first.items():
        other = second[key]
        assert run.data.params.get("learning_rate") == other.data.params.get("learning_rate"), key
        assert set(_results(run)) == set(_results(other)), key
        for metric, value in _results(run).items():
            assert other.data.metrics[metric] == pytest.approx(value, abs=1e-6), (key, metric)
    # The second trial of each study is a proposal, not the recipe's rate, and still the same.
    assert first[("intermediate", "tiny/mnli/t1")].data.params["learning_rate"] != "0.001"
    sweeps = first[("sweep", "")].data.tags, second[("sweep", "")].data.tags
    assert sweeps[0]["provenance/tiny_tokenizer_sha256"] == sweeps[1]["provenance/tiny_tokenizer_sha256"]


def test_every_run_carries_its_provenance(finished_sweep: FinishedSweep, tmp_path: Path) -> None:
    runs = _runs(finished_sweep)
    tiny = runs[("sweep", "")].data.tags
    for (phase, name), run in runs.items():
        tags = run.data.tags
        assert tags["provenance/xsweep_commit"] == tiny["provenance/xsweep_commit"]
        if phase == "sweep":
            continue
        for tag in ("torch", "transformers", "datasets", "ray", "mlflow", "optuna", "device", "sampler"):
            assert tags[f"provenance/{tag}"], (name, tag)
        # Every run starts from the tiny model's tokenizer; study trials from its weights too.
        assert tags["provenance/tokenizer_sha256"] == tiny["provenance/tiny_tokenizer_sha256"]
        if phase != "target" or tags["intermediate"] == "none":
            assert tags["provenance/encoder_sha256"] == tiny["provenance/tiny_encoder_sha256"], name
    # A target run's encoder is its intermediate's checkpoint: the hash says so.
    cell = runs[("target", "tiny/mnli→xnli/s0")]
    checkpoint = mlflow.artifacts.download_artifacts(
        run_id=cell.data.tags["intermediate_run_id"], artifact_path="checkpoint",
        dst_path=str(tmp_path), tracking_uri=finished_sweep.tracking_uri,
    )  # fmt: skip
    assert cell.data.tags["provenance/encoder_sha256"] == encoder_tags(checkpoint)["provenance/encoder_sha256"]
    assert cell.data.tags["provenance/encoder_sha256"] != tiny["provenance/tiny_encoder_sha256"]


def test_compare_finds_the_two_launches_equal(finished_sweep: FinishedSweep, relaunched_sweep: FinishedSweep) -> None:
    result = run_xsweep(
        "compare", "e2e", "e2e", "--other-tracking-uri", relaunched_sweep.tracking_uri,
        tracking_uri=finished_sweep.tracking_uri, cwd=finished_sweep.work_dir,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "A and B agree: 13 of 13 runs agree" in result.stdout
    # The same starting models and tokenizers, libraries and device (the commit may be
    # "+dirty" in one launch only, where the tree changed between the two).
    differing_tags = {line.split("│")[1].strip() for line in result.stdout.splitlines() if line.startswith("│ ")}
    assert not differing_tags & {"encoder_sha256", "tokenizer_sha256", "torch", "transformers", "device"}


def test_compare_lists_the_runs_that_differ(
    finished_sweep: FinishedSweep, relaunched_sweep: FinishedSweep, tmp_path: Path
) -> None:
    """A copy of the rerun's store in which two runs found other numbers (a metric logged anew
    by hand) and one ran under another sampler (its provenance tag): compare names exactly
    those two runs, and the tag."""
    copy = tmp_path / "mlflow.db"
    shutil.copy(relaunched_sweep.tracking_uri.removeprefix("sqlite:///"), copy)
    changed = replace(relaunched_sweep, tracking_uri=f"sqlite:///{copy}")
    runs, client = _runs(changed), MlflowClient(changed.tracking_uri)
    differing = {"tiny/mnli/t1", "tiny/mnli→xnli/s0"}
    for name in differing:
        run = next(run for (_, run_name), run in runs.items() if run_name == name)
        metric = next(iter(_results(run)))
        # The latest value of a metric is that of its highest step.
        client.log_metric(run.info.run_id, metric, run.data.metrics[metric] + 0.5, step=10**6)
    client.set_tag(runs["target", "tiny/none→xnli/s1"].info.run_id, "provenance/sampler", "tpe")
    result = run_xsweep(
        "compare", "e2e", "e2e", "--other-tracking-uri", changed.tracking_uri,
        tracking_uri=finished_sweep.tracking_uri, cwd=finished_sweep.work_dir,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    listed = {line.split("│")[2].strip() for line in result.stdout.splitlines() if "│ NO " in line}
    assert listed == differing
    assert f"A and B differ: {13 - len(differing)} of 13 runs agree" in result.stdout
    assert "sampler" in result.stdout and "tpe" in result.stdout

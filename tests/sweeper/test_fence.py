"""One writer per run: an attempt that lost its run (to a newer attempt of the trial, or to
the launch's stop request) writes nothing more; on a real MLflow store."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from sweeper.record.fence import RunFence
from sweeper.record.tags import RunTags
from sweeper.record.tracking import RunTaken, TrackedRun


def _run(tmp_path: Path) -> tuple[MlflowClient, str]:
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_id = client.create_experiment("fence", artifact_location=str(tmp_path / "artifacts"))
    return client, TrackedRun.start(client, experiment_id, "trial", {}).run_id


def _attempt(client: MlflowClient, run_id: str) -> TrackedRun:
    run = TrackedRun.reopen(client, run_id, mark_running=False)
    run.fence = RunFence.claim(client, run_id)
    return run


def test_an_older_attempt_writes_nothing_once_a_newer_one_claims_the_run(tmp_path: Path) -> None:
    client, run_id = _run(tmp_path)
    old = _attempt(client, run_id)
    old.log_metrics({"train/loss": 1.0}, step=1)
    old.flush()
    new = _attempt(client, run_id)
    assert (old.fence.attempt, new.fence.attempt) == (1, 2)
    # The old attempt's later point is dropped, its other writes refused, its training stopped.
    old.log_metrics({"train/loss": 0.5}, step=2)
    old.flush()
    with pytest.raises(RunTaken, match="attempt 2 of this trial took over its run from attempt 1"):
        old.set_tags({"late": "yes"})
    with pytest.raises(RunTaken):
        old.fence.check()
    with pytest.raises(RunTaken):
        old.finish("FINISHED")
    new.log_metrics({"train/loss": 0.4}, step=2)
    new.finish("FINISHED")
    run = client.get_run(run_id)
    assert [(p.step, p.value) for p in client.get_metric_history(run_id, "train/loss")] == [(1, 1.0), (2, 0.4)]
    assert "late" not in run.data.tags and run.info.status == "FINISHED"


def test_a_stop_request_stops_the_attempt_and_the_next_claim_lifts_it(tmp_path: Path) -> None:
    client, run_id = _run(tmp_path)
    running = _attempt(client, run_id)
    cause = "the launch was stopped by SIGTERM; a relaunch continues this run"
    client.set_tag(run_id, "stop_requested", cause)
    with pytest.raises(RunTaken, match="SIGTERM"):
        running.log_params({"learning_rate": 1e-3})
    # The relaunch's attempt owns the run again, and is not stopped by the old request.
    relaunched = _attempt(client, run_id)
    assert RunTags.parse(client.get_run(run_id).data.tags).stop_requested == ""
    relaunched.fence.check()
    relaunched.log_params({"learning_rate": 1e-3})
    assert client.get_run(run_id).data.params == {"learning_rate": "0.001"}

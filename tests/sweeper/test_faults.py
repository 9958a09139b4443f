"""A user's bad day: a launch interrupted, a worker killed, a trial failing on its own error,
a full disk, a second launch of a running sweep, a node lost. Each ends true (no run left
RUNNING, the sweep run not FINISHED while cells are not), and a relaunch finishes the sweep
with one run per trial and no metric point twice.

The sweep here is the smallest that has every kind of trial a fault can hit: the `none`
baseline on XNLI (German and English), one learning-rate trial, one seed: a target-search
trial, then its cell.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from mlflow.tracking import MlflowClient

from tasks.demo import write_demo_data
from tests.conftest import XSWEEP, run_xsweep

SPEC = (
    "--scales", "tiny", "--intermediate", "none", "--targets", "xnli", "--languages", "de",
    "--trials", "1", "--seeds", "1", "--checkpoint-every", "1",
)  # fmt: skip


def _args(name: str, data: Path, *extra: str) -> tuple[str, ...]:
    return ("launch", "--name", name, *SPEC, "--data", str(data), *extra)


def _start(args: tuple[str, ...], work: Path, tracking_uri: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [XSWEEP, *args],
        cwd=work,
        env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _runs(tracking_uri: str, name: str) -> list:
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(name)
    return [] if experiment is None else client.search_runs([experiment.experiment_id])


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen | None, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the launch ended before {what}: {process.stdout.read()[-3000:]}")
        try:
            if condition():
                return
        except Exception:  # noqa: BLE001 - the store may be mid-creation
            pass
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout} s: {what}")


def _training(tracking_uri: str, name: str, phase: str) -> bool:
    """A run of ``phase`` is RUNNING and has logged a training step."""
    return any(
        run.info.status == "RUNNING" and run.data.tags.get("phase") == phase and "train/loss" in run.data.metrics
        for run in _runs(tracking_uri, name)
    )


def _has_sweep_run(tracking_uri: str, name: str) -> bool:
    return any(run.data.tags["phase"] == "sweep" for run in _runs(tracking_uri, name))


def _assert_exactly_once(tracking_uri: str, name: str) -> list:
    """Every run ended FINISHED; one run per trial and cell; no metric point twice."""
    client = MlflowClient(tracking_uri)
    runs = _runs(tracking_uri, name)
    assert Counter(run.info.status for run in runs) == {"FINISHED": len(runs)}, [
        (run.info.run_name, run.info.status, run.data.tags.get("error")) for run in runs
    ]
    assert Counter(run.data.tags["phase"] for run in runs) == {"sweep": 1, "target_search": 1, "target": 1}
    keys = [run.data.tags["trial_key"] for run in runs if run.data.tags["phase"] != "sweep"]
    assert len(keys) == len(set(keys))
    for run in runs:
        for key in run.data.metrics:
            steps = [point.step for point in client.get_metric_history(run.info.run_id, key)]
            assert len(steps) == len(set(steps)), (run.info.run_name, key, steps)
    return runs


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_demo_data(tmp_path / "data")


def _stop(launch: subprocess.Popen, how: signal.Signals) -> None:
    """Ctrl-C as a terminal sends it, to the launch's whole process group; SIGTERM as `ray job
    stop` or a container stop sends it, to the driver alone."""
    if how == signal.SIGINT:
        os.killpg(launch.pid, signal.SIGINT)
    else:
        launch.send_signal(how)


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C on S3"])
def test_a_stop_signal_ends_the_launch_killed_and_its_relaunch_finishes(
    tmp_path: Path, data: Path, how: signal.Signals, request: pytest.FixtureRequest
) -> None:
    """SIGTERM: the end states. Ctrl-C, with the resume checkpoints on the loopback S3 server:
    the end states, and the relaunch resuming the cut-off run from its checkpoint there."""
    from sweeper.results.status import read_status

    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    storage = str(tmp_path / "tune")
    if how == signal.SIGINT:
        store = request.getfixturevalue("object_store")
        storage = f"s3://{store.make_bucket(f'tune-{uuid.uuid4().hex[:12]}')}/tune"
    args = _args("interrupted", data, "--storage-path", storage)
    launch = _start(args, tmp_path, tracking_uri)
    try:
        _wait_for(lambda: _training(tracking_uri, "interrupted", "target"), launch, "a target run trains")
        _stop(launch, how)
        output = launch.communicate(timeout=180)[0]
    finally:
        if launch.poll() is None:
            os.killpg(launch.pid, signal.SIGKILL)
    # The shell's code for the signal, after the summary line (not Ray's SIGABRT, not a traceback).
    assert launch.returncode == 128 + how, output[-3000:]
    assert "0 of 1 cells finished, 0 failed, 0 blocked, 1 interrupted" in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    runs = _runs(tracking_uri, "interrupted")
    by_phase = {run.data.tags["phase"]: run for run in runs}
    assert by_phase["sweep"].info.status == "KILLED"
    cut_off = by_phase["target"]
    assert cut_off.info.status == "KILLED" and how.name in cut_off.data.tags["error"], cut_off.data.tags
    # The trial stopped when told to, before it could go on to evaluate and finish.
    assert not any(key.startswith(("dev/", "test/")) for key in cut_off.data.metrics), cut_off.data.metrics
    assert by_phase["target_search"].info.status == "FINISHED"
    assert {key: by_phase["sweep"].data.metrics[f"cells/{key}"] for key in ("finished", "interrupted")} == {
        "finished": 0,
        "interrupted": 1,
    }
    (cells,) = [row for row in read_status(MlflowClient(tracking_uri), "interrupted").rows if row.kind == "cells"]
    assert (cells.finished, cells.failed, cells.interrupted, cells.running) == (0, 0, 1, 0)
    if how == signal.SIGTERM:
        return  # the relaunch after a stop is the same for either signal: checked once, on S3

    again = run_xsweep(*args, tracking_uri=tracking_uri, cwd=tmp_path)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "1 of 1 cells finished" in again.stdout
    runs = _assert_exactly_once(tracking_uri, "interrupted")
    resumed = next(run for run in runs if run.data.tags["phase"] == "target")
    assert int(resumed.data.tags["resumed_from_step"]) > 0, resumed.data.tags
    # Nothing half-written left in the bucket: no checkpoint folder without its marker.
    keys = _bucket_keys(store, storage)
    assert keys and not [key for key in keys if ".partial" in key], keys
    sweep = next(run for run in runs if run.data.tags["phase"] == "sweep")
    assert sweep.data.tags["launches"] == "2"
    # The relaunch's counts are the ones the sweep run shows, not the interrupted launch's.
    assert {key: sweep.data.metrics[f"cells/{key}"] for key in ("finished", "interrupted")} == {
        "finished": 1,
        "interrupted": 0,
    }


def _bucket_keys(store: object, storage: str) -> list[str]:
    import boto3

    bucket = storage.removeprefix("s3://").split("/")[0]
    client = boto3.client("s3", endpoint_url=store.endpoint)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def _trial_processes(root: int) -> list[psutil.Process]:
    """Tune's trial actors below process ``root`` (`ray::ImplicitFunc...` as `ps` shows them):
    a launch's or this test's own Ray, never another test's or another user's on this machine."""
    found = []
    for process in psutil.Process(root).children(recursive=True):
        try:
            cmdline = " ".join(process.cmdline())
        except psutil.Error:  # ended meanwhile
            continue
        if cmdline.startswith("ray::ImplicitFunc"):
            found.append(process)
    return found


@pytest.mark.slow
def test_a_killed_trial_worker_is_retried_in_the_same_launch_and_run(tmp_path: Path, data: Path) -> None:
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    launch = _start(_args("reclaimed", data), tmp_path, tracking_uri)
    try:
        _wait_for(lambda: _training(tracking_uri, "reclaimed", "target_search"), launch, "the search trial trains")
        workers = _trial_processes(launch.pid)
        assert workers, "no trial process found"
        for worker in workers:  # one trial runs now: the search trial's
            worker.send_signal(signal.SIGKILL)
        output = launch.communicate(timeout=600)[0]
    finally:
        if launch.poll() is None:
            os.killpg(launch.pid, signal.SIGKILL)
    assert launch.returncode == 0, output[-3000:]
    assert "retry 1 of 2 in the same run" in output, output[-3000:]
    _assert_exactly_once(tracking_uri, "reclaimed")


@pytest.mark.slow
def test_a_trial_failing_on_bad_data_fails_once_and_a_second_launch_is_refused(tmp_path: Path, data: Path) -> None:
    """The data turns bad after the launch checked it (a file rewritten under a running sweep):
    the cell reading it fails once, with its cause in the `error` tag, and is not retried.
    Meanwhile a second launch of the same sweep is refused, naming the first."""
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = _args("bad-later", data)
    # The second launch reads its own, sound copy: what stops it is the first launch's lock.
    second_args = _args("bad-later", shutil.copytree(data, tmp_path / "sound-data"))
    first = _start(args, tmp_path, tracking_uri)
    second = None
    try:
        _wait_for(lambda: _has_sweep_run(tracking_uri, "bad-later"), first, "the sweep run exists")
        second = _start(second_args, tmp_path, tracking_uri)
        _wait_for(lambda: _training(tracking_uri, "bad-later", "target_search"), first, "the search trial trains")
        test_split = data / "xnli" / "de" / "test.jsonl"
        rows = [json.loads(line) for line in test_split.read_text().splitlines()]
        rows[0]["label"] = 7
        test_split.write_text("".join(json.dumps(row) + "\n" for row in rows))
        refused = second.communicate(timeout=300)[0]
        output = first.communicate(timeout=600)[0]
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    # Refused by the lock (had the first launch ended, its different data would be the refusal).
    assert second.returncode != 0
    refusal = refused.strip().splitlines()
    assert len(refusal) == 1 and refusal[0].startswith("Error: --name: sweep 'bad-later' is being launched by"), refusal
    assert f"process {first.pid} on" in refusal[0]

    assert first.returncode != 0, output[-3000:]
    assert "0 of 1 cells finished, 1 failed" in output, output[-3000:]
    runs = _runs(tracking_uri, "bad-later")
    assert not any(run.info.status == "RUNNING" for run in runs)
    cells = [run for run in runs if run.data.tags["phase"] == "target"]
    assert len(cells) == 1 and cells[0].info.status == "FAILED"
    assert "label 7 outside 0..2" in cells[0].data.tags["error"]
    assert "retry" not in output


def _mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({result.stderr.strip() or 'mount failed'})")


@pytest.mark.slow
def test_a_full_disk_ends_the_launch_in_one_line_and_the_next_launch_reconciles(tmp_path: Path, data: Path) -> None:
    work = tmp_path / "small"
    _mount_tmpfs(work, "3m")
    try:
        tracking_uri = f"sqlite:///{work / 'mlflow.db'}"
        args = _args("full", data)
        first = run_xsweep(*args, tracking_uri=tracking_uri, cwd=work, timeout=600)
        assert first.returncode != 0
        errors = [line for line in first.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and "no space left on device" in errors[0].lower(), first.stderr
        assert str(work) in errors[0], errors
        assert "Traceback" not in first.stderr and len(first.stderr.strip().splitlines()) <= 3, first.stderr

        # Room again: the relaunch finishes the sweep and leaves nothing RUNNING.
        subprocess.run(["mount", "-o", "remount,size=256m", str(work)], check=True)
        again = run_xsweep(*args, tracking_uri=tracking_uri, cwd=work, timeout=600)
        errors = [(run.info.run_name, run.data.tags.get("error")) for run in _runs(tracking_uri, "full")]
        assert again.returncode == 0, (errors, again.stdout[-3000:] + again.stderr[-3000:])
        runs = _runs(tracking_uri, "full")
        assert not any(run.info.status == "RUNNING" for run in runs)
        cells = [run for run in runs if run.data.tags["phase"] == "target" and run.info.status == "FINISHED"]
        assert len(cells) == 1
    finally:
        subprocess.run(["umount", "-l", str(work)], check=False)


def _node_running_a_trial(nodes: list) -> object | None:
    """The worker node whose raylet started the running trial process."""
    raylets = {node.all_processes["raylet"][0].process.pid: node for node in nodes}
    for process in _trial_processes(os.getpid()):  # the cluster's raylets are this process's
        parent = process.ppid()
        if parent in raylets:
            return raylets[parent]
    return None


@pytest.mark.slow
@pytest.mark.cluster
def test_a_worker_node_lost_mid_trial_and_the_sweep_still_finishes(tmp_path: Path, data: Path) -> None:
    """A loopback cluster: a head that runs no trial, two one-CPU worker nodes. The node
    running the search trial is removed while it trains; the trial runs again on the other
    node, in the same run, and the sweep finishes. One machine: a SQLite store is shared."""
    from ray.cluster_utils import Cluster

    loopback = {"node_ip_address": "127.0.0.1", "object_store_memory": 80 * 2**20}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, **loopback})
    try:
        workers = [cluster.add_node(num_cpus=1, **loopback) for _ in range(2)]
        cluster.wait_for_nodes()
        tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
        # Ray rewrites a 127.0.0.1 address to this machine's network address unless told that
        # this machine's Ray is not a cluster across machines (ray/_private/services.py).
        on_loopback = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
        args = _args("node-lost", data, "--address", cluster.address)
        launch = _start(args, tmp_path, tracking_uri, env=on_loopback)
        try:
            _wait_for(lambda: _training(tracking_uri, "node-lost", "target_search"), launch, "the search trial trains")
            node = _node_running_a_trial(workers)
            assert node is not None, "no worker node runs the trial"
            cluster.remove_node(node)
            output = launch.communicate(timeout=600)[0]
        finally:
            if launch.poll() is None:
                os.killpg(launch.pid, signal.SIGKILL)
    finally:
        cluster.shutdown()
    assert launch.returncode == 0, output[-3000:]
    assert "retry 1 of 2 in the same run" in output, output[-3000:]
    _assert_exactly_once(tracking_uri, "node-lost")

"""Lost nodes, repeated: does a trial whose node dies finish within the launch, with one
writer per run?

Each repetition starts a loopback Ray cluster (``ray.cluster_utils``: a head that runs no
trial, two one-CPU worker nodes), launches the smallest sweep with a search trial and a cell
(tiny, XNLI de/en, 1 trial, 1 seed, a checkpoint every second) with ``--address``, and, once
the search trial trains, kills the raylet of the node running it with SIGKILL, so that the
trial's own process is orphaned and may live on. It prints, per repetition: the launch's
exit, the retries it announced, metric points stored twice, writes an old attempt made after
a newer one claimed its run (from the write audit, ``sweeper/record/fence.py``), and the
orphaned trial processes still alive at the end.

    python benchmarks/lost_node.py [--repetitions 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import psutil
from mlflow.tracking import MlflowClient
from ray.cluster_utils import Cluster
from rich.console import Console
from rich.table import Table

from sweeper.record.fence import WRITE_AUDIT
from tasks.demo import write_demo_data

XSWEEP = str(Path(sys.executable).parent / "xsweep")
SPEC = (
    "--scales", "tiny", "--intermediate", "none", "--targets", "xnli", "--languages", "de",
    "--trials", "1", "--seeds", "1", "--checkpoint-every", "1", "--no-table",
)  # fmt: skip
LOOPBACK = {"node_ip_address": "127.0.0.1", "object_store_memory": 80 * 2**20}


def _runs(tracking_uri: str) -> list:
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("lost")
    return [] if experiment is None else client.search_runs([experiment.experiment_id])


def _search_trial_trains(tracking_uri: str) -> bool:
    try:
        runs = _runs(tracking_uri)
    except Exception:  # noqa: BLE001 - the store may be mid-creation
        return False
    return any(r.data.tags.get("phase") == "target_search" and "train/loss" in r.data.metrics for r in runs)


def _trial_process_on(workers: list) -> tuple[object, psutil.Process] | None:
    """The worker node whose raylet started a running trial process, and that process."""
    raylets = {node.all_processes["raylet"][0].process.pid: node for node in workers}
    for process in psutil.Process().children(recursive=True):
        try:
            if "ImplicitFunc" in " ".join(process.cmdline()) and process.ppid() in raylets:
                return raylets[process.ppid()], process
        except psutil.NoSuchProcess:
            continue
    return None


def _wait_for_attempt(tracking_uri: str, attempt: int, launch: subprocess.Popen, timeout: float = 300) -> bool:
    """Whether a search-trial run reached ``attempt`` (its retry claimed it) in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and launch.poll() is None:
        runs = [r for r in _runs(tracking_uri) if r.data.tags.get("phase") == "target_search"]
        if any(int(r.data.tags.get("attempt", 0)) >= attempt for r in runs):
            return True
        time.sleep(0.5)
    return False


def _duplicated_points(tracking_uri: str) -> int:
    client = MlflowClient(tracking_uri)
    twice = 0
    for run in _runs(tracking_uri):
        for key in run.data.metrics:
            steps = Counter(point.step for point in client.get_metric_history(run.info.run_id, key))
            twice += sum(count - 1 for count in steps.values())
    return twice


def _late_writes(audit: Path) -> int:
    """Writes by an attempt after a newer attempt of its run had claimed it."""
    claims: dict[tuple[str, int], float] = {}
    writes: list[tuple[float, str, int]] = []
    for line in (line for path in audit.glob("*.log") for line in path.read_text().splitlines()):
        moment, _, attempt, run_id, what = line.split(" ", 4)
        if what == "claim":
            claims[(run_id, int(attempt))] = float(moment)
        else:
            writes.append((float(moment), run_id, int(attempt)))
    newest: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for (run_id, attempt), moment in claims.items():
        newest[run_id].append((attempt, moment))
    return sum(
        any(other > attempt and moment > claimed for other, claimed in newest[run_id])
        for moment, run_id, attempt in writes
    )


def _alive(process: psutil.Process | None) -> bool:
    try:
        return process is not None and process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def repetition(work: Path, data: Path) -> dict[str, object]:
    audit = work / "audit"
    audit.mkdir(parents=True)
    tracking_uri = f"sqlite:///{work / 'mlflow.db'}"
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, **LOOPBACK})
    orphan, claimed, woke = None, False, False
    try:
        workers = [cluster.add_node(num_cpus=1, **LOOPBACK) for _ in range(2)]
        cluster.wait_for_nodes()
        env = {
            **os.environ, "MLFLOW_TRACKING_URI": tracking_uri, WRITE_AUDIT: str(audit),
            # Ray rewrites 127.0.0.1 to this machine's address unless told it is no cluster.
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        }  # fmt: skip
        args = [XSWEEP, "launch", "--name", "lost", *SPEC, "--data", str(data), "--address", cluster.address]
        launch = subprocess.Popen(args, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 600
        found = None
        while found is None and time.monotonic() < deadline and launch.poll() is None:
            found = _trial_process_on(workers) if _search_trial_trains(tracking_uri) else None
            time.sleep(0.5)
        if found is not None:
            # The node's raylet dies; the trial's process stalls (a partitioned node) until Ray
            # has given the trial up and its retry has claimed the run, then wakes up.
            node, orphan = found
            orphan.suspend()
            node.all_processes["raylet"][0].process.send_signal(signal.SIGKILL)
            claimed = _wait_for_attempt(tracking_uri, 2, launch)
            woke = _alive(orphan)
            if woke:  # else something on the node (Ray's raylet watchdog) had ended it
                with contextlib.suppress(psutil.NoSuchProcess):
                    orphan.resume()
        output = launch.communicate(timeout=900)[0]
        # Before the cluster's shutdown, which would end it either way.
        alive = _alive(orphan)
    finally:
        cluster.shutdown()
    if _alive(orphan):
        orphan.kill()
    return {
        "exit": launch.returncode,
        "node killed": found is not None,
        "retry claimed the run": claimed,
        "old attempt woke": woke,
        "retries": len(re.findall(r"retry \d+ of \d+", output)),
        "points twice": _duplicated_points(tracking_uri),
        "late writes": _late_writes(audit),
        "orphan alive at the end": alive,
        "summary": next((line for line in output.splitlines() if line.startswith("sweep lost")), "(none)"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repetitions", type=int, default=5)
    repetitions = parser.parse_args().repetitions
    table = Table(title=f"a worker node's raylet killed mid-trial, {repetitions} repetitions")
    columns = (
        "exit", "node killed", "retry claimed the run", "old attempt woke", "retries", "points twice", "late writes",
        "orphan alive at the end", "summary",
    )  # fmt: skip
    for column in ("#", *columns, "wall s"):
        table.add_column(column)
    with tempfile.TemporaryDirectory(prefix="xsweep-lost-node-") as tmp:
        data = write_demo_data(Path(tmp) / "data")
        for number in range(1, repetitions + 1):
            started = time.monotonic()
            result = repetition(Path(tmp) / f"r{number}", data)
            table.add_row(str(number), *(str(result[c]) for c in columns), f"{time.monotonic() - started:.0f}")
    Console(width=200).print(table)


if __name__ == "__main__":
    main()

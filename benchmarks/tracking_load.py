"""Tracking under a cluster's load: many trials logging at once to one tracking server.

WRITERS processes each open a run through ``TrackedRun`` and log STEPS steps of METRICS
metrics (a trial's curves, without the training), then ``finish()``, which waits until every
queued point is delivered. Two paces: ``burst``, every step logged at once (the worst case:
the whole load queued before anything is sent), and ``paced``, one step every STEP_SECONDS
as a training loop logs (what a trial meets: the sender either keeps up or falls behind).

Each load runs twice against one `mlflow/serve.sh` server (PostgreSQL on 127.0.0.1:5432
where it answers, else SQLite; 4 workers): with the sender before coalescing (one
``log_batch`` request per ``log_metrics`` call, kept here only as the baseline) and with
xsweep's (what is queued goes out in requests of up to 1,000 points). Printed per load and
sender: points stored per second (all writers together, first point logged to last
``finish()`` returned), points lost and stored twice (read back from the server), and the
longest ``finish()`` wait.

    python benchmarks/tracking_load.py [--writers 16] [--steps 500] [--metrics 8] [--step-seconds 0.1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POSTGRES = "postgresql://postgres@127.0.0.1:5432"


def _one_request_per_call(tracked_run: type) -> type:
    """The sender before coalescing: each ``log_metrics`` call is one queued request."""
    from mlflow.entities import Metric

    from sweeper.record.tracking import _WAKE, OUTAGE_ATTEMPTS, OUTAGE_MAX_WAIT_S, retrying

    class OneRequestPerCall(tracked_run):
        def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
            now = int(time.time() * 1000)
            self._outbox.put([Metric(key, float(value), now, step) for key, value in metrics.items()])
            if self._sender is None:
                self._sender = threading.Thread(target=self._deliver, daemon=True)
                self._sender.start()

        def _deliver(self) -> None:
            while True:
                chunk = self._outbox.get()
                if chunk is _WAKE:  # what a flush queues for xsweep's sender
                    self._outbox.task_done()
                    continue
                try:
                    retrying(
                        lambda chunk=chunk: self.client.log_batch(self.run_id, metrics=chunk),
                        attempts=OUTAGE_ATTEMPTS,
                        max_wait=OUTAGE_MAX_WAIT_S,
                    )
                finally:
                    self._outbox.task_done()

    return OneRequestPerCall


def writer(args: argparse.Namespace) -> None:
    """One trial's logging: open a run, wait for the others, log, finish; print the timings."""
    from mlflow.tracking import MlflowClient

    from sweeper.record.tracking import TrackedRun

    kind = TrackedRun if args.sender == "new" else _one_request_per_call(TrackedRun)
    client = MlflowClient(args.uri)
    run = kind.start(client, args.experiment_id, f"{args.sender}-{args.index}", {"phase": "benchmark"})
    barrier = Path(args.barrier)
    (barrier / f"ready-{args.index}").touch()
    while not (barrier / "go").exists():
        time.sleep(0.05)
    started = time.time()
    for step in range(args.steps):
        run.log_metrics({f"train/m{i}": step + i / 10 for i in range(args.metrics)}, step=step)
        # On a fixed schedule, so that a slow log_metrics call does not slow the pace.
        time.sleep(max(0.0, started + (step + 1) * float(args.step_seconds) - time.time()))
    logged = time.time()
    run.finish()
    done = time.time()
    print(json.dumps({"run_id": run.run_id, "started": started, "finish_wait": done - logged, "done": done}))


def one_load(args: argparse.Namespace, uri: str, sender: str, pace: float, work: Path) -> dict:
    """Every writer of one sender at once, logging a step every ``pace`` seconds; what the
    server then holds, read back."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment_id = client.create_experiment(f"load-{sender}-{uuid.uuid4().hex[:6]}")
    barrier = work / f"barrier-{sender}-{pace}"
    barrier.mkdir()
    common = ["--uri", uri, "--experiment-id", experiment_id, "--sender", sender, "--barrier", str(barrier)]
    sizes = ["--steps", str(args.steps), "--metrics", str(args.metrics), "--step-seconds", str(pace)]
    processes = [
        subprocess.Popen(
            [sys.executable, __file__, "--writer", "--index", str(i), *common, *sizes],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for i in range(args.writers)
    ]
    while len(list(barrier.glob("ready-*"))) < args.writers:
        if any(p.poll() not in (None, 0) for p in processes):
            raise SystemExit(f"a {sender} writer died before starting")
        time.sleep(0.2)
    (barrier / "go").touch()
    results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in processes]
    stored = Counter()
    for result in results:
        for i in range(args.metrics):
            for point in client.get_metric_history(result["run_id"], f"train/m{i}"):
                stored[(result["run_id"], i, point.step)] += 1
    expected = args.writers * args.steps * args.metrics
    seconds = max(r["done"] for r in results) - min(r["started"] for r in results)
    return {
        "points": expected,
        "per_second": expected / seconds,
        "lost": expected - len(stored),
        "duplicated": sum(count - 1 for count in stored.values()),
        "longest_finish_wait": max(r["finish_wait"] for r in results),
    }


def _postgres(statement: str) -> None:
    import psycopg2

    connection = psycopg2.connect(f"{POSTGRES}/postgres", connect_timeout=3)
    connection.autocommit = True  # CREATE/DROP DATABASE run outside a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


def _backend(work: Path) -> tuple[str, str]:
    """A fresh PostgreSQL database where the server answers, else a SQLite file."""
    name = f"xsweep_load_{uuid.uuid4().hex[:8]}"
    try:
        _postgres(f"CREATE DATABASE {name}")
    except Exception as error:  # noqa: BLE001 - any reason PostgreSQL is not there
        print(f"PostgreSQL not reachable ({str(error).strip().splitlines()[0]}): SQLite instead")
        return f"sqlite:///{work / 'server.db'}", ""
    return f"{POSTGRES.replace('postgresql://', 'postgresql+psycopg2://')}/{name}", name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--metrics", type=int, default=8)
    parser.add_argument("--step-seconds", type=float, default=0.1, help="the paced load's time between steps")
    parser.add_argument("--writer", action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--index", "--uri", "--experiment-id", "--sender", "--barrier"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer:
        writer(args)
        return
    sys.path.insert(0, str(ROOT))
    from tests.conftest import start_tracking_server

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        backend, database = _backend(work)
        backend_name = "PostgreSQL" if database else "SQLite"
        try:
            server = start_tracking_server(
                work / "server", "127.0.0.1", backend_store_uri=backend, extra_env={"MLFLOW_WORKERS": "4"}
            )
            try:
                paces = {"burst": 0.0, "paced": args.step_seconds}
                rows = {
                    (load, sender): one_load(args, server.uri, sender, pace, work)
                    for load, pace in paces.items()
                    for sender in ("old", "new")
                }
            finally:
                server.stop()
        finally:
            if database:
                _postgres(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    points = args.writers * args.steps * args.metrics
    print(
        f"{args.writers} writers × {args.steps} steps × {args.metrics} metrics = {points:,} points per load, "
        f"one mlflow/serve.sh server on {backend_name} (loopback, 4 workers); "
        f"paced: a step every {args.step_seconds:g} s"
    )
    names = {"old": "old: a request per log_metrics call", "new": "new: queued points coalesced (≤ 1000)"}
    print(f"{'load':<7}{'sender':<40}{'writers':>8}{'points/s':>10}{'lost':>6}{'dup':>6}{'longest finish()':>18}")
    for (load, sender), row in rows.items():
        print(
            f"{load:<7}{names[sender]:<40}{args.writers:>8}{row['per_second']:>10.0f}{row['lost']:>6}"
            f"{row['duplicated']:>6}{row['longest_finish_wait']:>17.1f}s"
        )
    for load in ("burst", "paced"):
        old, new = rows[load, "old"]["longest_finish_wait"], rows[load, "new"]["longest_finish_wait"]
        print(f"{load}: longest finish() wait, old ÷ new: {old / max(new, 1e-9):.1f}×")


if __name__ == "__main__":
    main()

"""Ray's own autoscaler on this one machine, all on loopback, for rehearsals of a cluster sweep.

Ray's fake multi-node provider (`RAY_FAKE_CLUSTER=1 ray start --head --autoscaling-config=…`)
runs the real autoscaler; the worker nodes it starts are local raylets advertising logical
GPUs. The autoscaling test and the scheduling benchmark drive sweeps on it as users drive a
cluster: `ray job submit` to the head's job server, the driver running on the head.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil

LOOPBACK = "127.0.0.1"
# Ray replaces 127.0.0.1 by this machine's network address unless told that its Ray is not a
# cluster across machines (ray/_private/services.py, get_node_ip_address), and `ray start`
# turns token authentication on (writing ~/.ray/auth_token) unless told not to. Ray reads
# both when it is imported: every process of the cluster and its drivers needs them.
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}
RAY = str(Path(sys.executable).parent / "ray")
OBJECT_STORE_BYTES = 100 * 2**20
COMMANDS = (
    "initialization_commands", "setup_commands", "head_setup_commands", "worker_setup_commands",
    "head_start_ray_commands", "worker_start_ray_commands",
)  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def fake_cluster_config(
    head: dict[str, int], workers: dict[str, dict], max_workers: int, idle_timeout_minutes: float, gcs_port: int
) -> dict:
    """A cluster-launcher config for the fake provider: ``workers`` maps a node type to its
    `resources`, `min_workers` and `max_workers`, as in cluster.yaml."""
    return {
        "cluster_name": "fake",
        "max_workers": max_workers,
        "idle_timeout_minutes": idle_timeout_minutes,
        "upscaling_speed": 1.0,
        "provider": {
            "type": "fake_multinode",
            "gcs_address": f"{LOOPBACK}:{gcs_port}",
            # Every node's address is 127.0.0.1: the autoscaler tells them apart by node id.
            "use_node_id_as_ip": True,
            "disable_node_updaters": True,
            "disable_launch_config_check": True,
        },
        "auth": {"ssh_user": "ray"},
        "available_node_types": {
            "ray.head.default": {"resources": head, "node_config": {}, "max_workers": 0},
            **{name: _worker_type(node) for name, node in workers.items()},
        },
        "head_node_type": "ray.head.default",
        # What `ray up` fills in and the autoscaler reads: nothing to sync or run here.
        "file_mounts": {},
        "cluster_synced_files": [],
        "file_mounts_sync_continuously": False,
        "rsync_exclude": [],
        "rsync_filter": [],
        **dict.fromkeys(COMMANDS, []),
    }


def _worker_type(node: dict) -> dict:
    # A small object store: by default each raylet takes 30 % of this machine's memory for it.
    resources = {"object_store_memory": OBJECT_STORE_BYTES, **node["resources"]}
    return {"node_config": {}, **node, "resources": resources}


@dataclass
class FakeCluster:
    process: subprocess.Popen
    address: str
    dashboard: str
    config_path: Path
    log_path: Path
    # Ray's session folder: short, as its socket paths must be (107 bytes at most).
    temp_dir: Path

    def alive_nodes(self) -> list[dict]:
        """Each alive node's id, address and resources, from the head's state API."""
        from ray.util.state import list_nodes

        nodes = list_nodes(address=self.dashboard, filters=[("state", "=", "ALIVE")], raise_on_missing_output=False)
        return [{"node_id": node.node_id, "ip": node.node_ip, "resources": node.resources_total} for node in nodes]

    def submit(self, entrypoint: list[str]) -> str:
        """`ray job submit --no-wait -- ENTRYPOINT...`: the job's id; its driver runs on the head
        from then on, whatever becomes of the process that submitted it."""
        job_id = f"rehearsal-{uuid.uuid4().hex[:12]}"
        submit = [RAY, "job", "submit", "--address", self.dashboard, "--submission-id", job_id, "--no-wait"]
        result = subprocess.run(
            [*submit, "--", *entrypoint],
            env={**os.environ, **LOOPBACK_ENV},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"ray job submit failed: {(result.stdout + result.stderr)[-3000:]}")
        return job_id

    def wait_for_job(self, job_id: str, timeout_s: float) -> str:
        """The job's end state (SUCCEEDED, FAILED, STOPPED), or the state it is in at the timeout."""
        from ray.job_submission import JobStatus, JobSubmissionClient

        client = JobSubmissionClient(self.dashboard)
        deadline = time.monotonic() + timeout_s
        status = client.get_job_status(job_id)
        while not status.is_terminal() and time.monotonic() < deadline:
            time.sleep(1)
            status = client.get_job_status(job_id)
        return JobStatus(status).value

    def job_logs(self, job_id: str) -> str:
        from ray.job_submission import JobSubmissionClient

        return JobSubmissionClient(self.dashboard).get_job_logs(job_id)

    def stop(self) -> None:
        """End every process of this cluster (its session, started here), and no other: all at
        once, as nothing in a rehearsal cluster is worth draining (the head would wait 30 s)."""
        session = [p for p in psutil.process_iter() if _in_session(p, self.process.pid)]
        for process in session:
            _signal(process, signal.SIGTERM)
        _, alive = psutil.wait_procs(session, timeout=5)
        for process in alive:
            _signal(process, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=5)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _signal(process: psutil.Process, signum: int) -> None:
    try:
        process.send_signal(signum)
    except psutil.NoSuchProcess:
        pass


def _in_session(process: psutil.Process, session: int) -> bool:
    try:
        return os.getsid(process.pid) == session
    except (ProcessLookupError, PermissionError):
        return False


def start_fake_cluster(config: dict, work_dir: Path, cwd: Path, timeout_s: float = 120) -> FakeCluster:
    """Start the head (its own session, temp dir and ports, all on loopback) with ``config``;
    return once its job server sees the head. Jobs' drivers start in ``cwd``."""
    work_dir.mkdir(parents=True, exist_ok=True)
    config_path = work_dir / "cluster.json"
    config_path.write_text(json.dumps(config))
    gcs_port = int(config["provider"]["gcs_address"].rpartition(":")[2])
    dashboard_port = free_port()
    head = config["available_node_types"][config["head_node_type"]]["resources"]
    temp_dir = Path(tempfile.mkdtemp(prefix="xsweep-ray-", dir="/tmp"))
    command = [
        RAY, "start", "--head", "--block", f"--port={gcs_port}", f"--node-ip-address={LOOPBACK}",
        f"--temp-dir={temp_dir}", f"--num-cpus={head.get('CPU', 0)}", f"--num-gpus={head.get('GPU', 0)}",
        f"--autoscaling-config={config_path}", "--include-dashboard=true", f"--dashboard-host={LOOPBACK}",
        f"--dashboard-port={dashboard_port}", f"--dashboard-agent-listen-port={free_port()}",
        f"--object-store-memory={OBJECT_STORE_BYTES}", "--disable-usage-stats",
    ]  # fmt: skip
    custom = {key: value for key, value in head.items() if key not in ("CPU", "GPU")}
    if custom:
        command.append(f"--resources={json.dumps(custom)}")
    env = {**os.environ, **LOOPBACK_ENV, "RAY_FAKE_CLUSTER": "1", "AUTOSCALER_UPDATE_INTERVAL_S": "1"}
    log_path = work_dir / "head.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=log, start_new_session=True)
    dashboard = f"http://{LOOPBACK}:{dashboard_port}"
    cluster = FakeCluster(process, f"{LOOPBACK}:{gcs_port}", dashboard, config_path, log_path, temp_dir)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the fake cluster's head exited: {log_path.read_text()[-2000:]}")
        try:
            if cluster.alive_nodes():  # the head, as the state API sees it
                return cluster
        except Exception:  # noqa: BLE001 - the job server is still starting
            pass
        time.sleep(1)
    cluster.stop()
    raise RuntimeError(f"the fake cluster's job server did not answer within {timeout_s:g} s")

"""The tracking-server path: a real `mlflow server` (mlflow/serve.sh) with basic auth, and on
a PostgreSQL backend with Optuna's studies in a second database on the same server and a
tiny sweep with several trials writing at once (skipped with a reason where PostgreSQL is
absent)."""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sweeper.cli import main
from tests.conftest import ObjectStore, run_xsweep, start_tracking_server

POSTGRES = "postgresql://postgres@127.0.0.1:5432"
# The driver named in SQLAlchemy URLs: MLflow 3 otherwise asks for psycopg (3), not psycopg2.
SQLALCHEMY = POSTGRES.replace("postgresql://", "postgresql+psycopg2://")

pytestmark = pytest.mark.slow


def _admin(statement: str) -> None:
    import psycopg2

    connection = psycopg2.connect(f"{POSTGRES}/postgres", connect_timeout=3)
    connection.autocommit = True  # CREATE/DROP DATABASE run outside a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


@pytest.fixture
def postgres_databases() -> Iterator[tuple[str, str]]:
    """Two fresh databases on the local PostgreSQL server: MLflow's and Optuna's."""
    psycopg2 = pytest.importorskip("psycopg2")
    names = [f"xsweep_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("mlflow", "optuna")]
    try:
        for name in names:
            _admin(f"CREATE DATABASE {name}")
    except psycopg2.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES} ({str(error).strip().splitlines()[0]})")
    try:
        yield f"{SQLALCHEMY}/{names[0]}", f"{SQLALCHEMY}/{names[1]}"
    finally:
        for name in names:
            _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _get(url: str, credentials: tuple[str, str] | None = None) -> int:
    request = urllib.request.Request(url)
    if credentials:
        token = base64.b64encode(":".join(credentials).encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _auth_env() -> tuple[str, dict[str, str]]:
    password = f"xsweep-{uuid.uuid4().hex}"
    return password, {"MLFLOW_AUTH_ADMIN_USERNAME": "admin", "MLFLOW_AUTH_ADMIN_PASSWORD": password}


def test_a_basic_auth_server_refuses_unauthenticated_requests(tmp_path: Path) -> None:
    password, env = _auth_env()
    server = start_tracking_server(tmp_path / "server", "127.0.0.1", extra_env=env)
    try:
        url = f"{server.uri}/api/2.0/mlflow/experiments/search?max_results=1"
        assert _get(url) == 401
        assert _get(url, ("admin", "not-the-password")) == 401
        assert _get(url, ("admin", password)) == 200
        assert password not in (tmp_path / "server" / "basic_auth.ini").read_text()
    finally:
        server.stop()


def test_with_a_default_artifact_root_clients_write_artifacts_straight_to_it(tmp_path: Path) -> None:
    """What a cluster uses for checkpoints: the server hands out the store's URI and never
    carries the bytes (a stand-in for S3: a folder every process reaches)."""
    from mlflow.tracking import MlflowClient

    store = tmp_path / "object-store"
    server = start_tracking_server(
        tmp_path / "server", "127.0.0.1", extra_env={"MLFLOW_DEFAULT_ARTIFACT_ROOT": store.as_uri()}
    )
    try:
        client = MlflowClient(server.uri)
        run = client.create_run(client.create_experiment("direct"))
        assert run.info.artifact_uri.startswith(store.as_uri())
        checkpoint = tmp_path / "checkpoint"
        checkpoint.mkdir()
        (checkpoint / "model.safetensors").write_bytes(b"weights")
        client.log_artifacts(run.info.run_id, str(checkpoint), "checkpoint")
        written = list(store.rglob("model.safetensors"))
        assert [path.read_bytes() for path in written] == [b"weights"]
        assert not (tmp_path / "server" / "artifacts").exists()
    finally:
        server.stop()


def test_metric_points_logged_during_an_outage_arrive_exactly_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trial's loss logging (``TrackedRun.log_metrics``) goes on while the server is down;
    after it comes back on the same port and database, every point is there, once."""
    from mlflow.tracking import MlflowClient

    import sweeper.record.tracking

    # xsweep's own retries, not the MLflow client's minutes-long backoff, bridge the outage,
    # trying every 2 s at most so the test does not wait out a long backoff.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setattr(sweeper.record.tracking, "OUTAGE_MAX_WAIT_S", 2.0)

    from sweeper.record.tracking import TrackedRun
    from tests.conftest import free_port

    port = free_port()
    server = start_tracking_server(tmp_path / "server", "127.0.0.1", port=port)
    client = MlflowClient(server.uri)
    run = TrackedRun.start(client, client.create_experiment("outage"), "trial", {"phase": "target"})
    steps_before_outage, steps = 20, 60
    try:
        for step in range(steps_before_outage):
            run.log_metrics({"train/loss": 1.0 / (step + 1)}, step=step)
        run.flush()
        server.stop()
        # Training goes on with the server down: every call returns, nothing is dropped.
        for step in range(steps_before_outage, steps):
            run.log_metrics({"train/loss": 1.0 / (step + 1)}, step=step)
        assert run.undelivered > 0  # held while the server is away
        server = start_tracking_server(tmp_path / "server", "127.0.0.1", port=port)
        run.finish()
        history = client.get_metric_history(run.run_id, "train/loss")
        assert sorted(point.step for point in history) == list(range(steps))
        assert client.get_run(run.run_id).info.status == "FINISHED"
    finally:
        server.stop()


@pytest.mark.cluster
@pytest.mark.parametrize("artifacts", ["MLFLOW_ARTIFACTS_DESTINATION", "MLFLOW_DEFAULT_ARTIFACT_ROOT"])
def test_the_head_rehearsed_on_loopback_loses_nothing(
    artifacts: str,
    tmp_path: Path,
    demo_data: Path,
    postgres_databases: tuple[str, str],
    object_store: ObjectStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The head as cluster.yaml builds it, in small: serve.sh on PostgreSQL behind basic auth,
    its artifacts on the loopback S3 server (proxied through the server as cluster.yaml has it,
    or written by the clients straight to S3), Optuna's studies in a second database, a
    Ray head (no trial on it) with two worker nodes on 127.0.0.1, the sweep with --address and
    its resume checkpoints on S3. Every run and metric arrives, the credentials appear in no
    run's params, tags or files, `xsweep report` works, the registered encoder loads from its
    S3-backed artifact, and a relaunch adds nothing."""
    import mlflow
    import optuna
    from mlflow.tracking import MlflowClient
    from ray.cluster_utils import Cluster
    from transformers import AutoModel

    from sweeper.record.tracking import registered_model_name
    from tasks.demo import XNLI_DEMO_LANGUAGES

    mlflow_db, optuna_db = postgres_databases
    bucket = object_store.make_bucket(f"head-{uuid.uuid4().hex[:12]}")
    password, env = _auth_env()
    server = start_tracking_server(
        tmp_path / "server", "127.0.0.1", backend_store_uri=mlflow_db,
        extra_env={**env, artifacts: f"s3://{bucket}/mlflow"},
    )  # fmt: skip
    # The driver and (through the environment Ray starts them with) every trial authenticate.
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    loopback = {"node_ip_address": "127.0.0.1", "object_store_memory": 80 * 2**20}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, **loopback})
    args = (
        "launch", "--name", "pg", "--scales", "tiny", "--intermediate", "mnli", "--targets", "xnli",
        "--trials", "1", "--seeds", "1", "--data", str(demo_data), "--no-table", "--study-storage", optuna_db,
        "--storage-path", f"s3://{bucket}/tune",
    )  # fmt: skip
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=2, **loopback)
        cluster.wait_for_nodes()
        # The driver as a process of its own, as on the head. Ray rewrites a 127.0.0.1 address
        # to this machine's network address unless told this machine's Ray is not a cluster
        # across machines (ray/_private/services.py).
        monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        first = run_xsweep(*args, "--address", cluster.address, tracking_uri=server.uri, cwd=tmp_path)
        again = run_xsweep(*args, "--address", cluster.address, tracking_uri=server.uri, cwd=tmp_path)
    finally:
        cluster.shutdown()
    try:
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        client = MlflowClient(server.uri)
        experiment_id = client.get_experiment_by_name("pg").experiment_id
        runs = client.search_runs([experiment_id], max_results=1000)
        assert {run.info.status for run in runs} == {"FINISHED"}
        assert Counter(run.data.tags["phase"] for run in runs) == {
            "sweep": 1, "intermediate": 1, "target_search": 1, "target": 2,
        }  # fmt: skip
        # The relaunch finds the finished sweep and adds no run.
        assert again.returncode == 0 and "already finished" in again.stdout, again.stdout[-3000:]
        assert len(client.search_runs([experiment_id], max_results=1000)) == len(runs)
        for run in runs:
            if run.data.tags["phase"] == "target":
                wanted = {f"test/accuracy/{lang}" for lang in XNLI_DEMO_LANGUAGES}
                assert wanted <= set(run.data.metrics), run.info.run_name
                assert client.list_artifacts(run.info.run_id, "predictions"), run.info.run_name
        selected = [r for r in runs if r.data.tags["phase"] == "intermediate" and r.data.tags["selected"] == "true"]
        assert len(selected) == 1 and client.list_artifacts(selected[0].info.run_id, "checkpoint")
        # The studies live in their own database, every trial told to Optuna.
        studies = optuna.get_all_study_summaries(storage=optuna_db)
        assert len(studies) == 2 and all(summary.n_trials == 1 for summary in studies)
        for run in runs:
            assert password not in str(run.data.params) + str(run.data.tags), run.info.run_name
            files = Path(mlflow.artifacts.download_artifacts(
                run_id=run.info.run_id, dst_path=str(tmp_path / "files" / run.info.run_id), tracking_uri=server.uri
            ))  # fmt: skip
            for path in files.rglob("*"):
                assert not path.is_file() or password.encode() not in path.read_bytes(), path
        # The artifacts went through the server into the bucket: the selected checkpoint is there.
        keys = _bucket_keys(object_store, bucket)
        assert any(f"{selected[0].info.run_id}/artifacts/checkpoint/" in key for key in keys)
        monkeypatch.setenv("MLFLOW_REGISTRY_URI", server.uri)
        version = f"models:/{registered_model_name('pg', 'tiny', 'mnli')}/1"
        encoder = mlflow.artifacts.download_artifacts(
            artifact_uri=version, dst_path=str(tmp_path / "registered"), tracking_uri=server.uri
        )
        assert AutoModel.from_pretrained(encoder).config.model_type == "xlm-roberta"
        report = CliRunner().invoke(
            main, ["report", "--name", "pg", "--tracking-uri", server.uri, "--out", str(tmp_path / "report")]
        )
        assert report.exit_code == 0 and (tmp_path / "report" / "report.md").is_file(), report.output
    finally:
        server.stop()


def _bucket_keys(store: ObjectStore, bucket: str) -> list[str]:
    import boto3

    client = boto3.client("s3", endpoint_url=store.endpoint)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


@pytest.mark.parametrize("mode", ["MLFLOW_ARTIFACTS_DESTINATION", "MLFLOW_DEFAULT_ARTIFACT_ROOT"])
def test_a_server_that_cannot_store_artifacts_is_refused_before_anything_is_written(
    mode: str, object_store: ObjectStore, tmp_path: Path, demo_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """serve.sh with its artifacts on the loopback S3 server, in a bucket that does not exist:
    proxied (the server answers 500 to every upload) and direct (this client writes to S3). The
    launch logs and deletes a probe file before it writes: one line naming the store's error,
    no experiment, no file here, and the probe's scratch run deleted."""
    from mlflow.tracking import MlflowClient

    server = start_tracking_server(tmp_path / "server", "127.0.0.1", extra_env={mode: "s3://nosuchbucket/xsweep"})
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    try:
        args = ["launch", "--scales", "tiny", "--intermediate", "mnli", "--targets", "xnli", "--trials", "1"]
        result = CliRunner().invoke(main, [*args, "--data", str(demo_data), "--tracking-uri", server.uri])
        output = result.output.strip()
        assert result.exit_code != 0 and output.count("Error:") == 1 and len(output.splitlines()) == 1, output
        assert f"--tracking-uri: the server at {server.uri} cannot store artifacts" in output, output
        assert "500" in output if mode == "MLFLOW_ARTIFACTS_DESTINATION" else "NoSuchBucket" in output, output
        assert list(work.iterdir()) == []
        client = MlflowClient(server.uri)
        assert [experiment.name for experiment in client.search_experiments()] == ["Default"]
        assert client.search_runs(["0"]) == []  # the probe's run is deleted
    finally:
        server.stop()


def test_a_server_that_stores_artifacts_passes_the_probe_and_keeps_nothing_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe against a working proxied server, with the process's own tracking URI pointing
    elsewhere (as in a Ray job whose environment names another store): it passes, and leaves no
    active run and no file in the server's artifact folder."""
    from mlflow.tracking import MlflowClient

    from sweeper.launch.preflight import reach_artifact_store

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    server = start_tracking_server(tmp_path / "server", "127.0.0.1")
    try:
        reach_artifact_store(server.uri, timeout_s=30)
        assert MlflowClient(server.uri).search_runs(["0"]) == []
        assert [path for path in (tmp_path / "server" / "artifacts").rglob("*") if path.is_file()] == []
    finally:
        server.stop()

"""Shared fixtures: generated demo data, the real-data samples, and one finished sweep."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tasks.demo import write_demo_data

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT.parent / "shared" / "fixtures" / "realdata"
XSWEEP = str(Path(sys.executable).parent / "xsweep")


# The bad-input catalogue's seconds to refuse each case, printed at the end of the run: each
# should take seconds at most; measured, never asserted. Recorded as a test report's property,
# so that the summary sees every case also where pytest-xdist ran them in its workers.
REFUSED_IN_S = "refused_in_s"


def _case_name(nodeid: str) -> str:
    """A parametrised case's id, else the test's name."""
    return nodeid.partition("[")[2].rstrip("]") or nodeid.rpartition("::")[2]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    reports = terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
    timings = [
        (_case_name(report.nodeid), dict(report.user_properties)[REFUSED_IN_S])
        for report in reports
        if report.when == "call" and REFUSED_IN_S in dict(report.user_properties)
    ]
    if not timings:
        return
    slowest = sorted(timings, key=lambda item: -item[1])
    total = sum(seconds for _, seconds in slowest)
    terminalreporter.section("bad-input catalogue: seconds to refuse")
    terminalreporter.write_line(f"{len(slowest)} cases, {total:.1f} s in all; the slowest:")
    for case, seconds in slowest[:8]:
        terminalreporter.write_line(f"  {seconds:6.2f} s  {case}")


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo_data(tmp_path_factory.mktemp("demo-data"))


@pytest.fixture(scope="session")
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real-data samples not found at {REALDATA} (../shared is absent)")
    return REALDATA


def run_xsweep(*args: str, tracking_uri: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    """The real CLI in its own process, so Ray starts and stops with it."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}
    return subprocess.run(
        [XSWEEP, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@dataclass(frozen=True)
class FinishedSweep:
    name: str
    tracking_uri: str
    work_dir: Path
    data: Path
    args: tuple[str, ...]
    result: subprocess.CompletedProcess


SWEEP_ARGS = (
    "--scales", "tiny", "--intermediate", "mnli,qqp", "--targets", "xnli",
    "--trials", "2", "--seeds", "2",
)  # fmt: skip


# Under pytest-xdist the controller launches the two sweeps below once, one after the other,
# in the background as its workers start: each is read by tests on both workers, and no
# worker waits for one until a test needs it (an xdist_group would not share a session
# fixture across workers; each worker would build its own).
SHARED_SWEEPS = ("shared-sweep", "shared-relaunch")
_SHARED_RUNNER = pytest.StashKey[threading.Thread]()
_STOP_SHARED = pytest.StashKey[threading.Event]()


def _sweep_args(data: Path) -> tuple[str, ...]:
    return ("launch", "--name", "e2e", *SWEEP_ARGS, "--data", str(data))


def _is_xdist_controller(config: pytest.Config) -> bool:
    return getattr(config.option, "dist", "no") != "no" and not hasattr(config, "workerinput")


def _launch_into(folder: Path, data: Path, stop: threading.Event) -> None:
    """The sweep launched in ``folder``, its exit code written last (as ``returncode``)."""
    folder.mkdir()
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}"}
    returncode = -1  # written whatever happens: the workers wait for this file
    try:
        with (folder / "stdout").open("w") as stdout, (folder / "stderr").open("w") as stderr:
            process = subprocess.Popen([XSWEEP, *_sweep_args(data)], cwd=folder, env=env, stdout=stdout, stderr=stderr)
            while process.poll() is None:
                if stop.wait(1):  # the session ended first (-x, Ctrl-C)
                    process.terminate()
            returncode = process.wait()
    finally:
        (folder / "returncode.tmp").write_text(str(returncode))
        (folder / "returncode.tmp").rename(folder / "returncode")


# The test files that read them: a run of other files launches neither.
READERS = ("sweeper/test_e2e.py", "sweeper/test_lineage.py", "sweeper/test_reproducible.py")


def _runs_a_reader(config: pytest.Config) -> bool:
    tests = Path(__file__).parent
    paths = [Path(config.invocation_params.dir, arg.split("::")[0]).resolve() for arg in config.args]
    return any(path == tests / reader or path in (tests / reader).parents for path in paths for reader in READERS)


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if not _is_xdist_controller(config) or not _runs_a_reader(config):
        return
    root = config._tmp_path_factory.getbasetemp()
    data = write_demo_data(root / "shared-data")
    stop = threading.Event()

    def launch_each() -> None:
        for folder in SHARED_SWEEPS:
            _launch_into(root / folder, data, stop)

    runner = threading.Thread(target=launch_each, daemon=True)
    runner.start()
    config.stash[_SHARED_RUNNER], config.stash[_STOP_SHARED] = runner, stop


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _SHARED_RUNNER in session.config.stash:
        session.config.stash[_STOP_SHARED].set()
        session.config.stash[_SHARED_RUNNER].join(timeout=90)


def _shared_sweep(tmp_path_factory: pytest.TempPathFactory, folder: str) -> FinishedSweep | None:
    """The controller's sweep in ``folder`` once its launch has exited (the controller writes
    its exit code however it ends); None outside xdist."""
    root = tmp_path_factory.getbasetemp().parent
    if not os.environ.get("PYTEST_XDIST_WORKER") or not (root / "shared-data").is_dir():
        return None
    while not (root / folder / "returncode").exists():
        time.sleep(1)
    args = _sweep_args(root / "shared-data")
    outputs = [(root / folder / name).read_text() for name in ("returncode", "stdout", "stderr")]
    result = subprocess.CompletedProcess([XSWEEP, *args], int(outputs[0]), outputs[1], outputs[2])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    tracking_uri = f"sqlite:///{root / folder / 'mlflow.db'}"
    return FinishedSweep("e2e", tracking_uri, root / folder, root / "shared-data", args, result)


@pytest.fixture(scope="session")
def finished_sweep(tmp_path_factory: pytest.TempPathFactory, demo_data: Path) -> FinishedSweep:
    """One tiny sweep through Ray Tune, Optuna and MLflow, shared by the tests that read it
    (and by pytest-xdist's workers, where the controller launched it)."""
    shared = _shared_sweep(tmp_path_factory, SHARED_SWEEPS[0])
    return shared or _launch_in_own_store(tmp_path_factory, demo_data, "sweep")


def _launch_in_own_store(tmp_path_factory: pytest.TempPathFactory, demo_data: Path, folder: str) -> FinishedSweep:
    work_dir = tmp_path_factory.mktemp(folder)
    tracking_uri = f"sqlite:///{work_dir / 'mlflow.db'}"
    args = _sweep_args(demo_data)
    result = run_xsweep(*args, tracking_uri=tracking_uri, cwd=work_dir)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return FinishedSweep("e2e", tracking_uri, work_dir, demo_data, args, result)


@pytest.fixture(scope="session")
def relaunched_sweep(tmp_path_factory: pytest.TempPathFactory, demo_data: Path) -> FinishedSweep:
    """``finished_sweep``'s very command again, into a store of its own: a rerun."""
    shared = _shared_sweep(tmp_path_factory, SHARED_SWEEPS[1])
    return shared or _launch_in_own_store(tmp_path_factory, demo_data, "relaunch")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]


@dataclass
class TrackingServer:
    process: subprocess.Popen
    uri: str

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def start_tracking_server(
    state_dir: Path,
    host: str,
    backend_store_uri: str | None = None,
    extra_env: dict[str, str] | None = None,
    port: int | None = None,
) -> TrackingServer:
    """A real `mlflow server`, started by the project's own mlflow/serve.sh; waits for /health."""
    port = port or free_port()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "XSWEEP_MLFLOW_DIR": str(state_dir),
        "MLFLOW_HOST": host,
        "MLFLOW_PORT": str(port),
        "MLFLOW_ALLOWED_HOSTS": f"{host},{host}:{port}",
        # Two server processes: enough for concurrent trials, quick to start on two cores.
        "MLFLOW_WORKERS": "2",
    }
    if backend_store_uri:
        env["MLFLOW_BACKEND_STORE_URI"] = backend_store_uri
    env.update(extra_env or {})
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(["bash", str(ROOT / "mlflow" / "serve.sh")], env=env, stdout=log, stderr=log)
    server = TrackingServer(process, f"http://{host}:{port}")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{server.uri}/health", timeout=2) as response:
                if response.status == 200:
                    return server
        except urllib.error.HTTPError:
            return server  # it answers (an auth server may guard /health too)
        except OSError:
            time.sleep(0.5)
    server.stop()
    raise RuntimeError("mlflow server did not answer /health within 90 s")


@dataclass(frozen=True)
class ObjectStore:
    """An S3-compatible server on loopback and the variables that point clients at it."""

    endpoint: str
    env: dict[str, str]

    def make_bucket(self, name: str) -> str:
        import boto3

        boto3.client("s3", endpoint_url=self.endpoint, **_credentials(self.env)).create_bucket(Bucket=name)
        return name


def _credentials(env: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "region_name": env["AWS_DEFAULT_REGION"],
    }


@pytest.fixture(scope="session")
def object_store() -> ObjectStore:
    """moto's S3 server (the stand-in Ray's and MLflow's own tests use), on 127.0.0.1; the
    standard variables (AWS_ENDPOINT_URL for boto3 and pyarrow, MLFLOW_S3_ENDPOINT_URL for
    MLflow) are set for this process and everything it starts."""
    pytest.importorskip("moto.server", reason="moto[server] is not installed (the test extra)")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.skip(f"moto's S3 server did not start on {endpoint}")
            time.sleep(0.2)
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "MLFLOW_S3_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    yield ObjectStore(endpoint, env)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def finished_sweep_ui(finished_sweep: FinishedSweep, tmp_path_factory: pytest.TempPathFactory) -> TrackingServer:
    """A real `mlflow server` (its REST API and its UI) on the finished sweep's store, on 127.0.0.1."""
    server = start_tracking_server(
        tmp_path_factory.mktemp("ui"), "127.0.0.1", backend_store_uri=finished_sweep.tracking_uri
    )
    yield server
    server.stop()


@dataclass(frozen=True)
class FetchedData:
    """What ``xsweep data fetch`` wrote (``root``) from the official releases served from ``release``."""

    root: Path
    release: Path


@pytest.fixture(scope="session")
def fetched_data(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> FetchedData:
    """LAReQA, BUCC and Cosmos QA fetched once, from the loopback server, into the local layout."""
    from click.testing import CliRunner

    from sweeper.cli import main
    from tests.tasks.official_release import fetch_args, serve, write_release

    folder = tmp_path_factory.mktemp("fetched")
    release = write_release(realdata, folder / "served", folder / "bucc-files")
    with serve(release) as (url, _):
        result = CliRunner().invoke(main, fetch_args(url, folder / "data"))
    assert result.exit_code == 0, result.output
    return FetchedData(folder / "data", release)


def outscore_every_study(searcher: object, learning_rate_range: tuple[float, float]) -> None:
    """Give each of the searcher's studies two finished trials scoring 0.99 after epoch 1, so
    that the median pruner stops the next trial after its first epoch, whichever study Tune
    asks first."""
    import optuna

    from sweeper.launch.studies import LEARNING_RATE

    low, high = learning_rate_range
    distributions = {LEARNING_RATE: optuna.distributions.FloatDistribution(low, high, log=True)}
    for state in searcher.dag.studies.values():
        for learning_rate in (low, high):
            earlier = optuna.trial.create_trial(
                params={LEARNING_RATE: learning_rate}, distributions=distributions, value=0.99,
                intermediate_values={1: 0.99},
            )  # fmt: skip
            searcher.optuna_studies.study(state).add_trial(earlier)

"""Shared fixtures: generated demo data, the real-data samples, and one finished sweep."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tasks.demo import write_demo_data

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT.parent / "shared" / "fixtures" / "realdata"
XSWEEP = str(Path(sys.executable).parent / "xsweep")


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


@pytest.fixture(scope="session")
def finished_sweep(tmp_path_factory: pytest.TempPathFactory, demo_data: Path) -> FinishedSweep:
    """One tiny sweep through Ray Tune, Optuna and MLflow, shared by the tests that read it."""
    work_dir = tmp_path_factory.mktemp("sweep")
    tracking_uri = f"sqlite:///{work_dir / 'mlflow.db'}"
    args = ("launch", "--name", "e2e", *SWEEP_ARGS, "--data", str(demo_data))
    result = run_xsweep(*args, tracking_uri=tracking_uri, cwd=work_dir)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return FinishedSweep("e2e", tracking_uri, work_dir, demo_data, args, result)

"""One launch per sweep: the lock beside a SQLite study database and on PostgreSQL, and
schema creation that several processes may start at once on a new store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sweeper.launch.launch_lock import schema_lock, sweep_lock
from sweeper.plan.spec import SpecError

POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


def test_a_second_launch_of_a_sweep_is_refused_naming_the_first(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    with sweep_lock(storage, "demo"):
        with pytest.raises(SpecError) as refused:
            with sweep_lock(storage, "demo"):
                pass
        message = str(refused.value)
        assert message.startswith("--name: sweep 'demo' is being launched by process")
        assert f"process {os.getpid()} on " in message and "\n" not in message
        with sweep_lock(storage, "another"):  # other sweeps are not held up
            pass
    with sweep_lock(storage, "demo"):  # released with the launch
        pass


def test_a_dead_launch_leaves_no_lock(tmp_path: Path) -> None:
    """The lock ends with its process, however it ends: nothing stale to break."""
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    holder = (
        "import os, sys\nfrom sweeper.launch.launch_lock import sweep_lock\n"
        f"with sweep_lock({storage!r}, 'demo'):\n    os.kill(os.getpid(), 9)\n"
    )
    died = subprocess.run([sys.executable, "-c", holder], capture_output=True, text=True, timeout=120)
    assert died.returncode == -9, died.stderr
    with sweep_lock(storage, "demo"):
        pass


def test_the_lock_on_postgresql_names_the_running_launch() -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg2")
    try:
        sqlalchemy.create_engine(POSTGRES, connect_args={"connect_timeout": 3}).connect().close()
    except sqlalchemy.exc.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable at 127.0.0.1:5432 ({str(error).splitlines()[0]})")
    with sweep_lock(POSTGRES, "pg-demo"):
        with pytest.raises(SpecError, match=rf"is being launched by process {os.getpid()} on "):
            with sweep_lock(POSTGRES, "pg-demo"):
                pass
        with sweep_lock(POSTGRES, "pg-other"):
            pass
    with sweep_lock(POSTGRES, "pg-demo"):
        pass


OPEN_STORES = """
import sys
import optuna
from mlflow.tracking import MlflowClient
from sweeper.launch.launch_lock import schema_lock
tracking, studies = sys.argv[1], sys.argv[2]
with schema_lock(tracking):
    MlflowClient(tracking).search_experiments()
with schema_lock(studies):
    optuna.storages.RDBStorage(studies)
"""


@pytest.mark.slow
def test_processes_opening_a_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    tracking, studies = f"sqlite:///{tmp_path / 'mlflow.db'}", f"sqlite:///{tmp_path / 'optuna.db'}"
    processes = [
        subprocess.Popen([sys.executable, "-c", OPEN_STORES, tracking, studies], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [process.communicate(timeout=300)[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0, 0], errors
    with schema_lock(tracking):  # and the lock is free again
        pass

"""One launch per sweep at a time, and one schema creation per store.

The lock lives where the sweep's Optuna studies live, since two launches of one sweep must
share that storage: beside a SQLite study database it is an ``flock`` on a file, on
PostgreSQL an advisory lock of a session the launch holds open. Both end with the process
that holds them, however it ends (even SIGKILL or a lost machine, once the server drops the
session), so a dead launch never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from sweeper.plan.spec import SpecError

log = logging.getLogger(__name__)

LOCK_FOLDER = ".xsweep/locks"
# The advisory-lock key space of xsweep's launch locks (any fixed 32-bit value).
_PG_LOCK_CLASS = 0x78737770


def _holder() -> dict[str, object]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "since": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def _describe(holder: dict) -> str:
    return f"process {holder.get('pid', '?')} on {holder.get('host', '?')} since {holder.get('since', '?')}"


def _refusal(name: str, holder: dict) -> SpecError:
    return SpecError(
        f"--name: sweep {name!r} is being launched by {_describe(holder)}; valid: wait for it to end, "
        f"or stop it (its lock ends with its process), or another --name"
    )


def _lock_dir(sqlite_url: str) -> Path:
    return Path(sqlite_url.removeprefix("sqlite:///")).parent / LOCK_FOLDER


@contextmanager
def _file_lock(path: Path, blocking: bool, on_busy: Callable[[dict], Exception]) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Never unlinked: removing a locked file lets a third process lock a new one beside it.
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.seek(0)
            try:
                holder = json.loads(handle.read() or "{}")
            except json.JSONDecodeError:
                holder = {}
            raise on_busy(holder) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(_holder()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pg_key(name: str) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) & 0x7FFFFFFF


@contextmanager
def _pg_lock(url: str, key: int, blocking: bool, on_busy: Callable[[dict], Exception]) -> Iterator[None]:
    """A session advisory lock (class, key), held while the connection is open."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    with engine.connect() as connection:
        holder = _holder()
        # What a refused launch reads back about this one (PostgreSQL keeps 63 characters).
        label = f"xsweep {holder['pid']}@{holder['host']}"[:63]
        connection.execute(sqlalchemy.text("select set_config('application_name', :label, false)"), {"label": label})
        function = "pg_advisory_lock" if blocking else "pg_try_advisory_lock"
        statement = sqlalchemy.text(f"select {function}(:class, :key)")
        acquired = connection.execute(statement, {"class": _PG_LOCK_CLASS, "key": key}).scalar()
        connection.commit()
        if blocking is False and not acquired:
            raise on_busy(_pg_holder(connection, key))
        try:
            yield
        finally:
            connection.execute(
                sqlalchemy.text("select pg_advisory_unlock(:class, :key)"), {"class": _PG_LOCK_CLASS, "key": key}
            )
            connection.commit()
    engine.dispose()


def _pg_holder(connection, key: int) -> dict:
    import sqlalchemy

    row = connection.execute(
        sqlalchemy.text(
            "select a.application_name, a.backend_start from pg_locks l join pg_stat_activity a on a.pid = l.pid "
            "where l.locktype = 'advisory' and l.granted and l.classid = :class and l.objid = :key"
        ),
        {"class": _PG_LOCK_CLASS, "key": key},
    ).first()
    if row is None:
        return {}
    pid, _, host = str(row[0]).removeprefix("xsweep ").partition("@")
    return {"pid": pid, "host": host, "since": row[1].strftime("%Y-%m-%d %H:%M:%S %Z")}


def _scheme(url: str) -> str:
    return urlparse(url).scheme.partition("+")[0]


@contextmanager
def sweep_lock(study_storage: str, name: str) -> Iterator[None]:
    """Held for a whole launch: a second launch of ``name`` is refused in one line that names
    the running one."""
    scheme = _scheme(study_storage)
    on_busy = functools.partial(_refusal, name)
    if scheme == "sqlite":
        with _file_lock(_lock_dir(study_storage) / f"{name}.lock", blocking=False, on_busy=on_busy):
            yield
    elif scheme == "postgresql":
        with _pg_lock(study_storage, _pg_key(name), blocking=False, on_busy=on_busy):
            yield
    else:
        log.warning("no launch lock on %s storage: do not launch sweep %s twice at once", scheme, name)
        yield


@contextmanager
def schema_lock(database_url: str) -> Iterator[None]:
    """Held while a process opens a store that may be new: MLflow's and Optuna's schema
    creation are not safe against a second process doing the same at once."""
    scheme = _scheme(database_url)
    if scheme == "sqlite":
        with _file_lock(_lock_dir(database_url) / "schema.lock", blocking=True, on_busy=RuntimeError):
            yield
    elif scheme == "postgresql":
        with _pg_lock(database_url, 0, blocking=True, on_busy=RuntimeError):
            yield
    else:
        yield

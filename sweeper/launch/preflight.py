"""Validate, then write: the checks a launch can fail on the user's input, run before Ray
starts and before any experiment, run, study or file exists.

Each raises ``SpecError`` (or ``DataError`` for data) with one line naming the option, what
was wrong and what is valid. Endpoints are reached with a short timeout, so a typo in a host
fails in seconds instead of hanging in a client's retries. One check only warns: a local
``--storage-path`` with less free space than the resume checkpoints the sweep may hold there.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from sweeper.plan.spec import SpecError
from sweeper.record.locations import local_store_dir, nearest_existing
from sweeper.resources.storage import human_bytes
from tasks import Source, Task, load_split, texts_of
from tasks.checks import check_split

TRACKING_SCHEMES = ("sqlite", "http", "https", "postgresql", "mysql", "mssql", "file")
STUDY_SCHEMES = ("sqlite", "postgresql", "mysql")
# Tune writes object storage through pyarrow's filesystems.
# MLflow creates it with every store; the probe run lives there for the seconds it exists.
DEFAULT_EXPERIMENT_ID = "0"
OBJECT_STORAGE_SCHEMES = ("s3", "gs", "gcs", "abfs", "hdfs", "file")


def _scheme(url: str) -> str:
    """The URL's scheme without a SQLAlchemy driver suffix (``postgresql+psycopg2`` → ``postgresql``)."""
    return urlparse(url).scheme.partition("+")[0]


def _known_scheme(option: str, url: str, schemes: tuple[str, ...], valid: str) -> str:
    scheme = _scheme(url)
    if scheme not in schemes:
        raise SpecError(f"{option}: unknown scheme {scheme!r} in {url}; valid: {valid}")
    return scheme


def _writable_dir(option: str, path: Path) -> None:
    """``path`` (made by the launch where missing) can be created and written: a file is
    written and removed in the deepest folder of it that exists."""
    existing = nearest_existing(path)
    if not existing.is_dir():
        raise SpecError(f"{option}: {existing} is not a directory; valid: a folder this user can write")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".xsweep-probe-"):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise SpecError(
            f"{option}: cannot write in {existing} ({reason}); valid: a folder this user can write"
        ) from None


def _sqlite_file(option: str, url: str) -> None:
    path = Path(url.removeprefix("sqlite:///"))
    if path.is_dir():
        raise SpecError(f"{option}: {path} is a directory; valid: sqlite:///PATH of a database file")
    _writable_dir(option, path.parent)


def _database_server(option: str, url: str, timeout_s: float) -> None:
    """Connect once, with a timeout, and write nothing."""
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": max(1, int(timeout_s))})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as error:  # noqa: BLE001 - drivers raise their own types; all mean "not reachable"
        cause = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise SpecError(f"{option}: cannot connect to {_redacted(url)} within {timeout_s:g} s ({cause})") from None


def _redacted(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url


def check_tracking_uri(uri: str) -> None:
    """The tracking store's URI names a store xsweep can use; a SQLite file's folder can be written."""
    valid = "sqlite:///PATH, http(s)://HOST:PORT (an MLflow server), postgresql://..., mysql://..."
    scheme = _known_scheme("--tracking-uri", uri, TRACKING_SCHEMES, valid)
    if scheme == "sqlite":
        _sqlite_file("--tracking-uri", uri)
    elif scheme == "file":
        _writable_dir("--tracking-uri", Path(urlparse(uri).path))


def reach_tracking_uri(uri: str, timeout_s: float) -> None:
    """A tracking server answers its health check, a database server a connection."""
    scheme = _scheme(uri)
    if scheme in ("http", "https"):
        health = uri.rstrip("/") + "/health"
        try:
            with urllib.request.urlopen(health, timeout=timeout_s) as response:
                response.read()
        except urllib.error.HTTPError:
            pass  # a server answers (one behind basic auth guards /health as well)
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise SpecError(
                f"--tracking-uri: no MLflow server answers at {uri} ({health}: {reason}) within {timeout_s:g} s; "
                "valid: a running server (mlflow/serve.sh), or sqlite:///PATH"
            ) from None
    elif scheme not in ("sqlite", "file"):
        _database_server("--tracking-uri", uri, timeout_s)


def check_study_storage(url: str) -> None:
    """Optuna's storage: a SQLite file that can be created, or a database server's URL."""
    valid = "sqlite:///PATH, postgresql://USER@HOST/DB, mysql://USER@HOST/DB"
    if _known_scheme("--study-storage", url, STUDY_SCHEMES, valid) == "sqlite":
        _sqlite_file("--study-storage", url)


def reach_study_storage(url: str, timeout_s: float) -> None:
    if _scheme(url) != "sqlite":
        _database_server("--study-storage", url, timeout_s)


def check_storage_path(storage_path: str) -> None:
    """Tune's storage: a local folder that can be written, or object storage by its scheme."""
    if "://" in storage_path:
        scheme = _scheme(storage_path)
        if scheme not in OBJECT_STORAGE_SCHEMES:
            raise SpecError(
                f"--storage-path: unknown scheme {scheme!r}; valid: a folder, or {', '.join(OBJECT_STORAGE_SCHEMES)}://..."
            )
        if scheme == "file":
            _writable_dir("--storage-path", Path(urlparse(storage_path).path))
        return
    _writable_dir("--storage-path", Path(storage_path).resolve())


def local_storage_folder(storage_path: str) -> Path | None:
    """The folder a local ``--storage-path`` names (a path, or ``file:///PATH`` on a mount);
    None for object storage."""
    if "://" not in storage_path:
        return Path(storage_path).resolve()
    if _scheme(storage_path) == "file":
        return Path(urlparse(storage_path).path)
    return None


def storage_warning(free_bytes: int, need_bytes: int, path: str) -> str | None:
    """One line where ``free_bytes`` at ``path`` are fewer than ``need_bytes``, the resume
    checkpoints the sweep's running trials may hold there at once; None where they fit."""
    if free_bytes >= need_bytes:
        return None
    return (
        f"--storage-path: {human_bytes(free_bytes)} free at {path}, less than the {human_bytes(need_bytes)} "
        "of resume checkpoints the trials running at once may hold there (`xsweep plan`'s storage table); "
        "a trial that fills the disk fails: free some space, or give a larger folder or object storage"
    )


def check_storage_space(storage_path: str, need_bytes: int) -> str | None:
    """``storage_warning`` for a local ``--storage-path``, from the free space of the deepest
    folder of it that exists (nothing is created); None for object storage."""
    folder = local_storage_folder(storage_path)
    if folder is None:
        return None
    return storage_warning(shutil.disk_usage(nearest_existing(folder)).free, need_bytes, str(folder))


def reach_storage_path(storage_path: str, timeout_s: float) -> None:
    """Object storage: a marker object written and removed under ``storage_path`` within
    ``timeout_s``, so a missing bucket or missing credentials fail before anything is written
    (the endpoint of an S3-compatible store comes from ``AWS_ENDPOINT_URL``, as for pyarrow)."""
    if "://" not in storage_path or _scheme(storage_path) == "file":
        return
    import pyarrow.fs

    def probe() -> None:
        filesystem, root = pyarrow.fs.FileSystem.from_uri(storage_path)
        marker = f"{root.rstrip('/')}/.xsweep-probe-{uuid.uuid4().hex}"
        with filesystem.open_output_stream(marker) as stream:
            stream.write(b"xsweep preflight")
        filesystem.delete_file(marker)

    failure = _within(probe, timeout_s)
    if failure is not None:
        raise SpecError(
            f"--storage-path: cannot write and remove an object under {storage_path} ({failure}); "
            "valid: an existing bucket these credentials can write (AWS_ENDPOINT_URL for an "
            "S3-compatible store)"
        )


def reach_artifact_store(tracking_uri: str, timeout_s: float) -> None:
    """A tracking server's artifact store, proxied or direct (s3://...): a probe file logged and
    deleted in a scratch run of the Default experiment, the run then deleted, so a store the
    server (or this client) cannot write is refused before the sweep writes anything."""
    if _scheme(tracking_uri) not in ("http", "https"):
        return  # SQLite and database URIs keep artifacts in a folder checked above
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
    from mlflow.tracking import MlflowClient

    import sweeper.record.tracking  # noqa: F401 - bounds MLflow's own HTTP retries

    def probe() -> None:
        client = MlflowClient(tracking_uri)
        run = client.create_run(DEFAULT_EXPERIMENT_ID, run_name="xsweep-preflight-probe")
        try:
            client.log_text(run.info.run_id, "xsweep preflight", "xsweep-probe.txt")
            get_artifact_repository(run.info.artifact_uri, tracking_uri=tracking_uri).delete_artifacts()
        finally:
            client.update_run(run.info.run_id, status="FINISHED")  # set_terminated prints a link
            client.delete_run(run.info.run_id)

    failure = _within(probe, timeout_s)
    if failure is not None:
        raise SpecError(
            f"--tracking-uri: the server at {tracking_uri} cannot store artifacts ({failure}); valid: a server "
            "whose artifact store it (proxied) or this machine (s3://..., AWS_* and MLFLOW_S3_ENDPOINT_URL) can write"
        )


def _within(call: Callable[[], None], timeout_s: float) -> str | None:
    """Run ``call`` in a thread for at most ``timeout_s``: None, or the first line of what went wrong
    (a client's own retries must not hold the launch for minutes)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except Exception as error:  # noqa: BLE001 - pyarrow and botocore raise their own types
            errors.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        return f"no answer within {timeout_s:g} s"
    if errors:
        return (str(errors[0]).strip().splitlines() or [type(errors[0]).__name__])[0]
    return None


def check_ray_address(address: str | None, timeout_s: float) -> None:
    """A cluster's address answers on its port (``auto`` and a local Ray are Ray's to find)."""
    if address in (None, "auto", "local"):
        return
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise SpecError(f"--address: {address!r}; valid: HOST:PORT of a Ray head, ray://HOST:PORT, or auto")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise SpecError(
            f"--address: nothing answers at {target} within {timeout_s:g} s ({reason}); "
            "valid: the address of a running Ray head (ray start --head), auto, or no --address for a local Ray"
        ) from None


def node_local_state_problem(tracking_uri: str, storage_path: str, node_addresses: list[str]) -> str | None:
    """Where the nodes of a cluster are on several machines, every trial must write to the
    same tracking store and Tune storage: a SQLite file, a local folder or a loopback server
    would be a different one on each machine. Nodes that share one address are one machine,
    where they are one (a cluster on loopback). The message, or None where all is shared."""
    machines = len(set(node_addresses))
    if machines < 2:
        return None
    host = urlparse(tracking_uri).hostname or ""
    on_one_node = "a file" if local_store_dir(tracking_uri) or tracking_uri.startswith("file:") else None
    if host == "localhost" or host.startswith("127."):
        on_one_node = "a server at each node's own loopback address"
    if on_one_node:
        return (
            f"--tracking-uri: {tracking_uri} is {on_one_node} on a {machines}-node cluster; "
            "valid: a tracking server every node reaches (mlflow/serve.sh, then http://HEAD-IP:5000)"
        )
    if "://" not in storage_path:
        return (
            f"--storage-path: {storage_path} is a folder on one node of a {machines}-node cluster; "
            "valid: object storage every node reaches (s3://..., gs://...), or file:///PATH on a mount they share"
        )
    return None


def read_sweep_data(sources: list[tuple[Task, Source]], data: str, keep_text: bool) -> list[str]:
    """Read every split the sweep reads once and check it against its task's family (raising
    ``DataError`` at the first bad one); the text of them all where ``keep_text`` (the tiny
    model's tokenizer trains on it)."""
    texts: list[str] = []
    for task, source in sources:
        rows = load_split(source, data)
        check_split(task, source, rows, data)
        if keep_text:
            texts += texts_of(rows)
    return texts

"""The bad-input catalogue: each input through the real CLI is refused in one line, once,
without a traceback, with a non-zero exit, and leaves nothing behind (no experiment, no
`.xsweep/`, no `optuna.db`, no artifacts).

Cases run in-process through click's runner (the real `main`; seconds for the whole table);
a few also run as their own process, where Ray's and MLflow's own output would show.
"""

from __future__ import annotations

import json
import shutil
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from sweeper.cli import main
from sweeper.launch.preflight import reach_storage_path
from tests.conftest import REFUSED_IN_S, ObjectStore, run_xsweep

SPEC = ("--scales", "tiny", "--intermediate", "mnli", "--targets", "xnli", "--languages", "de", "--trials", "1")
XNLI_DE_TEST = "xnli/de/test.jsonl"
MNLI_TRAIN = "mnli/mnli/train.jsonl"


def _closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


CLOSED = _closed_port()


def _edit_rows(relative: str, edit: Callable[[list[dict]], list[dict]]) -> Callable[[Path], None]:
    def apply(data: Path) -> None:
        path = data / relative
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in edit(rows)), encoding="utf-8")

    return apply


def _write_bytes(relative: str, content: bytes) -> Callable[[Path], None]:
    def apply(data: Path) -> None:
        (data / relative).write_bytes(content)

    return apply


def _replace_line(relative: str, number: int, content: str) -> Callable[[Path], None]:
    def apply(data: Path) -> None:
        path = data / relative
        lines = path.read_text(encoding="utf-8").splitlines()
        lines[number - 1] = content
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    return apply


def _drop(column: str) -> Callable[[list[dict]], list[dict]]:
    return lambda rows: [{key: value for key, value in row.items() if key != column} for row in rows]


def _set_in_row(index: int, column: str, value: object) -> Callable[[list[dict]], list[dict]]:
    def edit(rows: list[dict]) -> list[dict]:
        rows[index] = {**rows[index], column: value}
        return rows

    return edit


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    expected: str
    # Changes a fresh copy of the demo data before the launch.
    corrupt: Callable[[Path], None] | None = None
    command: str = "launch"
    # Runs against the loopback S3 server (the ``object_store`` fixture).
    object_storage: bool = False


def _launch(*options: str) -> tuple[str, ...]:
    return (*SPEC, *options)


CASES = [
    # The spec.
    Case("unknown scale", ("--scales", "nope"), "--scales: unknown nope; valid: tiny, mini, base, large, xl, xxl"),
    Case("no scale", ("--scales", ""), "--scales: empty; valid: tiny"),
    Case("empty scale item", ("--scales", "base,,large"), "--scales: an empty item in 'base,,large'"),
    Case("trailing comma", ("--scales", "tiny,"), "--scales: an empty item in 'tiny,'"),
    Case(
        "unknown intermediate",
        _launch("--intermediate", "mlni"),
        "--intermediate: unknown mlni; valid: mnli, qqp, anli",
    ),
    Case("unknown target", _launch("--targets", "xnil"), "--targets: unknown xnil; valid: xnli, pawsx"),
    Case("no target", _launch("--targets", ""), "--targets: empty; valid: xnli"),
    Case("unknown language", _launch("--languages", "xx"), "--languages: unknown xx; valid: ar, bg, de"),
    Case("zero trials", _launch("--trials", "0"), "--trials: 0; valid: an integer of at least 1"),
    Case("zero seeds", _launch("--seeds", "0"), "--seeds: 0; valid: an integer of at least 1"),
    Case("trials not a number", _launch("--trials", "many"), "Invalid value for '--trials': 'many' is not a valid"),
    Case("data not a directory", _launch("--data", "/nonexistent/xsweep"), "--data: /nonexistent/xsweep is not a"),
    Case(
        "data without the task",
        _launch("--data", "{empty}"),
        "--data: xnli needs its English training and dev data; expected",
    ),
    Case(
        "local data not a directory",
        _launch("--local-data", "/nonexistent/l"),
        "--local-data: /nonexistent/l is not a directory; valid: a folder `xsweep data fetch TASKS --out DIR` wrote",
    ),
    Case("local data a file", _launch("--local-data", "{file}"), "--local-data: {file} is not a directory; valid:"),
    Case(
        "local data not fetched",
        _launch("--local-data", "{empty}"),
        "holds no split of bucc2018, lareqa, cosmos_qa, ccg; valid: a folder `xsweep data fetch",
    ),
    Case("name with a space", _launch("--name", "a b"), "--name: 'a b'; valid: ASCII letters, digits and - _ . +"),
    Case("name too long", _launch("--name", "x" * 300), "(300 characters)'; valid: 1 to 100 characters"),
    Case("name not ASCII", _launch("--name", "größe"), "--name: 'größe'; valid: ASCII letters"),
    Case("name hidden", _launch("--name", ".sweep"), "--name: '.sweep'; valid: 1 to 100 characters, not starting"),
    Case("translated data missing", _launch("--translated-data", "/nonexistent/t"), "--translated-data: /nonexist"),
    Case("mlm text missing", _launch("--mlm-text", "/nonexistent/m.txt"), "--mlm-text: /nonexistent/m.txt is neither"),
    Case("checkpoint every 0", _launch("--checkpoint-every", "0"), "Invalid value for '--checkpoint-every'"),
    Case("unknown backend", _launch("--collective-backend", "mpi"), "Invalid value for '--collective-backend'"),
    Case("connect timeout 0", _launch("--connect-timeout", "0"), "Invalid value for '--connect-timeout'"),
    Case("unknown option", _launch("--seed", "3"), "No such option '--seed'. Did you mean '--seeds'?"),
    # Endpoints and folders: parsed, and reached with a short timeout.
    Case("tracking scheme", _launch("--tracking-uri", "notascheme://x"), "--tracking-uri: unknown scheme 'notascheme'"),
    Case("tracking no scheme", _launch("--tracking-uri", "mlflow.db"), "--tracking-uri: tracking URI 'mlflow.db' has"),
    Case(
        "tracking server down",
        _launch("--tracking-uri", f"http://127.0.0.1:{CLOSED}", "--connect-timeout", "3"),
        f"--tracking-uri: no MLflow server answers at http://127.0.0.1:{CLOSED}",
    ),
    Case(
        "tracking database down",
        _launch("--tracking-uri", f"postgresql://xsweep@127.0.0.1:{CLOSED}/mlflow", "--connect-timeout", "3"),
        f"--tracking-uri: cannot connect to postgresql://xsweep@127.0.0.1:{CLOSED}/mlflow",
    ),
    Case("tracking unwritable", _launch("--tracking-uri", "sqlite:////proc/xsweep/m.db"), "cannot write in /proc"),
    Case("study scheme", _launch("--study-storage", "garbage://"), "--study-storage: unknown scheme 'garbage'"),
    Case(
        "study server down",
        _launch("--study-storage", f"postgresql://xsweep@127.0.0.1:{CLOSED}/optuna", "--connect-timeout", "3"),
        "--study-storage: cannot connect to postgresql://xsweep@127.0.0.1",
    ),
    Case("study unwritable", _launch("--study-storage", "sqlite:////proc/xsweep/o.db"), "--study-storage: cannot wr"),
    Case("storage unwritable", _launch("--storage-path", "/proc/x"), "--storage-path: cannot write in /proc"),
    Case("storage a file", _launch("--storage-path", "{file}/tune"), "--storage-path: {file} is not a directory"),
    Case("storage scheme", _launch("--storage-path", "ftp://host/x"), "--storage-path: unknown scheme 'ftp'"),
    Case(
        "storage bucket missing",
        _launch("--storage-path", "s3://nosuchbucket/tune"),
        "--storage-path: cannot write and remove an object under s3://nosuchbucket/tune (",
        object_storage=True,
    ),
    Case(
        "ray address down",
        _launch("--address", f"127.0.0.1:{CLOSED}", "--connect-timeout", "3"),
        f"--address: nothing answers at 127.0.0.1:{CLOSED}",
    ),
    Case("ray address malformed", _launch("--address", "headnode"), "--address: 'headnode'; valid: HOST:PORT"),
    # The data every split of the sweep reads, checked against its task's family.
    Case(
        "missing column",
        _launch(),
        f"{XNLI_DE_TEST} (xnli): no column 'hypothesis'",
        _edit_rows(XNLI_DE_TEST, _drop("hypothesis")),
    ),
    Case(
        "label out of range",
        _launch(),
        f"{XNLI_DE_TEST} (xnli): row 4: label is 7; valid: an index 0..2",
        _edit_rows(XNLI_DE_TEST, _set_in_row(3, "label", 7)),
    ),
    Case(
        "label as a name",
        _launch(),
        f"{MNLI_TRAIN} (mnli): row 1: label is 'entailment'",
        _edit_rows(MNLI_TRAIN, _set_in_row(0, "label", "entailment")),
    ),
    Case(
        "text not a string",
        _launch(),
        f"{MNLI_TRAIN} (mnli): row 2: premise is 5; valid: text",
        _edit_rows(MNLI_TRAIN, _set_in_row(1, "premise", 5)),
    ),
    Case("empty split", _launch(), f"{XNLI_DE_TEST} is empty", _write_bytes(XNLI_DE_TEST, b"")),
    Case(
        "not UTF-8",
        _launch(),
        f"{XNLI_DE_TEST} line 1: not UTF-8 (byte 0xff)",
        _write_bytes(XNLI_DE_TEST, b'{"premise": "\xff", "hypothesis": "b", "label": 0}\n'),
    ),
    Case(
        "malformed JSON line",
        _launch(),
        f"{MNLI_TRAIN} line 3: not JSON (Expecting ':' delimiter)",
        _replace_line(MNLI_TRAIN, 3, '{"premise": "a", "hypothesis"'),
    ),
    Case(
        "a JSON list line",
        _launch(),
        f"{XNLI_DE_TEST} line 1: a JSON list; valid: one JSON object per line",
        _write_bytes(XNLI_DE_TEST, b'["a", "b", 0]\n'),
    ),
    # The other commands.
    Case("plan unknown scale", ("--scales", "nope"), "--scales: unknown nope", command="plan"),
    Case("plan bad utilisation", ("--scales", "tiny", "--utilisation", "2"), "--utilisation", command="plan"),
    Case("report unknown sweep", ("--name", "ghost"), "no sweep named 'ghost'", command="report"),
    Case("status unknown sweep", ("--name", "ghost"), "no sweep named 'ghost'", command="status"),
    Case(
        "report server down",
        ("--name", "x", "--tracking-uri", f"http://127.0.0.1:{CLOSED}"),
        "--tracking-uri: no MLflow server answers",
        command="report",
    ),
    Case("mirror unknown task", ("--tasks", "nope", "--out", "m"), "--tasks: unknown nope", command="data mirror"),
    Case("score missing dir", ("/nonexistent/p", "/nonexistent/l"), "does not exist", command="score"),
]


def _needs_postgres_driver(case: Case) -> None:
    if "postgresql://" in " ".join(case.args):
        pytest.importorskip("psycopg2", reason="the PostgreSQL cases need psycopg2")


def _prepare(case: Case, tmp_path: Path, demo_data: Path) -> list[str]:
    """The case's arguments, with its own copy of the data (corrupted where the case says)."""
    data = tmp_path / "data"
    shutil.copytree(demo_data, data)
    if case.corrupt is not None:
        case.corrupt(data)
    (tmp_path / "empty").mkdir()
    (tmp_path / "a-file").write_text("not a folder")
    names = {"{empty}": str(tmp_path / "empty"), "{file}": str(tmp_path / "a-file")}
    args = []
    for arg in case.args:
        for placeholder, value in names.items():
            arg = arg.replace(placeholder, value)
        args.append(arg)
    if case.command == "launch" and "--data" not in args:
        args += ["--data", str(data)]
    return [*case.command.split(), *args]


def _assert_nothing_written(work: Path) -> None:
    left = sorted(p.name for p in work.iterdir() if p.name not in {"data", "empty", "a-file"})
    assert left == [], f"written despite the error: {left}"


def _expected(case: Case, tmp_path: Path) -> str:
    return case.expected.replace("{file}", str(tmp_path / "a-file"))


def test_the_catalogue_has_every_case_of_the_issue_and_more() -> None:
    assert len(CASES) >= 40 and len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_one_line_and_writes_nothing(
    case: Case,
    tmp_path: Path,
    demo_data: Path,
    monkeypatch: pytest.MonkeyPatch,
    record_property: Callable,
    request: pytest.FixtureRequest,
) -> None:
    _needs_postgres_driver(case)
    if case.object_storage:
        request.getfixturevalue("object_store")
    args = _prepare(case, tmp_path, demo_data)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    started = time.perf_counter()
    result = CliRunner().invoke(main, args)
    record_property(REFUSED_IN_S, time.perf_counter() - started)
    output = result.output.strip()
    assert result.exit_code not in (0, None), output
    assert "Traceback" not in output and len(output.splitlines()) <= 3, output
    assert _expected(case, tmp_path) in output, output
    assert output.count("Error:") == 1, output
    _assert_nothing_written(tmp_path)


# In their own process: what the user's terminal shows, Ray's and MLflow's output included.
IN_A_PROCESS = ["malformed JSON line", "tracking server down", "ray address down"]


@pytest.mark.parametrize("case_id", IN_A_PROCESS)
def test_in_its_own_process_the_error_is_one_line_once(case_id: str, tmp_path: Path, demo_data: Path) -> None:
    case = next(case for case in CASES if case.id == case_id)
    args = _prepare(case, tmp_path, demo_data)
    result = run_xsweep(*args, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", cwd=tmp_path, timeout=120)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0
    assert output.splitlines() == [f"Error: {output.removeprefix('Error: ')}"], output
    assert _expected(case, tmp_path) in output
    _assert_nothing_written(tmp_path)


def test_an_existing_bucket_passes_the_probe_and_keeps_nothing_of_it(object_store: ObjectStore, tmp_path: Path) -> None:
    """On the loopback S3 server, the other side of the catalogue's missing bucket: the marker
    object is written and removed again."""
    bucket = object_store.make_bucket(f"tune-{uuid.uuid4().hex[:12]}")
    reach_storage_path(f"s3://{bucket}/tune", timeout_s=10)
    # The marker is removed again (Arrow keeps the folder's own marker, ``tune/``).
    assert [key for key in _s3_keys(object_store, bucket) if "xsweep-probe" in key] == []


def _s3_keys(store: ObjectStore, bucket: str) -> list[str]:
    import boto3

    listed = boto3.client("s3", endpoint_url=store.endpoint).list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listed.get("Contents", [])]

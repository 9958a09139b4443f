"""A stand-in for the hub built from the recorded hub facts (``tasks/facts.py``) alone, never
from the catalog: each recorded repository at each revision becomes a folder
(``ROOT/<owner>/<name>@<revision>/``) holding its recorded tree — data files with a few
synthetic rows of the recorded columns, the README with its recorded ``configs`` block, and
the other files recorded (a loading script, an archive) — and a small HTTP server on 127.0.0.1
answers the hub's API for them, as `huggingface_hub` and `datasets` call it:

- ``GET /api/datasets/<repo>/revision/<rev>``: the commit, the file names, the README's metadata;
- ``GET /api/datasets/<repo>/tree/<rev>[/<path>]`` and ``POST .../paths-info/<rev>``: listings;
- ``HEAD``/``GET /datasets/<repo>/resolve/<rev>/<path>``: a file, with ranged reads.

A revision that is a commit is served as that commit; a branch as a commit id of the stand-in's
own. Loading through it runs `datasets`' own checks (its refusal of a loading script included).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import yaml

from tasks.facts import RevisionFacts
from tasks.task import Source, is_commit

ROWS_PER_SPLIT = 2


def repo_dir(root: Path, repo: str, revision: str) -> Path:
    return root / f"{repo}@{revision.replace('/', '%2F')}"


def commit_of(repo: str, revision: str) -> str:
    """The commit the stand-in serves for ``revision``: the revision where it is one."""
    return revision if is_commit(revision) else hashlib.sha1(f"{repo}@{revision}".encode()).hexdigest()


# Rows of the recorded schemas -------------------------------------------------------------------


def _value(kind: object, row: int) -> object:
    if isinstance(kind, list):
        return [_value(kind[0], row + i) for i in range(2)]
    if isinstance(kind, Mapping):
        return {name: _value(sub, row) for name, sub in kind.items()}
    if kind == "string":
        return f"w{row}"
    if kind == "bool":
        return row % 2 == 0
    if kind in ("int32", "int64"):
        return row
    if isinstance(kind, str) and kind.startswith("class_label:"):
        return row % len(kind.removeprefix("class_label:").split(","))
    raise ValueError(f"unknown column type {kind!r}")


def synthetic_rows(columns: Mapping[str, object], count: int = ROWS_PER_SPLIT) -> list[dict]:
    """``count`` rows with exactly ``columns`` (lists of two items, labels cycling)."""
    return [{name: _value(kind, row) for name, kind in columns.items()} for row in range(count)]


def _feature(kind: object):
    from datasets import ClassLabel, LargeList, Value

    if isinstance(kind, list):
        return LargeList(_feature(kind[0]))
    if isinstance(kind, Mapping):
        return {name: _feature(sub) for name, sub in kind.items()}
    if isinstance(kind, str) and kind.startswith("class_label:"):
        return ClassLabel(names=kind.removeprefix("class_label:").split(","))
    return Value(kind)


def write_rows(path: Path, rows: list[dict] | None, columns: Mapping[str, object] | None = None) -> None:
    """A data file of ``rows`` (parquet, or JSON lines for ``.jsonl``), typed by ``columns``
    where given; with None, an empty placeholder."""
    import pyarrow
    import pyarrow.parquet
    from datasets import Features

    path.parent.mkdir(parents=True, exist_ok=True)
    if rows is None:
        path.write_bytes(b"")
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    else:
        # The schema `datasets` writes: arrow types, and its features (class labels) as metadata.
        schema = Features({name: _feature(kind) for name, kind in columns.items()}).arrow_schema if columns else None
        pyarrow.parquet.write_table(pyarrow.Table.from_pylist(rows, schema=schema), path)


def _card(configs: Iterable[Mapping]) -> str:
    return f"---\n{yaml.safe_dump({'configs': list(configs)}, sort_keys=False)}---\n"


def write_readme(folder: Path, configs: Mapping[str, Mapping[str, str]]) -> None:
    """A README declaring ``configs``: {config: {split: path pattern}}."""
    entries = [
        {"config_name": name, "data_files": [{"split": split, "path": path} for split, path in splits.items()]}
        for name, splits in configs.items()
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text(_card(entries), encoding="utf-8")


def _other_file(path: Path, name: str, facts: RevisionFacts) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if name == "README.md":
        front = _card(facts.readme_configs) if facts.readme_configs is not None else "---\n{}\n---\n"
        path.write_text(front + f"\n# {facts.repository}\n", encoding="utf-8")
    elif name.endswith(".jsonl.tar.gz"):
        # A JSON-lines archive holds rows of the config it is named after (Mewsli-X's
        # candidate_entities.jsonl.tar.gz), where the record has that config's columns.
        inner = name.removesuffix(".tar.gz")
        columns = facts.columns(inner.removesuffix(".jsonl"))
        member = "".join(json.dumps(row) + "\n" for row in synthetic_rows(columns)).encode()
        with tarfile.open(path, "w:gz") as archive:
            info = tarfile.TarInfo(inner)
            info.size = len(member)
            archive.addfile(info, io.BytesIO(member))
    elif name.endswith(".py"):
        # A loading script's presence is the fact; its body is never run.
        path.write_text("raise SystemExit('a loading script: never run')\n", encoding="utf-8")
    else:
        path.write_bytes(b"")


def build(root: Path, facts: Iterable[RevisionFacts]) -> None:
    """Every recorded repository at every recorded revision, as its record says."""
    for revision in facts:
        folder = repo_dir(root, revision.repository, revision.revision)
        for (config, _split), path in revision.data_files.items():
            columns = revision.columns(config)
            write_rows(folder / path, synthetic_rows(columns), columns)
        for name in revision.other_files:
            _other_file(folder / name, name, revision)


def place(root: Path, source: Source, rows: list[dict] | None = None) -> Path:
    """One made-up split where ``source`` (a source of the test's own) says it is: an export's
    ``<config>/<split>/0000.parquet``, or a README config's file; returns the repository folder."""
    folder = repo_dir(root, source.dataset, source.revision)
    config = source.config or "default"
    if source.layout == "converted":
        write_rows(folder / config / source.split / "0000.parquet", rows)
        return folder
    relative = f"{config}/{source.split}-00000-of-00001.parquet"
    write_rows(folder / relative, rows)
    known = _configs(folder)
    known.setdefault(config, {})[source.split] = relative
    write_readme(folder, known)
    return folder


def _configs(folder: Path) -> dict[str, dict[str, str]]:
    readme = folder / "README.md"
    if not readme.exists():
        return {}
    card = yaml.safe_load(readme.read_text(encoding="utf-8").split("---")[1]) or {}
    return {c["config_name"]: {f["split"]: f["path"] for f in c["data_files"]} for c in card.get("configs", ())}


# The hub's API -----------------------------------------------------------------------------------

_API = re.compile(r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/(?P<verb>revision|tree|paths-info)/(?P<rest>.*)$")
_RESOLVE = re.compile(r"^/datasets/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rest>.*)$")


class _Hub:
    """The folders under ``root``, looked up by repository and revision (or served commit)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, repo: str, revision: str) -> Path | None:
        for path in self.root.glob(f"{repo}@*"):
            named = unquote(path.name.split("@", 1)[1])
            if revision in (named, commit_of(repo, named)):
                return path
        return None

    def known(self, repo: str) -> bool:
        return any(self.root.glob(f"{repo}@*"))

    def split_revision(self, repo: str, rest: str) -> tuple[str, str] | None:
        """``<revision>/<path>`` → (revision, path); a revision may hold slashes (refs/pr/9)."""
        rest = unquote(rest)
        parts = rest.split("/")
        for cut in range(len(parts), 0, -1):
            revision = "/".join(parts[:cut])
            if self.folder(repo, revision) is not None:
                return revision, "/".join(parts[cut:])
        return None


def _entry(folder: Path, path: Path) -> dict:
    relative = str(path.relative_to(folder))
    if path.is_dir():
        return {"type": "directory", "path": relative, "oid": hashlib.sha1(relative.encode()).hexdigest()}
    data = path.read_bytes()
    return {"type": "file", "path": relative, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}


@contextmanager
def serving(root: Path, log: list[tuple[str, str, int]] | None = None) -> Iterator[str]:
    """Serve ``root`` as the hub on 127.0.0.1; yields the endpoint URL. Each file request is
    appended to ``log`` where given: (method, path, bytes sent)."""
    hub = _Hub(root)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
            self._resolve(body=False)

        def do_GET(self) -> None:  # noqa: N802
            if self.path.startswith("/api/"):
                self._api()
            else:
                self._resolve(body=True)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            self._api(paths=form.get("paths", []))

        def _api(self, paths: list[str] | None = None) -> None:
            parsed = urlparse(self.path)
            match = _API.match(parsed.path)
            if not match:
                return self._error(404, "EntryNotFound", "no such endpoint")
            repo, verb = match["repo"], match["verb"]
            if not hub.known(repo):
                return self._error(404, "RepoNotFound", f"Repository {repo} not found")
            located = hub.split_revision(repo, match["rest"])
            if located is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {unquote(match['rest'])}")
            revision, inner = located
            folder = hub.folder(repo, revision)
            if verb == "revision":
                return self._json(self._info(folder, repo, revision))
            if verb == "paths-info":
                found = [folder / p for p in paths if (folder / p).exists()]
                return self._json([_entry(folder, p) for p in found])
            target = folder / inner
            if not target.exists():
                return self._error(404, "EntryNotFound", f"{inner} does not exist on {revision}")
            recursive = parse_qs(parsed.query).get("recursive", ["false"])[0].lower() == "true"
            children = sorted(target.rglob("*") if recursive else target.iterdir())
            return self._json([_entry(folder, p) for p in children])

        def _info(self, folder: Path, repo: str, revision: str) -> dict:
            files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
            info: dict = {"id": repo, "sha": commit_of(repo, revision), "siblings": [{"rfilename": f} for f in files]}
            readme = folder / "README.md"
            if readme.exists():
                front = readme.read_text(encoding="utf-8").split("---")
                if len(front) >= 3:
                    info["cardData"] = yaml.safe_load(front[1]) or {}
            return info

        def _resolve(self, body: bool) -> None:
            match = _RESOLVE.match(urlparse(self.path).path)
            located = hub.split_revision(match["repo"], match["rest"]) if match else None
            if located is None:
                return self._error(404, "RevisionNotFound", "no such repository or revision", body)
            revision, inner = located
            path = hub.folder(match["repo"], revision) / inner
            if not path.is_file():
                return self._error(404, "EntryNotFound", f"{inner} does not exist on {revision}", body)
            data = path.read_bytes()
            status, start, end = 200, 0, len(data)
            wanted = re.match(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
            if wanted:
                start = int(wanted[1])
                end = min(int(wanted[2]) + 1, len(data)) if wanted[2] else len(data)
                if start >= len(data):
                    return self._error(416, "RangeNotSatisfiable", "range not satisfiable", body)
                status = 206
            self.send_response(status)
            self.send_header("X-Repo-Commit", commit_of(match["repo"], revision))
            self.send_header("ETag", f'"{hashlib.sha1(data).hexdigest()}"')
            self.send_header("Content-Length", str(end - start))
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
            self.end_headers()
            if body:
                self.wfile.write(data[start:end])
            if log is not None:
                log.append((self.command, inner, end - start if body else 0))

        def _json(self, value: object) -> None:
            payload = json.dumps(value).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _error(self, status: int, code: str, message: str, body: bool = True) -> None:
            payload = json.dumps({"error": message}).encode()
            self.send_response(status)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if body:
                self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def hub_at(endpoint: str, cache: Path) -> Iterator[None]:
    """`huggingface_hub` and `datasets` pointed at ``endpoint``, with caches under ``cache``:
    both read the endpoint when imported, so their module constants are what is set."""
    import os

    import datasets.config
    from huggingface_hub import constants

    saved_env = os.environ.get("HF_ENDPOINT")
    patched = [
        (constants, "ENDPOINT", endpoint),
        (constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}"),
        (constants, "HF_HUB_CACHE", str(cache / "hub")),
        (constants, "HF_HUB_OFFLINE", False),
        (datasets.config, "HF_ENDPOINT", endpoint),
        (datasets.config, "HUB_DATASETS_URL", endpoint + "/datasets/{repo_id}/resolve/{revision}/{path}"),
        (datasets.config, "HF_DATASETS_CACHE", cache / "datasets"),
        (datasets.config, "HF_HUB_OFFLINE", False),
    ]
    saved = [(module, name, getattr(module, name)) for module, name, _ in patched]
    os.environ["HF_ENDPOINT"] = endpoint
    for module, name, value in patched:
        setattr(module, name, value)
    try:
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)
        if saved_env is None:
            os.environ.pop("HF_ENDPOINT", None)
        else:
            os.environ["HF_ENDPOINT"] = saved_env

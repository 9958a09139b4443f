"""A local stand-in for the hub: repositories as folders (``ROOT/<owner>/<name>@<revision>/``
with the repository's own relative paths), and a small HTTP server on 127.0.0.1 answering
the one hub API call `xsweep data check` makes through ``huggingface_hub.HfApi.dataset_info``
(``GET /api/datasets/<repo>/revision/<revision>``: the commit, the file names and the
README's metadata as ``cardData``). `datasets` reads the same folders by path.

The layouts the real repositories have:
- ``configs``: parquet files and a README whose ``configs`` name them (google/xtreme on main);
- ``converted``: the hub's parquet export, ``<config>/<split>/0000.parquet``, no README
  (``refs/convert/parquet``);
- a script-only main: a loading script and a README without ``configs`` (facebook/mlqa).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import yaml
from datasets import Dataset

from tasks import Source


def repo_dir(root: Path, repo: str, revision: str) -> Path:
    return root / f"{repo}@{revision.replace('/', '%2F')}"


def write_rows(path: Path, rows: list[dict] | None) -> None:
    """A parquet file of ``rows``; with None, an empty placeholder (the check reads names only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if rows is None:
        path.write_bytes(b"")
    else:
        Dataset.from_list(rows).to_parquet(str(path))


def write_readme(folder: Path, configs: Mapping[str, Mapping[str, str]]) -> None:
    """A README declaring ``configs``: {config: {split: path pattern}}."""
    entries = [
        {"config_name": name, "data_files": [{"split": split, "path": path} for split, path in splits.items()]}
        for name, splits in configs.items()
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text(f"---\n{yaml.safe_dump({'configs': entries})}---\n", encoding="utf-8")


def place(root: Path, source: Source, rows: list[dict] | None = None) -> Path:
    """Put ``source``'s split where its entry expects it in the stand-in; returns the repository folder."""
    return build(root, [source], rows)


def build(root: Path, sources: Iterable[Source], rows: list[dict] | None = None) -> Path | None:
    """Put every source where its entry expects it (each with ``rows``), a README per
    repository naming its configs' files; returns the last repository folder."""
    readmes: dict[Path, dict[str, dict[str, str]]] = {}
    folder = None
    for source in sources:
        folder = repo_dir(root, source.dataset, source.revision)
        config = source.config or "default"
        if source.layout == "converted":
            write_rows(folder / config / source.split / "0000.parquet", rows)
            continue
        relative = f"{config}/{source.split}-00000-of-00001.parquet"
        write_rows(folder / relative, rows)
        known = readmes.get(folder)
        if known is None:
            known = readmes[folder] = _configs(folder)
        known.setdefault(config, {})[source.split] = relative
    for where, configs in readmes.items():
        write_readme(where, configs)
    return folder


def _configs(folder: Path) -> dict[str, dict[str, str]]:
    readme = folder / "README.md"
    if not readme.exists():
        return {}
    card = yaml.safe_load(readme.read_text(encoding="utf-8").split("---")[1])
    return {c["config_name"]: {f["split"]: f["path"] for f in c["data_files"]} for c in card["configs"]}


def _listing(folder: Path, repo: str, revision: str) -> dict:
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    info: dict = {
        "id": repo,
        # A commit id of the stand-in's own: what the revision "resolves" to.
        "sha": hashlib.sha1(f"{repo}@{revision}".encode()).hexdigest(),
        "siblings": [{"rfilename": name} for name in files],
    }
    readme = folder / "README.md"
    if readme.exists():
        front = readme.read_text(encoding="utf-8").split("---")
        if len(front) >= 3:
            info["cardData"] = yaml.safe_load(front[1]) or {}
    return info


@contextmanager
def serving(root: Path) -> Iterator[str]:
    """Serve ``root`` as the hub's API on 127.0.0.1; yields the endpoint URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = unquote(urlparse(self.path).path)
            repo, _, revision = path.removeprefix("/api/datasets/").partition("/revision/")
            folder = repo_dir(root, repo, revision)
            if not path.startswith("/api/datasets/") or not revision:
                self._error(404, "EntryNotFound", "no such endpoint")
            elif not any(root.glob(f"{repo}@*")):
                self._error(404, "RepoNotFound", f"Repository {repo} not found")
            elif not folder.is_dir():
                self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            else:
                body = json.dumps(_listing(folder, repo, revision)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def _error(self, status: int, code: str, message: str) -> None:
            body = json.dumps({"error": message}).encode()
            self.send_response(status)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

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

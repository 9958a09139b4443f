"""The official releases `xsweep data fetch` reads, as their publishers lay them out, served
from a loopback HTTP server: the real LAReQA (XQuAD-R) and Cosmos QA samples of
../shared/fixtures/realdata in their original formats, and BUCC's tarballs built from the
real-data BUCC stand-in. Shared by the fetch tests and the end-to-end sweep that reads them."""

from __future__ import annotations

import io
import shutil
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.tasks.realdata_retrieval import LAREQA_SAMPLE_LANGUAGES, write_bucc_standin

BUCC_STANDIN_LANGUAGES = ("de", "fr", "zh")
FETCHED = ("lareqa", "bucc2018", "cosmosqa")
# Every language of the samples: LAReQA's four, BUCC's stand-in's three.
FETCHED_LANGUAGES = "de,fr,zh,en,ar"


def write_release(realdata: Path, root: Path, scratch: Path) -> Path:
    """The three releases under ``root``, one folder per task (``scratch`` for BUCC's files
    before they are packed)."""
    for lang in LAREQA_SAMPLE_LANGUAGES:
        target = root / "lareqa" / "xquad-r" / f"{lang}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(realdata / "lareqa" / "xquad-r" / f"{lang}.json", target)
    (root / "cosmosqa").mkdir(parents=True)
    for name in ("train.csv", "valid.csv"):
        shutil.copy(realdata / "english" / "cosmos_qa" / name, root / "cosmosqa" / name)
    # BUCC's tarballs: bucc2018/<lang>-en/<lang>-en.{sample,training}.{<lang>,en,gold}.
    prefixes = write_bucc_standin(realdata, scratch)
    (root / "bucc2018").mkdir()
    for lang, prefix in prefixes.items():
        for split, kind in (("dev", "sample"), ("test", "training")):
            with tarfile.open(root / "bucc2018" / f"bucc2018-{lang}-en.{kind}-gold.tar.bz2", "w:bz2") as tar:
                for side in (lang, "en", "gold"):
                    data = Path(f"{prefix}.{split}.{side}").read_bytes()
                    info = tarfile.TarInfo(f"bucc2018/{lang}-en/{lang}-en.{kind}.{side}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    return root


@contextmanager
def serve(root: Path) -> Iterator[tuple[str, list[str]]]:
    """``root`` on 127.0.0.1; yields its URL and the log of paths requested."""
    requested: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            requested.append(self.path)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", requested
    finally:
        httpd.shutdown()
        httpd.server_close()


def fetch_args(url: str, out: Path) -> list[str]:
    """``xsweep data fetch``'s arguments for the three from the server at ``url`` into ``out``."""
    args = ["data", "fetch", ",".join(FETCHED), "--out", str(out), "--languages", FETCHED_LANGUAGES]
    return args + [f"--source-url={name}={url}/{name}" for name in FETCHED]

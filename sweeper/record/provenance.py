"""What a run's numbers depend on besides its spec: the code, the libraries, the device, the
bytes of the model and tokenizer it starts from, and of the official files its fetched data
was built from. Every run carries them as ``provenance/...`` tags, so two runs that should
agree can be checked and two that differ explained (``xsweep compare`` lists the tags that
differ)."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from sweeper.record.tags import PROVENANCE_PREFIX as PREFIX
from tasks.fetch import fetched_files

PACKAGES = ("xsweep", "torch", "transformers", "tokenizers", "sentencepiece", "datasets", "ray", "mlflow", "optuna")
SOURCE = Path(__file__).resolve().parents[1]
# What makes a tokenizer: its vocabulary and pipeline (tokenizers' file, else XLM-R's
# SentencePiece model). Not tokenizer_config.json: saving a loaded tokenizer again adds the
# keyword arguments it was loaded with, so the same tokenizer would hash differently.
TOKENIZER_FILES = ("tokenizer.json", "sentencepiece.bpe.model")
# State tokenizer.json keeps from the tokenizer's last use, not part of what it is: a
# checkpoint's tokenizer was last called with the recipe's truncation.
TOKENIZER_RUNTIME_STATE = ("truncation", "padding")


def package_versions() -> dict[str, str]:
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def source_commit(source: Path = SOURCE) -> str:
    """The git commit xsweep runs from, ``+dirty`` with uncommitted changes to tracked files;
    ``unknown`` outside a git checkout (an installed copy: its version tag says what it is)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(source), *args], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}+dirty" if dirty else commit


def device_name() -> str:
    """The accelerator that trains, or the CPU model: kernels differ between them."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def runtime_tags() -> dict[str, str]:
    """The libraries and device of the process that trains, and its CPU threads."""
    import torch

    tags = {f"{PREFIX}{package}": value for package, value in package_versions().items()}
    tags[f"{PREFIX}python"] = platform.python_version()
    tags[f"{PREFIX}device"] = device_name()
    tags[f"{PREFIX}cpu_threads"] = str(torch.get_num_threads())
    return tags


def files_hash(folder: Path, names: list[str]) -> str:
    """SHA-256 over the named files' relative paths and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(names):
        digest.update(name.encode() + b"\0")
        with (folder / name).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def model_files(folder: Path) -> list[str]:
    """What from_pretrained loads for the weights: the config and the safetensors (else the
    PyTorch) weight files and their index."""
    names = [path.name for path in folder.iterdir() if path.is_file()]
    weights = [n for n in names if n.endswith((".safetensors", ".safetensors.index.json"))]
    weights = weights or [n for n in names if n.endswith((".bin", ".bin.index.json")) and n != "training_args.bin"]
    return [n for n in names if n == "config.json"] + weights


def tokenizer_hash(folder: Path) -> str:
    """SHA-256 of the tokenizer's vocabulary and pipeline, without its runtime state."""
    present = [name for name in TOKENIZER_FILES if (folder / name).is_file()]
    if present[:1] != ["tokenizer.json"]:
        return files_hash(folder, present[:1])
    content = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    for key in TOKENIZER_RUNTIME_STATE:
        content.pop(key, None)
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def encoder_tags(folder: str | Path) -> dict[str, str]:
    """Content hashes of the starting encoder's weights and of its tokenizer."""
    folder = Path(folder)
    return {
        f"{PREFIX}encoder_sha256": files_hash(folder, model_files(folder)),
        f"{PREFIX}tokenizer_sha256": tokenizer_hash(folder),
    }


def fetched_tags(split_files: Iterable[Path]) -> dict[str, str]:
    """The SHA-256 of each official file the local splits a run read were built from
    (``xsweep data fetch``'s manifest beside them), as ``provenance/fetched/<folder>/<file>``:
    a run's LAReQA, BUCC or Cosmos QA rows name the release they came from."""
    tags = {}
    for split_file in split_files:
        folder = Path(split_file).parent.parent.name
        for record in fetched_files(split_file):
            tags[f"{PREFIX}fetched/{folder}/{record['file']}"] = str(record["sha256"])
    return tags

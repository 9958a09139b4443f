"""Training checkpoints an interrupted trial resumes from, kept where every node reads them.

While a stage trains, the Trainer saves a checkpoint (weights, optimizer, scheduler, RNG
and data position) every ``every_s`` seconds; the main process copies it to
``<storage>/resume/<run id>/stage<N>/<version>/`` (a local folder, a shared mount, or
object storage through pyarrow's filesystems, as Ray's own storage works). A relaunch of the
trial in the same MLflow run fetches the latest one and continues; the run's end deletes them.

Object storage has no directory rename (Arrow's S3 filesystem copies key by key and fails on
a "directory"), so nothing is renamed: a version's files are written first and its marker
``<version>.complete`` last. A reader takes only versions whose marker exists; older and
incomplete versions are removed after the next complete one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow.fs

# Long enough that saving costs little next to training, short enough that a reclaimed
# spot node loses little work.
DEFAULT_CHECKPOINT_EVERY_S = 1800.0
# How often a trial whose process, worker or node died runs again (Tune's max_failures).
DEFAULT_RETRIES = 2
COMPLETE = ".complete"


def _arrow() -> ModuleType:
    """pyarrow's filesystems, imported when a checkpoint moves: the command line reads this
    module's defaults and should not pay for pyarrow."""
    import pyarrow.fs

    return pyarrow.fs


@dataclass(frozen=True)
class ResumeStore:
    """The resume checkpoints of one trial's run."""

    uri: str  # <storage>/resume/<run id>
    every_s: float = DEFAULT_CHECKPOINT_EVERY_S

    @classmethod
    def for_run(cls, storage_path: str, run_id: str, every_s: float) -> ResumeStore:
        return cls(f"{storage_path.rstrip('/')}/resume/{run_id}", every_s)

    def _filesystem(self) -> tuple[pyarrow.fs.FileSystem, str]:
        return _arrow().FileSystem.from_uri(self.uri if "://" in self.uri else str(Path(self.uri).resolve()))

    def _stage_path(self, stage: int) -> str:
        return f"{self._filesystem()[1]}/stage{stage}"

    def _entries(self, path: str) -> list[pyarrow.fs.FileInfo]:
        filesystem, _ = self._filesystem()
        return filesystem.get_file_info(_arrow().FileSelector(path, allow_not_found=True))

    def _complete_versions(self, stage: int) -> list[str]:
        """The stage's versions whose marker exists, oldest first (names sort by time)."""
        names = [info.base_name for info in self._entries(self._stage_path(stage))]
        return sorted(name.removesuffix(COMPLETE) for name in names if name.endswith(COMPLETE))

    def latest_stage(self) -> int | None:
        """The last stage with a complete checkpoint (earlier stages are then complete)."""
        _, root = self._filesystem()
        stages = [info.base_name.removeprefix("stage") for info in self._entries(root)]
        complete = [int(name) for name in stages if name.isdigit() and self._complete_versions(int(name))]
        return max(complete, default=None)

    def fetch(self, stage: int, local_dir: Path) -> Path:
        """Copy stage ``stage``'s newest complete checkpoint here; the Trainer resumes from the folder."""
        filesystem, _ = self._filesystem()
        version = self._complete_versions(stage)[-1]
        local_dir.mkdir(parents=True, exist_ok=True)
        _arrow().copy_files(
            f"{self._stage_path(stage)}/{version}",
            str(local_dir.resolve()),
            source_filesystem=filesystem,
            destination_filesystem=_arrow().LocalFileSystem(),
        )
        return local_dir

    def upload(self, stage: int, checkpoint_dir: Path) -> None:
        """Add ``checkpoint_dir`` as stage ``stage``'s newest checkpoint: its files first, its
        marker last, so a kill mid-copy leaves the previous one whole; then drop the rest."""
        filesystem, _ = self._filesystem()
        stage_path = self._stage_path(stage)
        version = f"v{time.time_ns():020d}"
        filesystem.create_dir(f"{stage_path}/{version}", recursive=True)
        _arrow().copy_files(
            str(checkpoint_dir.resolve()),
            f"{stage_path}/{version}",
            source_filesystem=_arrow().LocalFileSystem(),
            destination_filesystem=filesystem,
        )
        with filesystem.open_output_stream(f"{stage_path}/{version}{COMPLETE}") as marker:
            marker.write(version.encode())
        self._drop_all_but(stage, version)

    def _drop_all_but(self, stage: int, keep: str) -> None:
        """Remove every other version of the stage: markers first, so a version is never
        complete while its files go."""
        filesystem, _ = self._filesystem()
        entries = self._entries(self._stage_path(stage))
        for info in entries:
            if info.base_name.endswith(COMPLETE) and info.base_name != keep + COMPLETE:
                filesystem.delete_file(info.path)
        for info in entries:
            if info.type == _arrow().FileType.Directory and info.base_name != keep:
                filesystem.delete_dir(info.path)

    def clear(self) -> None:
        filesystem, root = self._filesystem()
        if filesystem.get_file_info(root).type != _arrow().FileType.NotFound:
            filesystem.delete_dir(root)

"""Training checkpoints an interrupted trial resumes from, kept where every node reads them.

While a stage trains, the Trainer saves a checkpoint (weights, optimizer, scheduler, RNG
and data position) every ``every_s`` seconds; the main process copies it to
``<storage>/resume/<run id>/stage<N>`` (a local folder, a shared mount, or object storage
through pyarrow's filesystems, as Ray's own storage works). A relaunch of the trial in the
same MLflow run fetches the latest one and continues; the run's end deletes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs

# Long enough that saving costs little next to training, short enough that a reclaimed
# spot node loses little work.
DEFAULT_CHECKPOINT_EVERY_S = 1800.0
# How often a trial whose process, worker or node died runs again (Tune's max_failures).
DEFAULT_RETRIES = 2


@dataclass(frozen=True)
class ResumeStore:
    """The resume checkpoints of one trial's run."""

    uri: str  # <storage>/resume/<run id>
    every_s: float = DEFAULT_CHECKPOINT_EVERY_S

    @classmethod
    def for_run(cls, storage_path: str, run_id: str, every_s: float) -> ResumeStore:
        return cls(f"{storage_path.rstrip('/')}/resume/{run_id}", every_s)

    def _filesystem(self) -> tuple[pyarrow.fs.FileSystem, str]:
        return pyarrow.fs.FileSystem.from_uri(self.uri if "://" in self.uri else str(Path(self.uri).resolve()))

    def _stage_path(self, stage: int) -> str:
        return f"{self._filesystem()[1]}/stage{stage}"

    def latest_stage(self) -> int | None:
        """The last stage with a saved checkpoint (earlier stages are then complete)."""
        filesystem, root = self._filesystem()
        found = filesystem.get_file_info(pyarrow.fs.FileSelector(root, allow_not_found=True))
        # A "stageN.partial" is an upload cut off (a kill, a full disk): not a checkpoint.
        names = [info.base_name.removeprefix("stage") for info in found if info.base_name.startswith("stage")]
        return max((int(name) for name in names if name.isdigit()), default=None)

    def fetch(self, stage: int, local_dir: Path) -> Path:
        """Copy stage ``stage``'s checkpoint here; the Trainer resumes from the folder."""
        filesystem, _ = self._filesystem()
        local_dir.mkdir(parents=True, exist_ok=True)
        pyarrow.fs.copy_files(
            self._stage_path(stage),
            str(local_dir.resolve()),
            source_filesystem=filesystem,
            destination_filesystem=pyarrow.fs.LocalFileSystem(),
        )
        return local_dir

    def upload(self, stage: int, checkpoint_dir: Path) -> None:
        """Replace stage ``stage``'s checkpoint with ``checkpoint_dir``: written beside it
        first, so a kill mid-copy leaves the previous one whole."""
        filesystem, _ = self._filesystem()
        final, partial = self._stage_path(stage), self._stage_path(stage) + ".partial"
        filesystem.delete_dir_contents(partial, missing_dir_ok=True)
        filesystem.create_dir(partial, recursive=True)
        pyarrow.fs.copy_files(
            str(checkpoint_dir.resolve()),
            partial,
            source_filesystem=pyarrow.fs.LocalFileSystem(),
            destination_filesystem=filesystem,
        )
        if filesystem.get_file_info(final).type != pyarrow.fs.FileType.NotFound:
            filesystem.delete_dir(final)
        filesystem.move(partial, final)

    def clear(self) -> None:
        filesystem, root = self._filesystem()
        if filesystem.get_file_info(root).type != pyarrow.fs.FileType.NotFound:
            filesystem.delete_dir(root)

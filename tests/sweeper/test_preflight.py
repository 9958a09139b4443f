"""Preflight's one warning: a local --storage-path with less free space than the resume
checkpoints the sweep's running trials may hold there. It warns, creates nothing, and keeps
quiet for object storage."""

from __future__ import annotations

import logging
import shutil
from collections import namedtuple
from pathlib import Path

import pytest

from sweeper.launch import preflight
from sweeper.launch.preflight import check_storage_space, local_storage_folder, storage_warning

DiskUsage = namedtuple("DiskUsage", "total used free")


def test_the_warning_names_the_free_space_the_need_and_the_path() -> None:
    warning = storage_warning(free_bytes=40 * 10**9, need_bytes=250 * 10**9, path="/scratch/tune")
    assert warning is not None and "\n" not in warning
    assert warning.startswith("--storage-path: 40.0 GB free at /scratch/tune, less than the 250.0 GB")
    assert storage_warning(free_bytes=250 * 10**9, need_bytes=250 * 10**9, path="/scratch/tune") is None


def test_a_missing_folder_is_measured_where_it_would_be_made_and_not_made(tmp_path: Path) -> None:
    wanted = tmp_path / "not" / "yet" / "tune"
    free = shutil.disk_usage(tmp_path).free
    warning = check_storage_space(str(wanted), need_bytes=free * 2 + 10**12)
    assert warning is not None and str(wanted) in warning
    assert check_storage_space(str(wanted), need_bytes=0) is None
    assert check_storage_space(f"file://{wanted}", need_bytes=free * 2 + 10**12) is not None
    assert not (tmp_path / "not").exists()


def test_object_storage_is_not_measured() -> None:
    assert local_storage_folder("s3://bucket/xsweep/tune") is None
    assert check_storage_space("s3://bucket/xsweep/tune", need_bytes=10**18) is None


def test_the_launch_warns_of_a_small_disk_for_its_gpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The launch's own step: the need of the trials the cluster runs at once (two XL trials
    on eight GPUs, nothing started), against the disk's free space."""
    from sweeper.launch.launch import LaunchOptions, _warn_of_storage_space
    from sweeper.plan.plan import make_plan
    from sweeper.plan.spec import build_spec
    from sweeper.resources.capacity import fixed_size
    from sweeper.resources.storage import human_bytes, storage_plan

    plan = make_plan(build_spec(scales="base,xl", intermediate="mnli", targets_="xnli", trials=1, seeds=1))
    storage = tmp_path / "tune"
    options = LaunchOptions(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", storage_path=str(storage))
    size = fixed_size([{"CPU": 32, "GPU": 8}])
    need = storage_plan(plan, gpus=8).resume_peak
    # Two XL trials at once, 12 bytes a parameter, two checkpoints each while one is replaced.
    assert need == 2 * 2 * 12 * 3_480_000_000
    monkeypatch.setattr(preflight.shutil, "disk_usage", lambda path: DiskUsage(10**12, 10**12 - 10**9, 10**9))
    with caplog.at_level(logging.WARNING, logger="sweeper.launch.launch"):
        _warn_of_storage_space(plan, options, size)
    (record,) = caplog.records
    assert f"1.0 GB free at {storage}, less than the {human_bytes(need)}" in record.getMessage()
    assert not storage.exists()
    caplog.clear()
    monkeypatch.setattr(preflight.shutil, "disk_usage", lambda path: DiskUsage(10**13, 0, need))
    with caplog.at_level(logging.WARNING, logger="sweeper.launch.launch"):
        _warn_of_storage_space(plan, options, size)
    assert caplog.records == []
